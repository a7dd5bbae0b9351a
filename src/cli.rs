//! The `pyoci` binary's command line: every [`Config`] field as a flag or the environment
//! variable the original PyOCI reads. Library users build a [`Config`] in code instead.

use clap::Parser;

use crate::config::Config;

/// `pyoci [FLAGS]`: the settings from flags, else from the environment, else the defaults.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "pyoci",
    version,
    about = "Serve any OCI registry as a private Python package index",
    long_about = "Serve any OCI registry as a private Python package index.\n\n\
        Index URL: http://USER:TOKEN@HOST:PORT/<registry>/<namespace>/\n\
        where <registry> is a host (spoken to over https) or a percent-encoded \
        http%3A%2F%2Fhost%3Aport for a plain-http registry."
)]
pub struct Cli {
    /// The settings; their flags are declared on [`Config`]'s fields.
    #[command(flatten)]
    pub config: Config,
}

impl From<Cli> for Config {
    fn from(cli: Cli) -> Config {
        cli.config
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Cli::try_parse_from(std::iter::once("pyoci").chain(args.iter().copied()))
            .map(|cli| cli.config)
    }

    /// Every flag's default is `Config::default()`'s (the environment of a test run sets
    /// no `PYOCI_*` variable).
    #[test]
    fn flags_default_to_config_default() {
        assert_eq!(
            format!("{:?}", parse(&[]).unwrap()),
            format!("{:?}", Config::default())
        );
    }

    #[test]
    fn allow_private_registries_is_a_bool() {
        assert!(!Config::default().allow_private_registries);
        assert!(
            parse(&["--allow-private-registries"])
                .unwrap()
                .allow_private_registries
        );
        for (value, expected) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            let config = parse(&["--allow-private-registries", value]).unwrap();
            assert_eq!(config.allow_private_registries, expected, "{value}");
        }
        assert!(parse(&["--allow-private-registries", "maybe"]).is_err());
    }

    #[test]
    fn upload_budgets_have_defaults_and_flags() {
        let defaults = Config::default();
        assert_eq!(
            (
                defaults.max_registry_requests,
                defaults.max_uploads,
                defaults.max_uploads_per_client
            ),
            (256, 64, 16)
        );
        let set = parse(&["--max-uploads", "8", "--max-uploads-per-client", "2"]).unwrap();
        assert_eq!((set.max_uploads, set.max_uploads_per_client), (8, 2));
    }

    #[test]
    fn idle_timeouts_default_and_refuse_zero() {
        let config = Config::default();
        assert_eq!(config.body_idle_timeout_secs, 60);
        assert_eq!(config.registry_idle_timeout(), Duration::from_secs(60));
        let config = parse(&["--registry-timeout-secs", "20"]).unwrap();
        assert_eq!(config.registry_idle_timeout(), Duration::from_secs(20));
        let config = parse(&["--registry-idle-timeout-secs", "5"]).unwrap();
        assert_eq!(config.registry_idle_timeout(), Duration::from_secs(5));
        assert!(parse(&["--body-idle-timeout-secs", "0"]).is_err());
        assert!(parse(&["--registry-idle-timeout-secs", "0"]).is_err());
    }

    #[test]
    fn registries_list_and_fixed_registry() {
        assert!(Config::default().registry_allow_list().is_none());
        assert!(parse(&["--registries", ""])
            .unwrap()
            .registry_allow_list()
            .is_none());
        let one = parse(&["--registries", "http://127.0.0.1:5000"]).unwrap();
        assert_eq!(
            one.fixed_registry().map(ToString::to_string).as_deref(),
            Some("http://127.0.0.1:5000")
        );
        let two = parse(&["--registries", "ghcr.io,http://127.0.0.1:5000"]).unwrap();
        assert_eq!(
            two.registry_allow_list().map(|list| list.iter().count()),
            Some(2)
        );
        assert!(two.fixed_registry().is_none());
        let error = parse(&["--registries", "ghcr.io/acme"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("PYOCI_REGISTRIES"), "{error}");
    }
}
