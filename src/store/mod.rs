//! The repository-level model beneath the handlers: what a project's repository holds and
//! how it changes, read through the listing caches and written safely against concurrent
//! writers. Handlers parse, authorize, call in here and render; they never speak to the
//! registry about a project's versions themselves.
//!
//! - [`Store`]: what every request shares (the outgoing registry stack, the caches, the
//!   write turns, what was learned of each registry); built once.
//! - [`Repository`]: one caller's handle on one project's repository, for one request.
//! - `reads`: versions and their indexes, through the caches; `resolve`: where a file's
//!   bytes are; `stored`: what an index entry says about a file.
//! - `write_window`: changing a version's index without losing concurrent changes;
//!   `upload`: sending an uploaded file's bytes; `publish`: making it visible; `delete`:
//!   files and versions; `listing_document`: the per-project copy of every version's
//!   index, read by listings and kept by writers.
//! - `registry_rules`: how each registry must be written to (media types, chunked uploads).

mod delete;
mod listing_document;
mod publish;
mod reads;
mod registry_rules;
mod repository;
mod resolve;
mod stored;
#[cfg(test)]
pub(crate) mod tests;
mod upload;
mod write_window;

use std::{sync::Arc, time::Duration};

use http::{Request, Response};
use pyoci_basic_auth::Credentials;
use pyoci_budget::Budgets;
use pyoci_oci::OciClient;
use tower::{util::BoxCloneSyncService, BoxError};

pub use publish::NewFile;
pub use repository::Repository;
pub use resolve::Resolver;
pub use stored::{Release, StoredFile};
pub use write_window::{EditOutcome, IndexEdit};

use self::{listing_document::Trust, registry_rules::RegistryRules};
use crate::{cache::Caches, config::Config, package::ProjectName, route::Target, turns::Turns};

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
    registry: RegistryService,
    /// What listings remember: documents, tags, pages (PYOCI_CACHE_TTL, PYOCI_CACHE_BYTES).
    caches: Arc<Caches>,
    /// The registry request budgets the outgoing stack enforces, for permits taken ahead.
    budgets: Budgets,
    /// Turns for writers of the same version index in this process.
    index_writers: Turns<String>,
    /// What this process knows of listing documents (PYOCI_LISTING_DOCUMENT).
    listing_trust: Arc<Trust>,
    rules: RegistryRules,
    listing_document: bool,
    /// PYOCI_MAX_VERSIONS: the newest versions a listing shows (0 = all).
    max_versions: usize,
    /// How long a writer waits before confirming its index change held.
    write_settle: Duration,
    /// How many version indexes one listing reads at once.
    listing_concurrency: usize,
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

    /// The repository of project `name` under `target`, as the caller sees it.
    pub fn repository(
        self: &Arc<Self>,
        target: &Target,
        name: ProjectName,
        credentials: Credentials,
    ) -> Repository {
        Repository::new(
            Arc::clone(self),
            self.oci(target, credentials),
            target,
            name,
        )
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
