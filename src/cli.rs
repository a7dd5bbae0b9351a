//! The `pyoci` binary's command line: every [`Config`] field as a flag or the environment
//! variable the original PyOCI reads. Library users build a [`Config`] in code instead.

use clap::{Parser, Subcommand};

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

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `pyoci` can do besides serving.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Check that the PyOCI on this host answers (a container's HEALTHCHECK)
    ///
    /// Asks the PyOCI on this host (PORT, PYOCI_HOST; an unspecified address means loopback)
    /// for `GET /health` and exits 0 when it answers 200, 1 otherwise: for a container's
    /// HEALTHCHECK, where there is no shell or curl. With PYOCI_TLS_CERT set, it only
    /// checks that the port accepts connections.
    Healthcheck,
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

    /// Every size setting takes plain bytes or a unit, and says what it wants otherwise.
    #[test]
    fn sizes_take_units() {
        let set = parse(&[
            "--max-body",
            "2GiB",
            "--cache-bytes",
            "64 KiB",
            "--upload-chunk-bytes",
            "500MB",
            "--max-form-bytes",
            "1048576",
            "--form-memory-bytes",
            "1MiB",
            "--description-max-bytes",
            "16kib",
        ])
        .unwrap();
        assert_eq!(set.max_body, 2 << 30);
        assert_eq!(set.cache_bytes, 64 << 10);
        assert_eq!(set.upload_chunk_bytes, 500_000_000);
        assert_eq!(
            (set.max_form_bytes, set.form_memory_bytes),
            (1 << 20, 1 << 20)
        );
        assert_eq!(set.description_max_bytes, 16 << 10);
        let error = parse(&["--max-body", "2 gigs"]).unwrap_err().to_string();
        assert!(error.contains("is not a size: give bytes"), "{error}");
    }

    #[test]
    fn healthcheck_is_a_subcommand_with_its_own_help() {
        let cli = Cli::try_parse_from(["pyoci", "--port", "9000", "healthcheck"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Healthcheck)));
        assert_eq!(cli.config.port, 9000);
        assert!(Cli::try_parse_from(["pyoci"]).unwrap().command.is_none());
        let help = Cli::try_parse_from(["pyoci", "--help"])
            .unwrap_err()
            .to_string();
        assert!(help.contains("healthcheck"), "{help}");
        let own_help = Cli::try_parse_from(["pyoci", "healthcheck", "--help"]).unwrap_err();
        assert_eq!(own_help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(own_help.to_string().contains("GET /health"), "{own_help}");
    }
}
