use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pyoci_core::Credentials;
use serde::Deserialize;
use tower::{BoxError, Service, ServiceExt};

use crate::headers::{basic_authorization, bearer_authorization};
use crate::{Challenge, TokenExchangeError};

/// Token answers are a few kilobytes; anything far larger is not a token service.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Lifetime assumed when the token service does not say (the Docker token spec's default).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Upper bound on any lifetime a token service claims.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Smallest margin before expiry at which a cached token stops being used.
const MIN_EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What the token service said.
pub(crate) enum RealmAnswer<B> {
    /// A token, ready to send.
    Token(FetchedToken),
    /// `401` or `403`: the credentials were refused; the response goes back to the caller.
    Rejected(Response<B>),
}

/// A token from the token service.
pub(crate) struct FetchedToken {
    /// `Bearer <token>`, marked sensitive.
    pub(crate) authorization: HeaderValue,
    /// How long to keep using it, already shortened by a safety margin.
    pub(crate) usable_for: Duration,
}

/// Asks the token service named by a Bearer challenge for a token, through `client`, with the
/// credentials `credentials_for` gives for the token service's URL. The request has the
/// client's request body type, empty.
pub(crate) async fn fetch_token<S, ReqBody, ResBody>(
    client: S,
    challenge: &Challenge,
    credentials_for: impl FnOnce(&Uri) -> Credentials,
) -> Result<RealmAnswer<ResBody>, TokenExchangeError>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ReqBody: Default,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    let realm = challenge.realm().unwrap_or_default();
    let uri = token_uri(realm, challenge.service(), challenge.scope()).ok_or_else(|| {
        TokenExchangeError::InvalidRealm {
            realm: realm.to_owned(),
        }
    })?;
    let realm_host = uri.host().unwrap_or_default().to_owned();
    let credentials = &credentials_for(&uri);

    let mut request = Request::new(ReqBody::default());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    request
        .headers_mut()
        .insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Credentials::Basic { username, password } = credentials {
        if let Some(authorization) = basic_authorization(username, password.expose()) {
            request.headers_mut().insert(AUTHORIZATION, authorization);
        }
    }

    let response =
        client
            .oneshot(request)
            .await
            .map_err(|source| TokenExchangeError::RealmUnreachable {
                realm_host: realm_host.clone(),
                source: source.into(),
            })?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        tracing::debug!(
            realm = %realm_host,
            user = credentials.log_name(),
            %status,
            "registry token service refused the credentials"
        );
        return Ok(RealmAnswer::Rejected(response));
    }
    if !status.is_success() {
        return Err(TokenExchangeError::RealmStatus { realm_host, status });
    }

    let no_token = |problem| TokenExchangeError::NoToken {
        realm_host: realm_host.clone(),
        problem,
    };
    let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|_| no_token("the answer could not be read or was too large"))?
        .to_bytes();
    let token = parse_token_answer(&body).map_err(no_token)?;
    tracing::debug!(
        realm = %realm_host,
        scope = challenge.scope().unwrap_or_default(),
        user = credentials.log_name(),
        usable_for_secs = token.usable_for.as_secs(),
        "fetched registry token"
    );
    Ok(RealmAnswer::Token(token))
}

/// `realm?service=...&scope=...`, one `scope` per space-separated scope in the challenge.
/// `None` unless the result is an absolute http(s) URL.
fn token_uri(realm: &str, service: Option<&str>, scope: Option<&str>) -> Option<Uri> {
    let service = service.map(|service| ("service", service));
    let scopes = scope
        .into_iter()
        .flat_map(str::split_whitespace)
        .map(|scope| ("scope", scope));
    let mut url = realm.to_owned();
    let mut separator = if realm.contains('?') { '&' } else { '?' };
    for (name, value) in service.into_iter().chain(scopes) {
        url.push(separator);
        url.push_str(name);
        url.push('=');
        url.extend(utf8_percent_encode(value, QUERY_VALUE));
        separator = '&';
    }
    let uri: Uri = url.parse().ok()?;
    let absolute = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|host| !host.is_empty());
    absolute.then_some(uri)
}

/// The token service's JSON answer. Docker Hub sends both `token` and `access_token`.
#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

