use std::sync::Arc;

use tower::Layer;

use crate::cache::TokenCache;
use crate::{RealmPolicy, TokenExchange};

/// Applies [`TokenExchange`] to the outgoing HTTP client service.
///
/// Every service made from this layer, and every clone of it, shares one token cache.
/// See the [crate docs](crate) for an example.
#[derive(Debug, Clone, Default)]
pub struct TokenExchangeLayer {
    cache: Arc<TokenCache>,
    realms: RealmPolicy,
}

impl TokenExchangeLayer {
    /// A layer with an empty token cache (at most 10 000 tokens) that sends credentials to the
    /// token service the registry names ([`RealmPolicy::any_realm`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Which token services get the user's credentials; the others are asked anonymously.
    pub fn credential_realms(mut self, realms: RealmPolicy) -> Self {
        self.realms = realms;
        self
    }
}

impl<S> Layer<S> for TokenExchangeLayer {
    type Service = TokenExchange<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenExchange::with_cache(inner, self.cache.clone(), self.realms.clone())
    }
}
