//! The whole proxy as one tower service, assembled here in the order a request meets it.

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, Response};
use pyoci_basic_auth::{Credentials, ExtractCredentialsLayer};
use pyoci_body_timeout::RequestBodyIdleTimeoutLayer;
use pyoci_budget::{BudgetLayer, Budgets};
use pyoci_index::RenderIndexLayer;
use pyoci_metrics::{Metrics, RegistryMetricsLayer, RequestMetricsLayer};
use pyoci_oci::{AddressPolicy, HttpClient};
use pyoci_retry::RetryReadsLayer;
use pyoci_token_exchange::{HeldTokens, RealmPolicy, TokenExchangeLayer};
use pyoci_upload::{FormMemory, ParseUploadLayer};
use tower::{util::BoxCloneSyncService, BoxError, ServiceBuilder};
use tower_http::{
    compression::{predicate::SizeAbove, CompressionLayer, Predicate},
    limit::RequestBodyLimitLayer,
    trace::TraceLayer,
    ServiceBuilderExt,
};

use crate::mirror::{
    public::{PublicIndexClient, PublicLimits},
    Mirror,
};
use crate::{
    app::App,
    body::Body,
    cache::{Caches, ForgetRefusedLayer, LookupObserver, Project, TokenWindow},
    config::Config,
    handlers::{Router, UploadHandler},
    route::route_with_fixed_registry,
    store::RegistryService,
};

/// The proxy as one service: requests with any body in, responses with PyOCI's body out.
pub type PyociService<B> = BoxCloneSyncService<Request<B>, Response<Body>, Infallible>;

/// Builds the proxy: a `Result` holding the service, ready to be served by hyper or mounted
/// in another tower app, or why `config` cannot be served (an unreadable CA file, …).
///
/// ```
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let service = pyoci::pyoci_service::<String>(pyoci::Config::default())?;
///     # drop(service);
///     Ok(())
/// }
/// ```
pub fn pyoci_service<B>(config: Config) -> Result<PyociService<B>, SetupError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    pyoci_service_with_metrics(config, Metrics::new())
}

/// [`pyoci_service`], counting requests (incoming and to registries) in `metrics`.
pub fn pyoci_service_with_metrics<B>(
    config: Config,
    metrics: Metrics,
) -> Result<PyociService<B>, SetupError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    build(config, metrics)
        .map(|(service, _)| service)
        .map_err(SetupError)
}

