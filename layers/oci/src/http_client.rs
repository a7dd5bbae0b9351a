use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::{
    HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE,
    LOCATION, PROXY_AUTHORIZATION, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use http::{Method, StatusCode};
use http_body_util::Either;
use pyoci_body_timeout::IdleTimeoutBody;
use reqwest::Url;
use tower::{BoxError, Service};

use crate::address::{host_key, parse_ip};
use crate::connection_budget::{
    ConnectionBudget, InFlight, MAX_IDLE_PER_ORIGIN, MAX_IDLE_TOTAL, POOL_IDLE_TIMEOUT,
};
use crate::resolver::{PolicyResolver, TRUSTED_TARGET};
use crate::AddressPolicy;

/// Redirects followed before giving up, as many as reqwest's default policy.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// The bottom of the outgoing stack: a [`reqwest::Client`] as a tower service from
/// `http::Request<reqwest::Body>` to `http::Response<reqwest::Body>`.
///
/// Pooling, timeouts and TLS are whatever the wrapped client was built with. Transport
/// errors are returned without their URL, so upload state or signed query strings never end
/// up in a message.
///
/// Built with [`HttpClient::with_address_policy`], it only connects where an
/// [`AddressPolicy`] allows, and follows redirects itself so that every hop is checked as
/// the first one is: resolved names are filtered by the client's DNS resolver, literal IP
/// addresses are checked before sending, a trusted origin is trusted only for requests to
/// that exact origin, and behind a proxy (which resolves names itself) names are resolved
/// and checked here first. A refusal is an error whose source chain holds an
/// [`AddressRefused`](crate::AddressRefused). `Authorization` is dropped when a redirect
/// leaves the origin (ghcr.io sends blob downloads to a storage host, which must not see
/// the credentials).
///
/// That constructor also bounds the connection pool, since the registry host comes from the
/// request URL and may be a new one every time: at most 32 idle connections per origin and
/// 64 over all origins (a request that would go beyond is sent with `Connection: close`;
/// every redirect hop counts as a request to its origin), each kept for at most 15 s.
///
/// With [`HttpClient::response_body_idle_timeout`], a response body that delivers nothing
/// for that long fails with [`IdleTimeout`](pyoci_body_timeout::IdleTimeout) in its source
/// chain, so a registry that stalls in the middle of an answer cannot keep the reader
/// waiting.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: AddressPolicy,
    follows_redirects: bool,
    budget: Option<ConnectionBudget>,
    body_idle_timeout: Option<Duration>,
    max_redirects: usize,
}

/// A request was redirected more often than the client follows: a loop, most likely.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TooManyRedirects {
    /// The redirects followed before giving up.
    pub limit: usize,
}

impl std::fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gave up after {} redirects", self.limit)
    }
}

/// The message, as the error was plain text before it had a type of its own (logs and
/// callers print boxed errors with `{:?}`).
impl std::fmt::Debug for TooManyRedirects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for TooManyRedirects {}

/// In a response's extensions: the URL that answered, after any redirects followed, for
/// callers that resolve relative links in the body (a package index's pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalUrl(pub Url);

impl HttpClient {
    /// Wraps `client`, which may connect anywhere and handles redirects as it was built to
    /// (see [`HttpClient::with_address_policy`]).
    pub fn new(client: reqwest::Client) -> HttpClient {
        HttpClient {
            client,
            policy: AddressPolicy::allow_all(),
            follows_redirects: false,
            budget: None,
            body_idle_timeout: None,
            max_redirects: MAX_REDIRECTS,
        }
    }

