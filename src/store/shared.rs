//! What every request's store operations share, built once: the outgoing registry
//! service, the caches, the budgets, the write turns, the listing trust and the registry
//! rules, with the settings that shape them.

use std::{sync::Arc, time::Duration};

use http::{Request, Response};
use pyoci_basic_auth::Credentials;
use pyoci_budget::Budgets;
use pyoci_oci::OciClient;
use tower::{util::BoxCloneSyncService, BoxError};

use super::{listing_trust::Trust, registry_rules::RegistryRules};
use crate::{cache::Caches, config::Config, route::Target, turns::Turns};

/// The outgoing registry stack `stack.rs` assembles, boxed once: nothing above it names its
/// layers, and tests put a stub registry in its place.
pub type RegistryService =
    BoxCloneSyncService<Request<reqwest::Body>, Response<reqwest::Body>, BoxError>;

/// A registry client for one request, as one caller.
pub type Oci = OciClient<RegistryService>;

/// The most version indexes one listing reads at once.
const MAX_LISTING_CONCURRENCY: usize = 128;

/// What every request's store operations share.
pub struct Store {
    pub(super) registry: RegistryService,
    /// What listings remember: documents, tags, pages (PYOCI_CACHE_TTL, PYOCI_CACHE_BYTES).
    pub(super) caches: Arc<Caches>,
    /// The registry request budgets the outgoing stack enforces, for permits taken ahead.
    pub(super) budgets: Budgets,
    /// Turns for writers of the same version index in this process.
    pub(super) index_writers: Turns<String>,
    /// What this process knows of listing documents (PYOCI_LISTING_DOCUMENT).
    pub(super) listing_trust: Arc<Trust>,
    pub(super) rules: RegistryRules,
    pub(super) listing_document: bool,
    /// PYOCI_MAX_VERSIONS: the newest versions a listing shows (0 = all).
    pub(super) max_versions: usize,
    /// How long a writer waits before confirming its index change held.
    pub(super) write_settle: Duration,
    /// How many version indexes one listing reads at once.
    pub(super) listing_concurrency: usize,
}

impl Store {
    /// `caches` are the ones `registry` tells of refusals ([`Caches::for_config`]), and
    /// `budgets` the ones it enforces.
    pub fn new(
        config: &Config,
        registry: RegistryService,
        budgets: Budgets,
        caches: Arc<Caches>,
    ) -> Store {
        Store {
            registry,
            caches,
            budgets,
            index_writers: Turns::default(),
            listing_trust: Arc::new(Trust::new(Duration::from_secs(config.listing_check_secs))),
            rules: RegistryRules::new(config),
            listing_document: config.listing_document,
            max_versions: config.max_versions,
            write_settle: Duration::from_millis(config.write_settle_ms),
            listing_concurrency: listing_concurrency(config),
        }
    }

    /// A registry client for one request: the target registry, as the caller.
    pub fn oci(&self, target: &Target, credentials: Credentials) -> Oci {
        OciClient::new(self.registry.clone(), target.registry.clone(), credentials)
    }

    /// The listing caches, for the page cache the handlers keep.
    pub fn caches(&self) -> &Caches {
        &self.caches
    }
}

/// How many version indexes one listing reads at once: enough that a hundred versions take
/// one or two round trips, at most half the ordinary registry budget, so other clients'
/// requests still get slots while a large project is listed.
fn listing_concurrency(config: &Config) -> usize {
    (config.max_registry_requests / 2).clamp(1, MAX_LISTING_CONCURRENCY)
}