/// Why a [`Config`] cannot be served. An ordinary error type, so `?` takes it into
/// `Box<dyn Error>` as well as into `Box<dyn Error + Send + Sync>`.
#[derive(Debug)]
pub struct SetupError(BoxError);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The service, and the caches it fills (which registry events invalidate).
pub(crate) fn build<B>(
    config: Config,
    metrics: Metrics,
) -> Result<(PyociService<B>, Arc<Caches>), BoxError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // Outgoing, toward the registry, top to bottom: auth challenges answered (and tokens
    // cached), reads retried after transient faults with each attempt bounded by
    // PYOCI_REGISTRY_TIMEOUT, each request holding a slot of its budget (streamed uploads
    // have their own, with a per-client share, so they cannot starve reads and index
    // writes), over a pooled HTTP client that connects only where the address policy
    // allows (no open proxy).
    let (addresses, realms) = outgoing_policies(&config);
    // The public index and the file URLs its pages name go where registries may.
    let public_addresses = addresses.clone();
    let mirror_metrics = metrics.clone();
    let registry_timeout = Duration::from_secs(config.registry_timeout_secs);
    // Answers that stop moving midway fail after PYOCI_REGISTRY_IDLE_TIMEOUT_SECS; the pool
    // keeps few idle connections, so requests naming many hosts cannot pile up sockets.
    let http = HttpClient::with_address_policy(
        with_registry_ca(
            reqwest::Client::builder()
                .user_agent(concat!("pyoci/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(registry_timeout),
            &config,
        )?,
        addresses,
    )?
    .response_body_idle_timeout(config.registry_idle_timeout());
    let budgets = Budgets::new(
        config.max_registry_requests,
        config.max_uploads,
        config.max_uploads_per_client,
    );
    let token_metrics = metrics.clone();
    let cache_metrics = metrics.clone();
    // Metrics: listing cache hits and misses, by cache.
    let count_lookup: LookupObserver =
        Arc::new(move |cache, hit| cache_metrics.count_cache_lookup(cache, hit));
    let token_exchange = TokenExchangeLayer::new()
        .credential_realms(realms)
        .on_token_lookup(move |hit| token_metrics.count_token_lookup(hit));
    let caches = Arc::new(
        Caches::for_config(&config, Some(count_lookup))
            .with_token_window(token_window(token_exchange.held_tokens())),
    );
    // Boxed once: nothing above names these layers, and tests put a stub registry here.
    let registry: RegistryService = BoxCloneSyncService::new(
        ServiceBuilder::new()
            // A refusal of credentials, by any request, ends what the caches give them.
            .layer(ForgetRefusedLayer::new(caches.clone()))
            .layer(token_exchange)
            .layer(RetryReadsLayer::new().attempt_timeout(registry_timeout))
            .layer(BudgetLayer::new(budgets.clone()))
            // Metrics: every request on the wire (retries, token fetches) by kind and outcome.
            .layer(RegistryMetricsLayer::new(metrics.clone()))
            .service(http),
    );

    let max_body = config.max_body;
    let form_limits = (config.max_form_bytes, config.form_memory_bytes);
    let body_idle_timeout = Duration::from_secs(config.body_idle_timeout_secs);
    let request_metrics = request_metrics(&config, metrics);
    let mut credentials = ExtractCredentialsLayer::new();
    if let Some(username) = &config.bearer_username {
        credentials = credentials.bearer_username(username.clone());
    }
    let caches_for_events = caches.clone();
    let mirror = mirror(&config, public_addresses, mirror_metrics)?;
    let app = Arc::new(App::new(config, registry, budgets, caches).with_mirror(mirror));

    // The upload endpoint reads its multipart body as a stream, never whole.
    let upload = ServiceBuilder::new()
        .map_response_body(Body::new)
        // Text fields: PYOCI_MAX_FORM_BYTES per upload, PYOCI_FORM_MEMORY for all at once.
        .layer(
            ParseUploadLayer::new()
                .max_form_bytes(form_limits.0)
                .form_memory(FormMemory::new(form_limits.1)),
        )
        .service(UploadHandler::new(app.clone()));

    // Incoming, from the Python client, outermost first.
    let service = ServiceBuilder::new()
        // One response body type for whoever mounts the service.
        .map_response_body(Body::new)
        // Metrics and the access log: every request, counted until its response body ends.
        .layer(request_metrics)
        // Pages gzip-compressed for clients that accept it (see `compressed_pages`).
        .layer(compressed_pages())
        // A span per request: method and path, never headers (they carry credentials).
        .layer(TraceLayer::new_for_http())
        // PYOCI_BODY_IDLE_TIMEOUT_SECS: a body that stops moving fails, and its handler
        // answers 408 (an upload also cancels its registry upload).
        .layer(RequestBodyIdleTimeoutLayer::new(body_idle_timeout))
        // PYOCI_MAX_BODY: 413 up front when Content-Length says so, else when exceeded.
        .layer(RequestBodyLimitLayer::new(max_body))
        .map_request_body(Body::new)
        // Who is asking: `Authorization` -> `Credentials`, forwarded to the registry.
        .layer(credentials)
        // Handlers return typed pages; this renders them as HTML or JSON per `Accept`.
        .layer(RenderIndexLayer::new())
        .service(Router::new(app, BoxCloneSyncService::new(upload)));
    Ok((BoxCloneSyncService::new(service), caches_for_events))
}

/// The mirror `config` asks for (`PYOCI_MIRROR_INDEX`), reading the public index through a
/// client of its own that connects where `addresses` allows and never sends credentials.
fn mirror(
    config: &Config,
    addresses: AddressPolicy,
    metrics: Metrics,
) -> Result<Option<Mirror>, BoxError> {
    let settings = &config.mirror;
    let Some(index) = settings.mirror_index.clone() else {
        return Ok(None);
    };
    let http = HttpClient::with_address_policy(
        reqwest::Client::builder()
            .user_agent(concat!("pyoci/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(config.registry_timeout_secs)),
        addresses,
    )?;
    let public = PublicIndexClient::new(
        index,
        http,
        Duration::from_secs(settings.mirror_page_ttl_secs),
        // A public file is bounded like an upload (PYOCI_MAX_BODY).
        PublicLimits {
            max_file_bytes: config.max_body as u64,
            ..PublicLimits::default()
        },
    );
    Ok(Some(Mirror::new(settings, public, metrics)?))
}

/// How long the registry honours a caller's read of a project: as long as the token held
/// for them there, for its tag list (the request a listing makes with their credentials).
fn token_window(tokens: HeldTokens) -> TokenWindow {
    Arc::new(move |project: &Project, credentials: &Credentials| {
        let tag_list: http::Uri = format!(
            "{}/v2/{}/tags/list",
            project.registry(),
            project.repository()
        )
        .parse()
        .ok()?;
        tokens.read_token_until(&tag_list, credentials)
    })
}

/// Trusts the CAs of `PYOCI_REGISTRY_CA_FILE` too, when set. Registries offering HTTP/2
/// over TLS (ALPN `h2`) get it, so one connection carries a listing's many requests.
fn with_registry_ca(
    builder: reqwest::ClientBuilder,
    config: &Config,
) -> Result<reqwest::ClientBuilder, BoxError> {
    let Some(path) = &config.registry_ca_file else {
        return Ok(builder);
    };
    let pem = std::fs::read(path).map_err(|err| {
        format!(
            "PYOCI_REGISTRY_CA_FILE: cannot read {}: {err}",
            path.display()
        )
    })?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
        format!(
            "PYOCI_REGISTRY_CA_FILE: {} holds no PEM certificates: {err}",
            path.display()
        )
    })?;
    if certificates.is_empty() {
        return Err(format!(
            "PYOCI_REGISTRY_CA_FILE: {} holds no PEM certificates",
            path.display()
        )
        .into());
    }
    Ok(certificates
        .into_iter()
        .fold(builder, |builder, certificate| {
            builder.add_root_certificate(certificate)
        }))
}

/// gzip for index pages (HTML and JSON) when the client accepts it. Files are never
/// compressed again: wheels and sdists are archives already, and a `Range` must address
/// the stored bytes.
fn compressed_pages() -> CompressionLayer<impl Predicate> {
    let pages =
        |_: http::StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions| {
            headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|content_type| {
                    content_type.starts_with("text/html")
                        || content_type.starts_with("application/vnd.pypi.simple.")
                        || content_type.starts_with("application/json")
                })
        };
    CompressionLayer::new()
        .gzip(true)
        .compress_when(SizeAbove::default().and(pages))
}