    /// Builds a client from `builder` that connects only to addresses `policy` allows. It
    /// replaces the builder's DNS resolver, redirect policy and pool limits (see above):
    /// redirects (at most 10) are followed by this service, each hop checked.
    pub fn with_address_policy(
        builder: reqwest::ClientBuilder,
        policy: AddressPolicy,
    ) -> Result<HttpClient, reqwest::Error> {
        let budget = ConnectionBudget::new(MAX_IDLE_PER_ORIGIN, MAX_IDLE_TOTAL, POOL_IDLE_TIMEOUT);
        let client = builder
            .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(MAX_IDLE_PER_ORIGIN)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()?;
        Ok(HttpClient {
            client,
            policy,
            follows_redirects: true,
            budget: Some(budget),
            body_idle_timeout: None,
            max_redirects: MAX_REDIRECTS,
        })
    }

    /// Fails response bodies that deliver nothing for `idle` (the time to the response head
    /// is bounded elsewhere, e.g. by the retry layer's attempt timeout).
    pub fn response_body_idle_timeout(mut self, idle: Duration) -> HttpClient {
        self.body_idle_timeout = Some(idle);
        self
    }

    /// Follows at most `limit` redirects (10 unless set) before failing with
    /// [`TooManyRedirects`] in the error's source chain: for peers that are not registries
    /// and are allowed fewer hops (a public package index).
    pub fn max_redirects(mut self, limit: usize) -> HttpClient {
        self.max_redirects = limit;
        self
    }
}

/// The response future of [`HttpClient`].
pub type HttpClientFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<reqwest::Body>, BoxError>> + Send>>;

impl Service<http::Request<reqwest::Body>> for HttpClient {
    type Response = http::Response<reqwest::Body>;
    type Error = BoxError;
    type Future = HttpClientFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // reqwest's pool has no back-pressure to report.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<reqwest::Body>) -> Self::Future {
        let client = self.client.clone();
        let policy = self.policy.clone();
        let follows_redirects = self.follows_redirects;
        let budget = self.budget.clone();
        let body_idle_timeout = self.body_idle_timeout;
        let max_redirects = self.max_redirects;
        Box::pin(async move {
            let hands_over = request.extensions().get::<HandOverRedirects>().is_some();
            let mut request = reqwest::Request::try_from(request).map_err(|e| e.without_url())?;
            let mut redirects = 0;
            loop {
                let trusted = check_target(&policy, request.url()).await?;
                // Every hop is a request to its origin: counted until its answer is read or
                // dropped, and sent with `Connection: close` when the pool is full.
                let in_flight = budget.as_ref().map(|budget| {
                    let origin = request.url().origin().ascii_serialization();
                    budget.start(origin, Instant::now())
                });
                if in_flight.as_ref().is_some_and(|guard| !guard.keep_alive()) {
                    request
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                } else {
                    request.headers_mut().remove(CONNECTION);
                }
                // Kept for a redirect that must resend the body (307, 308).
                let again = if follows_redirects {
                    request.try_clone()
                } else {
                    None
                };
                let previous = request.url().clone();
                let response = TRUSTED_TARGET
                    .scope(trusted, client.execute(request))
                    .await
                    .map_err(|e| e.without_url())?;
                let next = match again {
                    Some(again) => redirected(again, &previous, &response)?,
                    None => None,
                }
                .filter(|next| !(hands_over && hand_over(&previous, next.url())));
                let Some(next) = next else {
                    let mut response = http::Response::from(response);
                    response.extensions_mut().insert(FinalUrl(previous));
                    return Ok(with_body_guards(response, in_flight, body_idle_timeout));
                };
                redirects += 1;
                if redirects > max_redirects {
                    return Err(TooManyRedirects {
                        limit: max_redirects,
                    }
                    .into());
                }
                request = next;
            }
        })
    }
}

/// In a request's extensions: a redirect to another origin is the answer, not followed, so
/// that the caller can pass it on (a download the client may fetch from storage itself).
/// A redirect from https to plain http is still followed here: handing it over would send
/// the client, and the signed URL, over a plain connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct HandOverRedirects;

/// Whether a redirect from `previous` to `next` is handed over rather than followed.
fn hand_over(previous: &Url, next: &Url) -> bool {
    let downgrade = previous.scheme() == "https" && next.scheme() == "http";
    previous.origin() != next.origin() && !downgrade
}