/// Reads the token and how long to use it. `issued_at` is not used: the lifetime counts from
/// now, which is later than the issue time, and no clock skew can creep in.
fn parse_token_answer(body: &[u8]) -> Result<FetchedToken, &'static str> {
    let answer: TokenAnswer =
        serde_json::from_slice(body).map_err(|_| "the answer is not the expected JSON")?;
    let token = [answer.token, answer.access_token]
        .into_iter()
        .flatten()
        .find(|token| !token.is_empty())
        .ok_or("the answer has neither `token` nor `access_token`")?;
    let authorization = bearer_authorization(&token)
        .ok_or("the token contains characters not allowed in a header")?;
    let lifetime = answer
        .expires_in
        .as_ref()
        .and_then(serde_json::Value::as_f64)
        .and_then(|seconds| {
            Duration::try_from_secs_f64(seconds.min(MAX_LIFETIME.as_secs_f64())).ok()
        })
        .unwrap_or(DEFAULT_LIFETIME);
    Ok(FetchedToken {
        authorization,
        usable_for: usable_lifetime(lifetime),
    })
}

/// Stops using a token a tenth of its lifetime (at least 5 s) before it expires, so that it does
/// not run out between the cache lookup and the registry checking it.
fn usable_lifetime(lifetime: Duration) -> Duration {
    lifetime.saturating_sub((lifetime / 10).max(MIN_EXPIRY_MARGIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_uri_adds_encoded_params() {
        let uri = token_uri(
            "https://auth.test/token",
            Some("registry.test"),
            Some("repository:ns/pkg:pull,push"),
        )
        .unwrap();
        assert_eq!(
            uri.to_string(),
            "https://auth.test/token?service=registry.test&scope=repository%3Ans%2Fpkg%3Apull%2Cpush"
        );
    }

    #[test]
    fn token_uri_with_several_scopes_existing_query_or_no_params() {
        let uri = token_uri("http://127.0.0.1:1/t?x=1", None, Some("a:b:pull  c:d:push")).unwrap();
        assert_eq!(
            uri.to_string(),
            "http://127.0.0.1:1/t?x=1&scope=a%3Ab%3Apull&scope=c%3Ad%3Apush"
        );
        let uri = token_uri("http://auth.test/token", None, None).unwrap();
        assert_eq!(uri.to_string(), "http://auth.test/token");
    }

    #[test]
    fn token_uri_must_be_absolute_http() {
        assert!(token_uri("/token", Some("s"), None).is_none());
        assert!(token_uri("ftp://auth.test/token", None, None).is_none());
        assert!(token_uri("", None, None).is_none());
        assert!(token_uri("https://", None, None).is_none());
        assert!(token_uri("http://a b/", None, None).is_none());
    }

    #[test]
    fn answer_with_token_or_access_token() {
        let docker_hub = br#"{"token":"t1","access_token":"t1","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}"#;
        let token = parse_token_answer(docker_hub).unwrap();
        assert_eq!(token.authorization, "Bearer t1");
        assert_eq!(token.usable_for, Duration::from_secs(270));

        let oauth_style = br#"{"access_token":"t2","token":""}"#;
        let token = parse_token_answer(oauth_style).unwrap();
        assert_eq!(token.authorization, "Bearer t2");
        assert_eq!(token.usable_for, Duration::from_secs(54));
    }

    #[test]
    fn odd_lifetimes() {
        let lifetime = |body: &[u8]| parse_token_answer(body).unwrap().usable_for;
        assert_eq!(
            lifetime(br#"{"token":"t","expires_in":-5}"#),
            Duration::from_secs(54)
        );
        assert_eq!(
            lifetime(br#"{"token":"t","expires_in":"300"}"#),
            Duration::from_secs(54)
        );
        assert_eq!(
            lifetime(br#"{"token":"t","expires_in":1e300}"#),
            Duration::from_secs(77_760)
        );
        assert_eq!(lifetime(br#"{"token":"t","expires_in":3}"#), Duration::ZERO);
        assert_eq!(
            lifetime(br#"{"token":"t","expires_in":null}"#),
            Duration::from_secs(54)
        );
    }

    #[test]
    fn answers_without_usable_token() {
        assert!(parse_token_answer(b"not json").is_err());
        assert!(parse_token_answer(br#"{"expires_in":300}"#).is_err());
        assert!(parse_token_answer(br#"{"token":""}"#).is_err());
        assert!(parse_token_answer(br#"{"token":"has space"}"#).is_err());
        assert!(parse_token_answer(br#"{"token":5}"#).is_err());
    }

    #[test]
    fn usable_lifetime_keeps_a_margin() {
        assert_eq!(
            usable_lifetime(Duration::from_secs(300)),
            Duration::from_secs(270)
        );
        assert_eq!(
            usable_lifetime(Duration::from_secs(30)),
            Duration::from_secs(25)
        );
        assert_eq!(usable_lifetime(Duration::from_secs(2)), Duration::ZERO);
    }
}