/// Where outgoing requests may go, and which token services get the user's credentials.
/// Registries listed in `PYOCI_REGISTRIES` are trusted by origin (scheme, host and port):
/// their addresses may be private, other ports and schemes on the same host are not trusted
/// for that. Token services get credentials as `PYOCI_CREDENTIAL_REALMS` says.
fn outgoing_policies(config: &Config) -> (AddressPolicy, RealmPolicy) {
    let addresses = if config.allow_private_registries {
        AddressPolicy::allow_all()
    } else {
        AddressPolicy::public_only().trust_env_proxies()
    };
    let listed = config
        .registry_allow_list()
        .into_iter()
        .flat_map(|list| list.iter());
    let addresses = listed.fold(addresses, |addresses, registry| {
        addresses.trust_origin(registry.scheme(), registry.host(), Some(registry.port()))
    });
    (addresses, config.credential_realms.policy())
}

/// Counts incoming requests by route kind, and writes the access log.
fn request_metrics(config: &Config, metrics: Metrics) -> RequestMetricsLayer {
    let prefix = config.prefix().to_owned();
    let fixed = config.fixed_registry().cloned();
    RequestMetricsLayer::new(metrics)
        .access_log(true)
        .classify(move |method, path| {
            route_with_fixed_registry(method, path, &prefix, fixed.as_ref())
                .map_or("unmatched", |route| route.kind())
        })
}