/// Checks where a request is about to go. `Some(host)` when its origin is trusted (the
/// resolver then allows that name's private addresses), `None` when it is not.
async fn check_target(policy: &AddressPolicy, url: &Url) -> Result<Option<String>, BoxError> {
    let Some(host) = url.host_str() else {
        return Ok(None);
    };
    let trusted = policy.trusts_origin(url.scheme(), host, url.port_or_known_default());
    // IP addresses never reach the resolver. The URL's host is checked as reqwest parsed
    // it, so forms like `2130706433` are seen as the 127.0.0.1 they are.
    policy.check_literal_trusting(host, trusted)?;
    let is_name = parse_ip(host).is_none();
    if is_name && !trusted && policy.checks_names_before_proxy() {
        check_name_before_proxy(policy, host, url.port_or_known_default().unwrap_or(443)).await?;
    }
    Ok(trusted.then(|| host_key(host)))
}

/// Behind a proxy, the proxy resolves the name and connects: PyOCI's resolver never sees it.
/// So the name is resolved here and every address checked first. A name that does not
/// resolve here is refused: nothing says where the proxy would take it.
async fn check_name_before_proxy(
    policy: &AddressPolicy,
    host: &str,
    port: u16,
) -> Result<(), BoxError> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| {
            format!(
                "registry {host} does not resolve here ({err}); behind a proxy PyOCI checks \
                 registry addresses itself before handing the request over: list the \
                 registry (scheme://host:port) in PYOCI_REGISTRIES to send it anyway"
            )
        })?
        .collect();
    for address in resolved {
        policy.check_trusting(host, address.ip(), false)?;
    }
    Ok(())
}

/// The request a redirect asks for, `None` when `response` is not a redirect to follow.
fn redirected(
    mut next: reqwest::Request,
    previous: &Url,
    response: &reqwest::Response,
) -> Result<Option<reqwest::Request>, BoxError> {
    let status = response.status();
    let keeps_method = match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => false,
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
        _ => return Ok(None),
    };
    let Some(location) = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(None);
    };
    let Ok(url) = previous.join(location) else {
        return Err("the registry redirected to an invalid location".into());
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the registry redirected to a location that is not http(s)".into());
    }
    if !keeps_method {
        // As browsers and reqwest do: 303 always, 301 and 302 for anything but GET and
        // HEAD, become a GET without a body.
        if next.method() != Method::GET && next.method() != Method::HEAD {
            *next.method_mut() = Method::GET;
        }
        *next.body_mut() = None;
        for header in [
            CONTENT_TYPE,
            CONTENT_LENGTH,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            next.headers_mut().remove(header);
        }
    }
    let same_origin = url.scheme() == previous.scheme()
        && url.host_str() == previous.host_str()
        && url.port_or_known_default() == previous.port_or_known_default();
    if !same_origin {
        for header in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, WWW_AUTHENTICATE] {
            next.headers_mut().remove(header);
        }
    }
    *next.url_mut() = url;
    Ok(Some(next))
}

/// Wraps a registry's response body in its idle timeout and its in-flight count, when set.
fn with_body_guards(
    response: http::Response<reqwest::Body>,
    in_flight: Option<InFlight>,
    body_idle_timeout: Option<Duration>,
) -> http::Response<reqwest::Body> {
    if in_flight.is_none() && body_idle_timeout.is_none() {
        return response;
    }
    response.map(|body| {
        let inner = match body_idle_timeout {
            Some(idle) => Either::Left(IdleTimeoutBody::new(body, idle)),
            None => Either::Right(body),
        };
        reqwest::Body::wrap(ResponseBody {
            inner,
            _in_flight: in_flight,
        })
    })
}

