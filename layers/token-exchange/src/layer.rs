use std::sync::Arc;

use tower::Layer;

use crate::cache::TokenCache;
use crate::{HeldTokens, RealmPolicy, TokenExchange};

/// Called with `true` when a cached token was sent, `false` when one had to be fetched.
pub(crate) type OnTokenLookup = Arc<dyn Fn(bool) + Send + Sync>;

/// An optional [`OnTokenLookup`] callback; `Debug` without showing it.
#[derive(Clone, Default)]
pub(crate) struct LookupObserver(pub(crate) Option<OnTokenLookup>);

impl LookupObserver {
    pub(crate) fn observe(&self, hit: bool) {
        if let Some(on_lookup) = &self.0 {
            on_lookup(hit);
        }
    }
}

impl std::fmt::Debug for LookupObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// Applies [`TokenExchange`] to the outgoing HTTP client service.
///
/// Every service made from this layer, and every clone of it, shares one token cache.
/// See the [crate docs](crate) for an example.
#[derive(Debug, Clone, Default)]
pub struct TokenExchangeLayer {
    cache: Arc<TokenCache>,
    realms: RealmPolicy,
    on_lookup: LookupObserver,
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

    /// Calls `on_lookup(true)` each time a cached token is sent and `on_lookup(false)` each
    /// time a token has to be fetched from a token service (for hit/miss metrics).
    pub fn on_token_lookup(mut self, on_lookup: impl Fn(bool) + Send + Sync + 'static) -> Self {
        self.on_lookup = LookupObserver(Some(Arc::new(on_lookup)));
        self
    }

    /// The tokens this layer's services hold, to ask how long the registry honours a
    /// caller ([`HeldTokens::read_token_until`]).
    pub fn held_tokens(&self) -> HeldTokens {
        HeldTokens::new(self.cache.clone())
    }
}

impl<S> Layer<S> for TokenExchangeLayer {
    type Service = TokenExchange<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenExchange::with_cache(
            inner,
            self.cache.clone(),
            self.realms.clone(),
            self.on_lookup.clone(),
        )
    }
}
