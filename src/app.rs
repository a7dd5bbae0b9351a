//! What every handler shares: the settings and the outgoing registry stack.

use pyoci_basic_auth::Credentials;
use pyoci_oci::{HttpClient, OciClient};
use pyoci_token_exchange::TokenExchange;

use crate::{config::Config, route::Target};

/// The outgoing side, top to bottom: token exchange answers the registry's auth
/// challenges, over a pooled HTTP client.
pub type RegistryService = TokenExchange<HttpClient>;

/// Shared state of the handlers.
pub struct App {
    pub config: Config,
    registry: RegistryService,
}

impl App {
    pub fn new(config: Config, registry: RegistryService) -> Self {
        App { config, registry }
    }

    /// An OCI client for one request: the target registry, as the caller.
    pub fn oci(&self, target: &Target, credentials: Credentials) -> OciClient<RegistryService> {
        OciClient::new(self.registry.clone(), target.registry.clone(), credentials)
    }
}
