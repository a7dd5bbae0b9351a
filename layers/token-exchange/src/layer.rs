use std::sync::Arc;

use tower::Layer;

use crate::cache::TokenCache;
use crate::TokenExchange;

/// Applies [`TokenExchange`] to the outgoing HTTP client service.
///
/// Every service made from this layer, and every clone of it, shares one token cache.
/// See the [crate docs](crate) for an example.
#[derive(Debug, Clone, Default)]
pub struct TokenExchangeLayer {
    cache: Arc<TokenCache>,
}

impl TokenExchangeLayer {
    /// A layer with an empty token cache (at most 10 000 tokens).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for TokenExchangeLayer {
    type Service = TokenExchange<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenExchange::new(inner, self.cache.clone())
    }
}
