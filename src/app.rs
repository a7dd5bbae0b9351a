//! What every handler shares: the settings and the outgoing registry stack.

use pyoci_basic_auth::Credentials;
use pyoci_oci::{HttpClient, OciClient, OciError, Registry};
use pyoci_retry::Retry;
use pyoci_token_exchange::TokenExchange;
use tower::limit::ConcurrencyLimit;

use crate::{
    config::Config,
    handlers::WriteLocks,
    profile::{LearnedProfiles, Profile},
    route::Target,
};

/// The outgoing side, top to bottom: token exchange answers the registry's auth
/// challenges, reads are retried after transient faults, a bounded number of requests is in
/// flight, over a pooled HTTP client.
pub type RegistryService = TokenExchange<Retry<ConcurrencyLimit<HttpClient>>>;

/// Shared state of the handlers.
pub struct App {
    pub config: Config,
    registry: RegistryService,
    /// Turns for writers of the same version index in this process.
    pub write_locks: WriteLocks,
    /// Registries found to refuse PyOCI's media types.
    learned_profiles: LearnedProfiles,
}

impl App {
    pub fn new(config: Config, registry: RegistryService) -> Self {
        App {
            config,
            registry,
            write_locks: WriteLocks::default(),
            learned_profiles: LearnedProfiles::default(),
        }
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
            None if self.learned_profiles.is_conservative(registry.authority()) => {
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
        if refused_types
            && self
                .learned_profiles
                .learn_conservative(registry.authority())
        {
            tracing::warn!(
                registry = %registry.authority(),
                error = %refusal,
                "the registry refused PyOCI's media types: writing to it with the conservative \
                 profile from now on (set PYOCI_REGISTRY_PROFILES to make this permanent)"
            );
        }
        refused_types
    }

    /// An OCI client for one request: the target registry, as the caller.
    pub fn oci(&self, target: &Target, credentials: Credentials) -> OciClient<RegistryService> {
        OciClient::new(self.registry.clone(), target.registry.clone(), credentials)
    }
}
