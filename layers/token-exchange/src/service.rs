use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use pyoci_core::{Credentials, ReplayableBody};
use tower::{BoxError, Service, ServiceExt};

use crate::access::{access_key, origin_of};
use crate::ahead::{challenge_ahead, token_ahead};
use crate::cache::{OriginKey, TokenCache, TokenKey};
use crate::challenge::challenges_in;
use crate::headers::{basic_authorization, bearer_authorization};
use crate::layer::LookupObserver;
use crate::realm::{fetch_token, RealmAnswer};
use crate::{RealmPolicy, TokenExchangeError};

/// How long to keep sending Basic credentials right away to an origin that asked for them.
const REMEMBER_BASIC_FOR: Duration = Duration::from_secs(60 * 60);

/// How long an origin's token service is asked ahead of a read (see `ahead.rs`) after the
/// origin last named it.
const REMEMBER_REALM_FOR: Duration = Duration::from_secs(60 * 60);

/// Response future of [`TokenExchange`], answering with the inner service's body `B`.
pub type ResponseFuture<B> =
    Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send + 'static>>;

/// In a read's extensions: a write of the same repository follows, so obtain the token
/// that write needs now (the read's scope widened to `push`) and cache it for the write.
/// The write then never waits for a token exchange between its read and itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthorizeForWrite;

/// Authorizes outgoing registry requests with the [`Credentials`] in their extensions, answering
/// `401` challenges with a cached registry token (or Basic credentials) and one retry.
///
/// Created by [`TokenExchangeLayer`](crate::TokenExchangeLayer); see the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct TokenExchange<S> {
    inner: S,
    cache: Arc<TokenCache>,
    realms: RealmPolicy,
    on_lookup: LookupObserver,
}

impl<S> TokenExchange<S> {
    /// Wraps `inner` with a token cache of its own (shared by its clones) that sends
    /// credentials to the token service the registry names ([`RealmPolicy::any_realm`]).
    pub fn new(inner: S) -> Self {
        Self::with_cache(
            inner,
            Arc::default(),
            RealmPolicy::default(),
            LookupObserver::default(),
        )
    }

    /// The layer that wraps services in this middleware, as in tower-http; services made by
    /// one layer share its token cache.
    pub fn layer() -> crate::TokenExchangeLayer {
        crate::TokenExchangeLayer::new()
    }

    pyoci_core::inner_service_accessors!();

    pub(crate) fn with_cache(
        inner: S,
        cache: Arc<TokenCache>,
        realms: RealmPolicy,
        on_lookup: LookupObserver,
    ) -> Self {
        Self {
            inner,
            cache,
            realms,
            on_lookup,
        }
    }
}

/// Requests are sent again (with a token) only when their body is a [`ReplayableBody`] that
/// gives a copy; the token service is asked with a `ReqBody::default()` body, through the
/// same inner service, and its answer read whole (so `ResBody` must be readable as bytes).
impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TokenExchange<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ReqBody: ReplayableBody + Default + Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready sends the first request; clones send the rest.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(authorize(
            ready,
            self.cache.clone(),
            self.realms.clone(),
            self.on_lookup.clone(),
            req,
        ))
    }
}

/// Which authorization the first attempt carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Nothing,
    CachedToken,
    Basic,
}

