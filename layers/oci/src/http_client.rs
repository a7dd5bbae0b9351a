use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::{HeaderValue, CONNECTION};
use http_body_util::Either;
use pyoci_body_timeout::IdleTimeoutBody;
use tower::{BoxError, Service};

use crate::connection_budget::{
    ConnectionBudget, InFlight, MAX_IDLE_PER_ORIGIN, MAX_IDLE_TOTAL, POOL_IDLE_TIMEOUT,
};
use crate::resolver::{redirect_policy, PolicyResolver};
use crate::AddressPolicy;

/// The bottom of the outgoing stack: a [`reqwest::Client`] as a tower service from
/// `http::Request<reqwest::Body>` to `http::Response<reqwest::Body>`.
///
/// Redirects, pooling, timeouts and TLS are whatever the wrapped client was built with.
/// reqwest drops `Authorization` when a redirect leaves the host (registries such as ghcr.io
/// redirect blob downloads to storage), which is what we want. Transport errors are returned
/// without their URL, so upload state or signed query strings never end up in a message.
///
/// Built with [`HttpClient::with_address_policy`], it only connects where an
/// [`AddressPolicy`] allows: resolved names are filtered by the client's DNS resolver,
/// literal IP addresses are checked before sending and on every redirect, and a refusal is
/// an error whose source chain holds an [`AddressRefused`](crate::AddressRefused).
///
/// That constructor also bounds the connection pool, since the registry host comes from the
/// request URL and may be a new one every time: at most 8 idle connections per origin and
/// 64 over all origins (a request that would go beyond is sent with `Connection: close`;
/// redirect hops count too), each kept for at most 15 s.
///
/// With [`HttpClient::response_body_idle_timeout`], a response body that delivers nothing
/// for that long fails with [`IdleTimeout`](pyoci_body_timeout::IdleTimeout) in its source
/// chain, so a registry that stalls in the middle of an answer cannot keep the reader
/// waiting.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: AddressPolicy,
    budget: Option<ConnectionBudget>,
    body_idle_timeout: Option<Duration>,
}

impl HttpClient {
    /// Wraps `client`, which may connect anywhere (see [`HttpClient::with_address_policy`]).
    pub fn new(client: reqwest::Client) -> HttpClient {
        HttpClient {
            client,
            policy: AddressPolicy::allow_all(),
            budget: None,
            body_idle_timeout: None,
        }
    }

    /// Builds a client from `builder` that connects only to addresses `policy` allows. It
    /// replaces the builder's DNS resolver, redirect policy (at most 10 redirects) and pool
    /// limits (see above).
    pub fn with_address_policy(
        builder: reqwest::ClientBuilder,
        policy: AddressPolicy,
    ) -> Result<HttpClient, reqwest::Error> {
        let budget = ConnectionBudget::new(MAX_IDLE_PER_ORIGIN, MAX_IDLE_TOTAL, POOL_IDLE_TIMEOUT);
        let client = builder
            .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
            .redirect(redirect_policy(policy.clone(), Some(budget.clone())))
            .pool_max_idle_per_host(MAX_IDLE_PER_ORIGIN)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()?;
        Ok(HttpClient {
            client,
            policy,
            budget: Some(budget),
            body_idle_timeout: None,
        })
    }

    /// Fails response bodies that deliver nothing for `idle` (the time to the response head
    /// is bounded elsewhere, e.g. by the retry layer's attempt timeout).
    pub fn response_body_idle_timeout(mut self, idle: Duration) -> HttpClient {
        self.body_idle_timeout = Some(idle);
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
        let budget = self.budget.clone();
        let body_idle_timeout = self.body_idle_timeout;
        Box::pin(async move {
            let mut request = reqwest::Request::try_from(request).map_err(|e| e.without_url())?;
            // IP addresses never reach the resolver. The URL's host is checked as reqwest
            // parsed it, so forms like `2130706433` are seen as the 127.0.0.1 they are.
            if let Some(host) = request.url().host_str() {
                policy.check_literal(host)?;
            }
            let in_flight = budget.map(|budget| {
                let origin = request.url().origin().ascii_serialization();
                budget.start(origin, Instant::now())
            });
            if in_flight.as_ref().is_some_and(|guard| !guard.keep_alive()) {
                request
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            let response = client.execute(request).await.map_err(|e| e.without_url())?;
            let response = http::Response::from(response);
            if in_flight.is_none() && body_idle_timeout.is_none() {
                return Ok(response);
            }
            Ok(response.map(|body| {
                let inner = match body_idle_timeout {
                    Some(idle) => Either::Left(IdleTimeoutBody::new(body, idle)),
                    None => Either::Right(body),
                };
                reqwest::Body::wrap(ResponseBody {
                    inner,
                    _in_flight: in_flight,
                })
            }))
        })
    }
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
