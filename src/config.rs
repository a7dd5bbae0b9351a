//! PyOCI's settings: [`Config`], built in code by a library user, or by the `pyoci` binary
//! from its flags and environment ([`Cli`](crate::cli::Cli)).
//!
//! # Adding a setting
//!
//! 1. A field in [`Config`] below, with its doc comment (which is also its `--help` text)
//!    and its `#[arg(long, env = "PYOCI_...", default_value...)]` for the binary;
//! 2. its default in `impl Default for Config` below, the same as the `#[arg]` default
//!    (`cli::tests::flags_default_to_config_default` fails when they differ).
//!
//! Nothing else: the binary's `Cli` flattens `Config`, and `Config::default()` never reads
//! the environment or the command line.

use std::{net::IpAddr, time::Duration};

use clap::{builder::BoolishValueParser, ArgAction, Args};
use pyoci_oci::Registry;

use crate::{
    credential_realms::CredentialRealms, profile::RegistryProfiles, registry_list::RegistryList,
};

/// PyOCI's settings. A library user starts from [`Config::default()`] (which reads no
/// environment) and sets fields:
///
/// ```
/// let mut config = pyoci::Config::default();
/// config.max_versions = 20;
/// config.registries = Some("ghcr.io".parse().unwrap());
/// let service = pyoci::pyoci_service::<String>(config).unwrap();
/// # drop(service);
/// ```
///
/// The `pyoci` binary fills the same fields from flags or the environment variables shown
/// in `pyoci --help`; the names are those of the original PyOCI so deployments carry over.
#[derive(Clone, Debug, Args)]
#[non_exhaustive]
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
    #[arg(long, env = "PYOCI_MAX_BODY", default_value = "2GiB", value_parser = parse_size::<usize>)]
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
    /// leave out the registry segment. Listed origins (scheme, host and port) may be on
    /// private addresses.
    #[arg(long, env = "PYOCI_REGISTRIES", value_name = "REGISTRIES")]
    pub registries: Option<RegistryList>,

    /// Which token services get the user's credentials: `any` (the default: the one the
    /// registry names, never from an https registry to an http one, never on a private
    /// address that is not allowed), `same-host` (only one on the registry's own host), or
    /// comma-separated hosts (the registry's own host and these, e.g. `auth.docker.io`);
    /// others are asked for an anonymous token.
    #[arg(
        long,
        env = "PYOCI_CREDENTIAL_REALMS",
        value_name = "any|same-host|HOSTS",
        default_value = "any"
    )]
    pub credential_realms: CredentialRealms,

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

    /// Registries to upload to in chunks (`PATCH` with `Content-Range`, each chunk held in
    /// memory), comma-separated `host[:port]`: for registries behind a proxy or CDN that
    /// limits request bodies (Cloudflare: 100 MB). A registry that answers an upload with
    /// 413 gets chunks from then on without being listed.
    #[arg(
        long,
        env = "PYOCI_CHUNKED_UPLOADS",
        value_name = "HOST,...",
        value_delimiter = ','
    )]
    pub chunked_uploads: Vec<String>,

    /// When the registry answers a download with a redirect to storage on another origin
    /// (ghcr.io, ACR and ECR do, with a short-lived signed URL), pass the redirect to the
    /// client instead of fetching the bytes through PyOCI. The client checks the file's
    /// sha256 from the page; it must be able to reach the storage host.
    #[arg(
        long,
        env = "PYOCI_REDIRECT_DOWNLOADS",
        value_name = "BOOL",
        default_value = "false",
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new(),
    )]
    pub redirect_downloads: bool,

    /// Size of an upload chunk in bytes, for chunked uploads; a registry's
    /// `OCI-Chunk-Min-Bytes` raises it.
    #[arg(long, env = "PYOCI_UPLOAD_CHUNK_BYTES", default_value = "50MiB", value_parser = parse_size::<u64>)]
    pub upload_chunk_bytes: u64,

    /// After changing a version's index, how long to wait before checking that no other
    /// PyOCI replica's concurrent write undid the change, in milliseconds (see
    /// docs/concurrency.md). 0 turns the check off: only for a single replica, whose
    /// writers already take turns.
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

    /// At most this many requests to registries at once, over all clients, not counting
    /// streamed uploads; more wait their turn. Index writes have a budget of the same size
    /// of their own, so they never queue behind reads.
    #[arg(long, env = "PYOCI_MAX_REGISTRY_REQUESTS", default_value_t = 256)]
    pub max_registry_requests: usize,

    /// At most this many streamed uploads (file bodies on their way from a client to a
    /// registry) at once, over all clients; more wait their turn. An upload holds its slot
    /// for as long as its client takes to send the file.
    #[arg(long, env = "PYOCI_MAX_UPLOADS", default_value_t = 64)]
    pub max_uploads: usize,

    /// At most this many of the `PYOCI_MAX_UPLOADS` slots held by one client (one set of
    /// credentials; all anonymous clients count as one), so no one can take them all.
    #[arg(long, env = "PYOCI_MAX_UPLOADS_PER_CLIENT", default_value_t = 16)]
    pub max_uploads_per_client: usize,

    /// Seconds a client may send nothing in the middle of a request body (an upload) before
    /// the request is cancelled with 408 Request Timeout, so a stalled upload does not hold
    /// its registry upload open.
    #[arg(
        long,
        env = "PYOCI_BODY_IDLE_TIMEOUT_SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub body_idle_timeout_secs: u64,

    /// Seconds a registry may send nothing in the middle of an answer's body (a download, an
    /// index) before the read fails; defaults to PYOCI_REGISTRY_TIMEOUT.
    #[arg(
        long,
        env = "PYOCI_REGISTRY_IDLE_TIMEOUT_SECS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub registry_idle_timeout_secs: Option<u64>,

    /// A PEM file of CA certificates trusted for registries and token services over https,
    /// besides the built-in public roots: a private registry's own CA.
    #[arg(long, env = "PYOCI_REGISTRY_CA_FILE", value_name = "PEM")]
    pub registry_ca_file: Option<std::path::PathBuf>,

    /// Seconds a listing's view of a tag, and a rendered project page per caller, are
    /// reused (see docs/architecture.md); writes through this process take effect at once,
    /// other replicas' within this time. 0 turns every cache off.
    #[arg(long, env = "PYOCI_CACHE_TTL", default_value_t = 5)]
    pub cache_ttl_secs: u64,

    /// Bytes of memory the listing caches may hold (documents, tags, pages), least
    /// recently used out first.
    #[arg(long, env = "PYOCI_CACHE_BYTES", default_value = "64MiB", value_parser = parse_size::<usize>)]
    pub cache_bytes: usize,

    /// Keep a listing document per project (tag `pyoci-listing`, see
    /// docs/listing-document.md): writes through PyOCI update it, and a cold listing reads
    /// it instead of one manifest per version (3 registry requests, whatever the number of
    /// versions).
    #[arg(
        long,
        env = "PYOCI_LISTING_DOCUMENT",
        value_name = "BOOL",
        default_value = "false",
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new(),
    )]
    pub listing_document: bool,

    /// Seconds between background checks of a project's listing document against its
    /// version tags, per caller (the first listing from a document checks it at once), so
    /// changes by writers that do not keep the document show within this time.
    #[arg(long, env = "PYOCI_LISTING_CHECK_SECS", default_value_t = 60)]
    pub listing_check_secs: u64,

    // --- Hostile input: what a request may make PyOCI hold or do (docs/limits.md) ---
    /// Largest text fields of one upload form together, in bytes (the fields twine sends
    /// before and after the file: metadata, the description); more is refused with 413.
    #[arg(long, env = "PYOCI_MAX_FORM_BYTES", default_value = "2MiB", value_parser = parse_size::<usize>)]
    pub max_form_bytes: usize,

    /// Bytes of upload form fields held at once across all requests; an upload that would
    /// go beyond it is refused with 503 (retry later) instead of growing memory.
    #[arg(long, env = "PYOCI_FORM_MEMORY", default_value = "64MiB", value_parser = parse_size::<usize>)]
    pub form_memory_bytes: usize,

    /// Largest Markdown description rendered on a project's page for people, in bytes;
    /// longer ones are shown as plain text.
    #[arg(long, env = "PYOCI_DESCRIPTION_MAX_BYTES", default_value = "256KiB", value_parser = parse_size::<usize>)]
    pub description_max_bytes: usize,

    /// The public fallback (`PYOCI_FALLBACK_INDEX`, `PYOCI_PRIVATE_NAMES`, ...).
    #[command(flatten)]
    pub fallback: crate::fallback::FallbackSettings,

    /// The pull-through mirror (`PYOCI_MIRROR_INDEX`, `PYOCI_MIRROR_NAMESPACE`, ...).
    #[command(flatten)]
    pub mirror: crate::fallback::MirrorSettings,

    /// Registry change notifications (`PYOCI_EVENTS_PORT`, `PYOCI_EVENT_REGISTRIES`, ...).
    #[command(flatten)]
    pub events: crate::events::EventSettings,

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

    /// How long a registry answer's body may pause between chunks.
    pub fn registry_idle_timeout(&self) -> Duration {
        Duration::from_secs(
            self.registry_idle_timeout_secs
                .unwrap_or(self.registry_timeout_secs)
                .max(1),
        )
    }

    /// The one registry URLs may leave out, when exactly one is allowed.
    pub fn fixed_registry(&self) -> Option<&Registry> {
        self.registry_allow_list().and_then(RegistryList::fixed)
    }
}