async fn authorize<S, ReqBody, ResBody>(
    mut inner: S,
    cache: Arc<TokenCache>,
    realms: RealmPolicy,
    on_lookup: LookupObserver,
    mut req: Request<ReqBody>,
) -> Result<Response<ResBody>, BoxError>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    ReqBody: ReplayableBody + Default,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    let credentials = req
        .extensions()
        .get::<Credentials>()
        .cloned()
        .unwrap_or_default();
    if let Credentials::Bearer(token) = &credentials {
        let authorization =
            bearer_authorization(token.expose()).ok_or(TokenExchangeError::UnusableBearerToken)?;
        req.headers_mut().insert(AUTHORIZATION, authorization);
        return inner.call(req).await.map_err(Into::into);
    }

    let registry = req.uri().clone();
    let origin = OriginKey {
        origin: origin_of(req.uri()),
        credentials: credentials.clone(),
    };
    let for_write = req.extensions().get::<AuthorizeForWrite>().is_some()
        && matches!(*req.method(), Method::GET | Method::HEAD);
    // A read ahead of a write uses (and caches) the token the write will need.
    let access_method = if for_write {
        Method::PUT
    } else {
        req.method().clone()
    };
    let token_key = TokenKey {
        origin: origin.clone(),
        access: access_key(&access_method, req.uri().path()),
    };
    // The widened token serves the read's own later requests too (e.g. a confirming read).
    let read_key = for_write.then(|| TokenKey {
        origin: origin.clone(),
        access: access_key(req.method(), req.uri().path()),
    });
    let basic = match &credentials {
        Credentials::Basic { username, password } => {
            basic_authorization(username, password.expose())
        }
        _ => None,
    };

    let now = Instant::now();
    let sent = if let Some(token) = cache.token(&token_key, now) {
        req.headers_mut().insert(AUTHORIZATION, token);
        on_lookup.observe(true);
        Sent::CachedToken
    } else if let Some(basic) = basic.clone().filter(|_| cache.uses_basic(&origin, now)) {
        req.headers_mut().insert(AUTHORIZATION, basic);
        Sent::Basic
    } else if let Some(challenge) = (!for_write)
        .then(|| cache.bearer_realm(&origin.origin, now))
        .flatten()
        .and_then(|last| challenge_ahead(&last, req.method(), req.uri().path()))
    {
        // A registry that challenged before: its token service, for this repository.
        let credentials_for =
            |realm: &http::Uri| realm_credentials(&credentials, &realms, &registry, realm);
        match token_ahead(inner.clone(), &challenge, credentials_for).await {
            Some((token, usable_for)) => {
                on_lookup.observe(false);
                let fetched_at = Instant::now();
                cache.insert_token(
                    token_key.clone(),
                    token.clone(),
                    fetched_at + usable_for,
                    fetched_at,
                );
                req.headers_mut().insert(AUTHORIZATION, token);
                Sent::CachedToken
            }
            None => Sent::Nothing,
        }
    } else {
        Sent::Nothing
    };

    let (req, replay) = Replay::split(req);
    let response = inner.call(req).await.map_err(Into::into)?;
    if response.status() != StatusCode::UNAUTHORIZED {
        return Ok(response);
    }
    if sent == Sent::CachedToken {
        // Revoked, or (ACR) not valid for this scope: exchange once more with this challenge.
        cache.evict_token(&token_key);
    }

    let challenges = challenges_in(response.headers());
    if let Some(bearer) = challenges
        .iter()
        .find(|challenge| challenge.is_bearer() && challenge.realm().is_some())
    {
        let widened;
        let bearer = if for_write {
            widened = bearer.widened_to_push();
            &widened
        } else {
            bearer
        };
        if sent == Sent::Basic {
            cache.forget_basic(&origin);
        }
        cache.remember_bearer_realm(
            origin.origin.clone(),
            bearer.clone(),
            now + REMEMBER_REALM_FOR,
            now,
        );
        let mut sent_credentials = false;
        let credentials_for = |realm: &http::Uri| {
            let given = realm_credentials(&credentials, &realms, &registry, realm);
            sent_credentials = !matches!(given, Credentials::Anonymous);
            given
        };
        on_lookup.observe(false);
        let token = match fetch_token(inner.clone(), bearer, credentials_for).await? {
            RealmAnswer::Token(token) => token,
            RealmAnswer::Rejected(refusal) => return Ok(refusal),
        };
        let fetched_at = Instant::now();
        for key in std::iter::once(token_key.clone()).chain(read_key) {
            cache.insert_token(
                key,
                token.authorization.clone(),
                fetched_at + token.usable_for,
                fetched_at,
            );
        }
        let Some(replay) = replay else {
            tracing::debug!("request body cannot be replayed; token cached for the next request");
            return Ok(response);
        };
        let retried = inner
            .oneshot(replay.request(token.authorization))
            .await
            .map_err(Into::into)?;
        if retried.status() == StatusCode::UNAUTHORIZED {
            // A fresh token that does not work is of no use to the next request either.
            cache.evict_token(&token_key);
            if sent_credentials && insufficient_scope(retried.headers()) {
                // The token service knew who asked and still granted too little: this user
                // may not do this here. That is 403, not a reason to ask for credentials.
                let (mut parts, body) = retried.into_parts();
                parts.status = StatusCode::FORBIDDEN;
                return Ok(Response::from_parts(parts, body));
            }
        }
        return Ok(retried);
    }

    let basic_challenge = challenges.iter().any(|challenge| challenge.is_basic());
    match (basic, replay) {
        (Some(basic), replay) if basic_challenge && sent != Sent::Basic => {
            let Some(replay) = replay else {
                cache.remember_basic(origin, now + REMEMBER_BASIC_FOR, now);
                return Ok(response);
            };
            let retried = inner
                .oneshot(replay.request(basic))
                .await
                .map_err(Into::into)?;
            if retried.status() != StatusCode::UNAUTHORIZED {
                let now = Instant::now();
                cache.remember_basic(origin, now + REMEMBER_BASIC_FOR, now);
            }
            Ok(retried)
        }
        _ => Ok(response),
    }
}

/// The credentials the token service at `realm` gets for a request to `registry`: the
/// user's, unless the realm policy withholds them there (said in the log).
fn realm_credentials(
    credentials: &Credentials,
    realms: &RealmPolicy,
    registry: &http::Uri,
    realm: &http::Uri,
) -> Credentials {
    if matches!(credentials, Credentials::Anonymous) {
        return Credentials::Anonymous;
    }
    match realms.withholds(registry, realm) {
        None => credentials.clone(),
        Some(why) => {
            tracing::info!(
                registry = %registry.host().unwrap_or_default(),
                realm = %realm.host().unwrap_or_default(),
                "asking the token service for a token without the user's credentials: {why}"
            );
            Credentials::Anonymous
        }
    }
}

/// Whether a registry's 401 says the token lacked the scope (RFC 6750 `insufficient_scope`).
fn insufficient_scope(headers: &http::HeaderMap) -> bool {
    challenges_in(headers).iter().any(|challenge| {
        challenge.is_bearer()
            && challenge
                .param("error")
                .is_some_and(|error| error.eq_ignore_ascii_case("insufficient_scope"))
    })
}

/// A copy of a request, to send again with other credentials.
struct Replay<B> {
    parts: Parts,
    body: B,
}

impl<B: ReplayableBody> Replay<B> {
    /// Splits off a copy when the body gives one; a streamed body cannot be sent twice.
    fn split(req: Request<B>) -> (Request<B>, Option<Replay<B>>) {
        let Some(copy) = req.body().try_clone() else {
            return (req, None);
        };
        let (parts, body) = req.into_parts();
        let replay = Replay {
            parts: parts.clone(),
            body: copy,
        };
        (Request::from_parts(parts, body), Some(replay))
    }

    fn request(self, authorization: HeaderValue) -> Request<B> {
        let mut req = Request::from_parts(self.parts, self.body);
        req.headers_mut().insert(AUTHORIZATION, authorization);
        req
    }
}

#[cfg(test)]
mod tests;