/// A registry's response body: its idle timeout, and its request counted as in flight until
/// it is read or dropped (the pool takes the connection back then).
#[pin_project::pin_project]
struct ResponseBody {
    #[pin]
    inner: Either<IdleTimeoutBody<reqwest::Body>, reqwest::Body>,
    _in_flight: Option<InFlight>,
}

impl http_body::Body for ResponseBody {
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, url: &str, body: Option<&'static str>) -> reqwest::Request {
        let mut request = reqwest::Request::new(method, url.parse().unwrap());
        request
            .headers_mut()
            .insert(AUTHORIZATION, "Bearer t".parse().unwrap());
        request
            .headers_mut()
            .insert(CONTENT_TYPE, "application/json".parse().unwrap());
        *request.body_mut() = body.map(reqwest::Body::from);
        request
    }

    fn answer(status: u16, location: Option<&str>) -> reqwest::Response {
        let mut builder = http::Response::builder().status(status);
        if let Some(location) = location {
            builder = builder.header(LOCATION, location);
        }
        reqwest::Response::from(builder.body("").unwrap())
    }

    fn follow(
        method: Method,
        status: u16,
        location: Option<&str>,
    ) -> Result<Option<reqwest::Request>, BoxError> {
        let previous: Url = "https://registry.test/v2/a/blobs/x".parse().unwrap();
        redirected(
            request(method, previous.as_str(), Some("{}")),
            &previous,
            &answer(status, location),
        )
    }

    #[test]
    fn temporary_and_permanent_redirects_keep_method_and_body() {
        for status in [307, 308] {
            let next = follow(Method::PUT, status, Some("/v2/other"))
                .unwrap()
                .unwrap();
            assert_eq!(next.method(), Method::PUT);
            assert_eq!(next.url().as_str(), "https://registry.test/v2/other");
            assert!(next.body().is_some());
            assert!(next.headers().contains_key(AUTHORIZATION), "same origin");
        }
    }

    #[test]
    fn see_other_and_found_become_a_get_without_body() {
        for status in [301, 302, 303] {
            let next = follow(Method::POST, status, Some("/v2/done"))
                .unwrap()
                .unwrap();
            assert_eq!(next.method(), Method::GET, "{status}");
            assert!(next.body().is_none());
            assert!(!next.headers().contains_key(CONTENT_TYPE));
        }
        let head = follow(Method::HEAD, 303, Some("/v2/done"))
            .unwrap()
            .unwrap();
        assert_eq!(head.method(), Method::HEAD);
    }

    #[test]
    fn another_origin_gets_no_credentials() {
        for location in [
            "https://storage.test/blob?sig=1",
            "http://registry.test/v2/x",
            "https://registry.test:8443/v2/x",
        ] {
            let next = follow(Method::GET, 307, Some(location)).unwrap().unwrap();
            assert!(!next.headers().contains_key(AUTHORIZATION), "{location}");
        }
    }

    #[test]
    fn only_redirects_to_another_origin_without_a_downgrade_are_handed_over() {
        let url = |text: &str| Url::parse(text).unwrap();
        let registry = url("https://ghcr.io/v2/acme/demo/blobs/sha256:ab");
        assert!(hand_over(
            &registry,
            &url("https://storage.example/blob?sig=1")
        ));
        assert!(!hand_over(&registry, &url("https://ghcr.io/v2/elsewhere")));
        assert!(!hand_over(
            &registry,
            &url("http://storage.example/blob?sig=1")
        ));
        let plain = url("http://127.0.0.1:5000/v2/acme/demo/blobs/sha256:ab");
        assert!(hand_over(&plain, &url("http://127.0.0.1:5001/blob")));
    }

    #[test]
    fn what_is_not_a_redirect_to_follow() {
        assert!(follow(Method::GET, 200, Some("/x")).unwrap().is_none());
        assert!(follow(Method::GET, 304, Some("/x")).unwrap().is_none());
        assert!(follow(Method::GET, 307, None).unwrap().is_none());
        assert!(follow(Method::GET, 307, Some("ftp://x/y")).is_err());
    }
}