/// A size setting: plain bytes (`1048576`) or with a unit, binary (`64KiB`, `2 GiB`) or
/// decimal (`500MB`), as `bytesize` reads them.
fn parse_size<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let bytes = text
        .trim()
        .parse::<bytesize::ByteSize>()
        .map_err(|_| {
            format!("`{text}` is not a size: give bytes (`1048576`) or a number with a unit (`64KiB`, `2GiB`, `500MB`)")
        })?
        .as_u64();
    T::try_from(bytes).map_err(|_| format!("`{text}` is larger than this machine can address"))
}

/// The defaults, as documented in the README; the same as the flags' defaults.
impl Default for Config {
    fn default() -> Self {
        Config {
            port: 8080,
            host: IpAddr::from([0, 0, 0, 0]),
            path_prefix: String::new(),
            max_body: 2 * 1024 * 1024 * 1024,
            max_versions: 100,
            bearer_username: None,
            registries: None,
            credential_realms: CredentialRealms::Any,
            allow_private_registries: false,
            registry_profiles: RegistryProfiles::default(),
            chunked_uploads: Vec::new(),
            redirect_downloads: false,
            upload_chunk_bytes: 50 * 1024 * 1024,
            write_settle_ms: 500,
            header_timeout_secs: 30,
            registry_timeout_secs: 60,
            max_registry_requests: 256,
            max_uploads: 64,
            max_uploads_per_client: 16,
            body_idle_timeout_secs: 60,
            registry_idle_timeout_secs: None,
            registry_ca_file: None,
            cache_ttl_secs: 5,
            cache_bytes: 64 * 1024 * 1024,
            listing_document: false,
            listing_check_secs: 60,
            max_form_bytes: 2 * 1024 * 1024,
            form_memory_bytes: 64 * 1024 * 1024,
            description_max_bytes: 256 * 1024,
            fallback: crate::fallback::FallbackSettings::default(),
            events: crate::events::EventSettings::default(),
            mirror: crate::fallback::MirrorSettings::default(),
            metrics_port: None,
            metrics_host: None,
            log_format: LogFormat::Text,
            tls_cert: None,
            tls_key: None,
        }
    }
}
