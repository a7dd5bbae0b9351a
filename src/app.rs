//! What every handler shares: the settings and the outgoing registry stack.

use pyoci_basic_auth::Credentials;
use pyoci_metrics::RegistryMetrics;
use pyoci_oci::{HttpClient, OciClient, Registry};
use pyoci_retry::Retry;
use pyoci_token_exchange::TokenExchange;
use tower::limit::ConcurrencyLimit;

use crate::{config::Config, handlers::WriteLocks, route::Target};

/// The outgoing side, top to bottom: token exchange answers the registry's auth
/// challenges, reads are retried after transient faults, a bounded number of requests is in
/// flight, counted in metrics, over a pooled HTTP client.
pub type RegistryService = TokenExchange<Retry<ConcurrencyLimit<RegistryMetrics<HttpClient>>>>;

/// Shared state of the handlers.
pub struct App {
    pub config: Config,
    registry: RegistryService,
    /// Turns for writers of the same version index in this process.
    pub write_locks: WriteLocks,
}

impl App {
    pub fn new(config: Config, registry: RegistryService) -> Self {
        App {
            config,
            registry,
            write_locks: WriteLocks::default(),
        }
    }

    /// How long a writer waits before confirming its index change held.
    pub fn write_settle(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.write_settle_ms)
    }

    /// What PyOCI may write to `registry`.
    pub fn profile(&self, registry: &Registry) -> crate::profile::Profile {
        self.config
            .registry_profiles
            .for_registry(registry.host(), registry.authority())
    }

    /// An OCI client for one request: the target registry, as the caller.
    pub fn oci(&self, target: &Target, credentials: Credentials) -> OciClient<RegistryService> {
        OciClient::new(self.registry.clone(), target.registry.clone(), credentials)
    }
}
