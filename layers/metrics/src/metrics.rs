use std::sync::Arc;

use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Upper bounds of the latency buckets, in seconds: a cached page answers in milliseconds,
/// a big upload takes minutes.
const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub(crate) route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteStatusLabels {
    pub(crate) route: &'static str,
    /// The response status (a fixed set, see `labels::status_label`: a file's status is the
    /// registry's), or `aborted` when the client went away before the end.
    pub(crate) status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RegistryLabels {
    pub(crate) kind: &'static str,
    pub(crate) method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RegistryOutcomeLabels {
    pub(crate) kind: &'static str,
    pub(crate) method: &'static str,
    /// The response status (a fixed set, see `labels::status_label`), or `error` when no
    /// response came (connection, timeout).
    pub(crate) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLookupLabels {
    cache: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MirrorLabels {
    event: &'static str,
}

/// What the pull-through mirror did, for [`Metrics::count_mirror`]: a fixed set, so no
/// input can create label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MirrorEvent {
    /// A file was served from what the mirror keeps in the registry.
    Hit,
    /// A file was fetched from the public index and kept.
    Fetched,
    /// Fetching a file from the public index failed (refused, broken off, wrong hash).
    FetchFailed,
    /// A fetched file could not be kept (the registry refused the mirror's write); the
    /// client got it from the public index directly.
    StoreFailed,
    /// A file was held back by the cooldown.
    HeldBack,
    /// The public index failed while a page was built from what is kept: it may be incomplete.
    IndexDown,
}

impl MirrorEvent {
    fn label(self) -> &'static str {
        match self {
            MirrorEvent::Hit => "hit",
            MirrorEvent::Fetched => "fetched",
            MirrorEvent::FetchFailed => "fetch_failed",
            MirrorEvent::StoreFailed => "store_failed",
            MirrorEvent::HeldBack => "held_back",
            MirrorEvent::IndexDown => "index_down",
        }
    }
}

/// Every metric PyOCI exports, in one Prometheus registry. Cheap to clone: clones share the
/// counters.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    registry: Registry,
    pub(crate) requests: Family<RouteStatusLabels, Counter>,
    pub(crate) request_duration: HistogramFamily<RouteLabels>,
    pub(crate) requests_in_flight: Family<RouteLabels, Gauge>,
    pub(crate) request_bytes: Family<RouteLabels, Counter>,
    pub(crate) response_bytes: Family<RouteLabels, Counter>,
    pub(crate) registry_requests: Family<RegistryOutcomeLabels, Counter>,
    pub(crate) registry_duration: HistogramFamily<RegistryLabels>,
    token_cache: Family<LookupLabels, Counter>,
    listing_cache: Family<CacheLookupLabels, Counter>,
    mirror_events: Family<MirrorLabels, Counter>,
    mirror_bytes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pyoci");
        let requests = Family::<RouteStatusLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests from clients, by route kind and response status",
            requests.clone(),
        );
        let request_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to the end of its response body, by route kind",
            Unit::Seconds,
            request_duration.clone(),
        );
        let requests_in_flight = Family::<RouteLabels, Gauge>::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being answered now, by route kind (route=\"upload\": uploads in flight)",
            requests_in_flight.clone(),
        );
        let request_bytes = Family::<RouteLabels, Counter>::default();
        registry.register_with_unit(
            "http_request_body",
            "Request body bytes read from clients, by route kind",
            Unit::Bytes,
            request_bytes.clone(),
        );
        let response_bytes = Family::<RouteLabels, Counter>::default();
        registry.register_with_unit(
            "http_response_body",
            "Response body bytes sent to clients, by route kind",
            Unit::Bytes,
            response_bytes.clone(),
        );
        let registry_requests = Family::<RegistryOutcomeLabels, Counter>::default();
        registry.register(
            "registry_requests",
            "Requests sent to registries and their token services (each retry and token \
             exchange counts), by kind, method and outcome",
            registry_requests.clone(),
        );
        let registry_duration: HistogramFamily<RegistryLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "registry_request_duration",
            "Time until a registry's response head arrived, by kind and method",
            Unit::Seconds,
            registry_duration.clone(),
        );
        let token_cache = Family::<LookupLabels, Counter>::default();
        registry.register(
            "token_cache_lookups",
            "Registry tokens: hit = a cached token was sent, miss = a token had to be fetched \
             from the token service",
            token_cache.clone(),
        );
        let listing_cache = Family::<CacheLookupLabels, Counter>::default();
        registry.register(
            "listing_cache_lookups",
            "Listing caches (PYOCI_CACHE_TTL) by cache (page, tag, document): hit = answered \
             from memory, miss = read from the registry",
            listing_cache.clone(),
        );
        let mirror_events = Family::<MirrorLabels, Counter>::default();
        registry.register(
            "mirror_events",
            "The pull-through mirror (PYOCI_MIRROR_INDEX): files served from the registry \
             (hit), fetched and kept, failed fetches and stores, files held back by the \
             cooldown, pages built while the public index was down",
            mirror_events.clone(),
        );
        let mirror_bytes = Counter::default();
        registry.register_with_unit(
            "mirror_fetched",
            "Bytes of files fetched from the public index",
            Unit::Bytes,
            mirror_bytes.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                request_duration,
                requests_in_flight,
                request_bytes,
                response_bytes,
                registry_requests,
                registry_duration,
                token_cache,
                listing_cache,
                mirror_events,
                mirror_bytes,
            }),
        }
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4 compatible, as
    /// served with `Content-Type: text/plain; version=0.0.4`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = text::encode(&mut out, &self.inner.registry);
        out
    }

    /// Counts a token-cache lookup: `hit` when a cached token was sent, else a miss (a token
    /// was fetched). Feed it from the token-exchange layer.
    pub fn count_token_lookup(&self, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.inner
            .token_cache
            .get_or_create(&LookupLabels { outcome })
            .inc();
    }

    /// Counts a lookup in one of the listing caches (`page`, `tag` or `document`): `hit`
    /// when it was answered from memory. Feed it from the caches.
    pub fn count_cache_lookup(&self, cache: &'static str, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.inner
            .listing_cache
            .get_or_create(&CacheLookupLabels { cache, outcome })
            .inc();
    }

    /// Counts what the mirror did.
    pub fn count_mirror(&self, event: MirrorEvent) {
        self.inner
            .mirror_events
            .get_or_create(&MirrorLabels {
                event: event.label(),
            })
            .inc();
    }

    /// Counts bytes fetched from the public index.
    pub fn count_mirror_bytes(&self, bytes: u64) {
        self.inner.mirror_bytes.inc_by(bytes);
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}
