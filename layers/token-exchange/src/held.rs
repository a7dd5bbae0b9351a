//! What the layer's token cache says about how long the registry honours a caller.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Uri};
use pyoci_core::Credentials;

use crate::access::{access_key, origin_of};
use crate::cache::{OriginKey, TokenCache, TokenKey};

/// The tokens a [`TokenExchangeLayer`](crate::TokenExchangeLayer) holds, asked by callers
/// that keep something the registry gave a caller and want to keep it no longer than the
/// registry would honour that caller.
///
/// A token the layer holds was accepted by the registry (one it refused is dropped at once)
/// and is honoured by the registry until it expires, whatever happens to the password it
/// was issued for meanwhile. Whoever holds it may read what it grants until then; so may
/// anything kept for those credentials, without being looser than the registry.
#[derive(Clone)]
pub struct HeldTokens {
    cache: Arc<TokenCache>,
}

impl HeldTokens {
    pub(crate) fn new(cache: Arc<TokenCache>) -> Self {
        Self { cache }
    }

    /// Until when the layer will send the token it holds for a read (`GET`) of `uri` with
    /// `credentials`; `None` when it holds none (never fetched, expired, refused, or the
    /// registry takes Basic credentials or bearer tokens given by the caller themselves).
    pub fn read_token_until(&self, uri: &Uri, credentials: &Credentials) -> Option<Instant> {
        let key = TokenKey {
            origin: OriginKey {
                origin: origin_of(uri),
                credentials: credentials.clone(),
            },
            access: access_key(&Method::GET, uri.path()),
        };
        self.cache.token_until(&key, Instant::now())
    }
}

impl std::fmt::Debug for HeldTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeldTokens(..)")
    }
}
