//! What every handler shares: the settings and the outgoing registry stack.

use std::sync::Arc;

use pyoci_basic_auth::Credentials;
use pyoci_budget::Budgets;
use pyoci_oci::{OciClient, OciError, Registry};

use crate::{
    cache::Caches,
    config::Config,
    description::Descriptions,
    listing_document::Trust,
    profile::{LearnedRegistries, Profile},
    route::Target,
    store::RegistryService,
    write_locks::WriteLocks,
};

/// The most version indexes one listing reads at once.
const MAX_LISTING_CONCURRENCY: usize = 128;

/// Shared state of the handlers.
pub struct App {
    pub config: Config,
    registry: RegistryService,
    /// The registry request budgets the outgoing stack enforces, for permits taken ahead.
    pub budgets: Budgets,
    /// Turns for writers of the same version index in this process.
    pub write_locks: WriteLocks,
    /// What listings remember: documents, tags, pages (PYOCI_CACHE_TTL, PYOCI_CACHE_BYTES).
    pub caches: Arc<Caches>,
    /// Descriptions rendered for the pages for people, once each, off the async workers.
    pub descriptions: Descriptions,
    /// What this process knows of listing documents (PYOCI_LISTING_DOCUMENT).
    pub listing_trust: Arc<Trust>,
    /// Registries found to refuse PyOCI's media types.
    learned_conservative: LearnedRegistries,
    /// Registries found to refuse large request bodies (413).
    learned_chunked: LearnedRegistries,
}

impl App {
    /// `caches` are the ones `registry` tells of refusals ([`Caches::for_config`]).
    pub fn new(
        config: Config,
        registry: RegistryService,
        budgets: Budgets,
        caches: Arc<Caches>,
    ) -> Self {
        let listing_trust = Arc::new(Trust::new(std::time::Duration::from_secs(
            config.listing_check_secs,
        )));
        App {
            descriptions: Descriptions::new(config.description_max_bytes),
            listing_trust,
            caches,
            config,
            registry,
            budgets,
            write_locks: WriteLocks::default(),
            learned_conservative: LearnedRegistries::default(),
            learned_chunked: LearnedRegistries::default(),
        }
    }

    /// How many version indexes one listing reads at once: enough that a hundred versions
    /// take one or two round trips, at most half the ordinary registry budget, so other
    /// clients' requests still get slots while a large project is listed.
    pub fn listing_concurrency(&self) -> usize {
        (self.config.max_registry_requests / 2).clamp(1, MAX_LISTING_CONCURRENCY)
    }

    /// How long a writer waits before confirming its index change held.
    pub fn write_settle(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.write_settle_ms)
    }

    /// What PyOCI may write to `registry`: the operator's choice, else what the registry
    /// was seen to accept.
    pub fn profile(&self, registry: &Registry) -> Profile {
        let listed = self
            .config
            .registry_profiles
            .listed(registry.host(), registry.authority());
        match listed {
            Some(profile) => profile,
            None if self.learned_conservative.contains(registry.authority()) => {
                Profile::Conservative
            }
            None => Profile::default(),
        }
    }

    /// Whether a refusal of a manifest written with `profile` means the registry does not
    /// take PyOCI's media types (GitLab, Quay: `400 MANIFEST_INVALID`); if so, remembers to
    /// write conservatively to `registry` and says so in the log. The caller retries once.
    pub fn fall_back_to_conservative(
        &self,
        registry: &Registry,
        profile: Profile,
        refusal: &OciError,
    ) -> bool {
        let refused_types = profile == Profile::Pyoci
            && refusal.code() == Some("MANIFEST_INVALID")
            && self
                .config
                .registry_profiles
                .listed(registry.host(), registry.authority())
                .is_none();
        if refused_types && self.learned_conservative.learn(registry.authority()) {
            tracing::warn!(
                registry = %registry.authority(),
                error = %refusal,
                "the registry refused PyOCI's media types: writing to it with the conservative \
                 profile from now on (set PYOCI_REGISTRY_PROFILES to make this permanent)"
            );
        }
        refused_types
    }

    /// The chunk size to upload to `registry` with, when it needs chunks: listed in
    /// `PYOCI_CHUNKED_UPLOADS`, or seen to refuse a large body.
    pub fn upload_chunk_bytes(&self, registry: &Registry) -> Option<u64> {
        let listed = self.config.chunked_uploads.iter().any(|listed| {
            let listed = listed.trim();
            listed.eq_ignore_ascii_case(registry.authority())
                || listed.eq_ignore_ascii_case(registry.host())
        });
        (listed || self.learned_chunked.contains(registry.authority()))
            .then_some(self.config.upload_chunk_bytes.max(1))
    }

    /// Whether `refusal` of a streamed upload means the registry, or a proxy in front of it,
    /// limits request bodies (413); if so, remembers to upload to it in chunks and logs it.
    pub fn fall_back_to_chunks(&self, registry: &Registry, refusal: &OciError) -> bool {
        let too_large = matches!(
            refusal,
            OciError::Rejected { status, .. } if *status == http::StatusCode::PAYLOAD_TOO_LARGE
        );
        if too_large && self.learned_chunked.learn(registry.authority()) {
            tracing::warn!(
                registry = %registry.authority(),
                chunk_bytes = self.config.upload_chunk_bytes,
                "the registry refused an upload as too large (413): uploading to it in chunks \
                 from now on (set PYOCI_CHUNKED_UPLOADS to make this permanent)"
            );
        }
        too_large
    }

    /// An OCI client for one request: the target registry, as the caller.
    pub fn oci(&self, target: &Target, credentials: Credentials) -> OciClient<RegistryService> {
        OciClient::new(self.registry.clone(), target.registry.clone(), credentials)
    }
}
