//! Settings, from flags or the environment variables the original PyOCI reads.

use std::net::IpAddr;

use clap::{builder::BoolishValueParser, ArgAction, Parser};
use pyoci_oci::Registry;

use crate::{profile::RegistryProfiles, registry_list::RegistryList};

/// PyOCI's settings. Every flag can also be given as the environment variable shown in
/// `pyoci --help`; the names are those of the original PyOCI so deployments carry over.
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
pub struct Config {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, env = "PYOCI_HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,

    /// URL path prefix PyOCI is served under, e.g. `/pyoci` behind a reverse proxy.
    #[arg(long = "path", env = "PYOCI_PATH", default_value = "")]
    pub path_prefix: String,

    /// Largest request body accepted, in bytes (an upload's whole multipart body).
    #[arg(long, env = "PYOCI_MAX_BODY", default_value_t = 2 * 1024 * 1024 * 1024)]
    pub max_body: usize,

    /// How many versions a project page lists, the newest by PEP 440; 0 lists all.
    #[arg(long, env = "PYOCI_MAX_VERSIONS", default_value_t = 100)]
    pub max_versions: usize,

    /// A username whose password is a registry token, sent to the registry as
    /// `Authorization: Bearer` without a token exchange.
    #[arg(long, env = "PYOCI_BEARER_USERNAME")]
    pub bearer_username: Option<String>,

    /// Registries this PyOCI serves, comma-separated `host[:port]`, each optionally with
    /// `https://` (the default) or `http://`; others get 403. With exactly one, URLs may
    /// leave out the registry segment. Listed hosts may be private addresses, and their
    /// token services get the user's credentials.
    #[arg(long, env = "PYOCI_REGISTRIES", value_name = "REGISTRIES")]
    pub registries: Option<RegistryList>,

    /// Allow registries (and token services, redirects) on loopback, private, link-local and
    /// other non-public addresses; `true`/`false`/`1`/`0`.
    #[arg(
        long,
        env = "PYOCI_ALLOW_PRIVATE_REGISTRIES",
        value_name = "BOOL",
        default_value = "false",
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new(),
    )]
    pub allow_private_registries: bool,

    /// Media-type profiles per registry, comma-separated `host=profile`: `pyoci` (the
    /// default) or `conservative` for registries that refuse custom media types (GitLab,
    /// Quay); see docs/oci-layout.md.
    #[arg(
        long,
        env = "PYOCI_REGISTRY_PROFILES",
        value_name = "HOST=PROFILE,...",
        default_value = ""
    )]
    pub registry_profiles: RegistryProfiles,

    /// After changing a version's index, how long to wait before checking that no other
    /// PyOCI replica's concurrent write undid the change, in milliseconds (see
    /// docs/concurrency.md).
    #[arg(long, env = "PYOCI_WRITE_SETTLE_MS", default_value_t = 500)]
    pub write_settle_ms: u64,

    /// Seconds a client may take to send a request's headers; also how long an idle
    /// keep-alive connection is kept.
    #[arg(long, env = "PYOCI_HEADER_TIMEOUT_SECS", default_value_t = 30)]
    pub header_timeout_secs: u64,

    /// Seconds to wait for the registry to start answering a request before giving up with
    /// 504 Gateway Timeout (reads are retried first). Streamed uploads have no such limit:
    /// they last as long as the uploading client takes.
    #[arg(long, env = "PYOCI_REGISTRY_TIMEOUT", default_value_t = 60)]
    pub registry_timeout_secs: u64,

    /// At most this many requests to registries at once, over all clients; more wait their
    /// turn. A streamed upload holds one for its whole length.
    #[arg(long, env = "PYOCI_MAX_REGISTRY_REQUESTS", default_value_t = 256)]
    pub max_registry_requests: usize,

    // --- Operations: metrics, logs (issue 11) ---
    /// Port of a listener of its own serving Prometheus metrics at `/metrics` (nothing
    /// else), so that metrics never share the index's URL space; unset: no metrics.
    #[arg(long, env = "PYOCI_METRICS_PORT")]
    pub metrics_port: Option<u16>,

    /// Address of the metrics listener; default: the address of PYOCI_HOST.
    #[arg(long, env = "PYOCI_METRICS_HOST")]
    pub metrics_host: Option<IpAddr>,

    /// Log format: `text` (for people) or `json` (one JSON object per line).
    #[arg(long, env = "PYOCI_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// PEM certificate chain for HTTPS (with PYOCI_TLS_KEY); HTTP/2 is offered by ALPN.
    /// Reloaded when the file changes.
    #[arg(long, env = "PYOCI_TLS_CERT", value_name = "PATH")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// PEM private key of PYOCI_TLS_CERT. Reloaded when the file changes.
    #[arg(long, env = "PYOCI_TLS_KEY", value_name = "PATH")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// How log lines are written (`PYOCI_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Config {
    /// The path prefix without its trailing slash, `""` when PyOCI is served at the root.
    pub fn prefix(&self) -> &str {
        self.path_prefix.trim_end_matches('/')
    }

    /// The `PYOCI_REGISTRIES` allow-list, `None` when unset or empty (any registry).
    pub fn registry_allow_list(&self) -> Option<&RegistryList> {
        self.registries.as_ref().filter(|list| !list.is_empty())
    }

    /// The one registry URLs may leave out, when exactly one is allowed.
    pub fn fixed_registry(&self) -> Option<&Registry> {
        self.registry_allow_list().and_then(RegistryList::fixed)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["pyoci"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("pyoci").chain(args.iter().copied()))
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
