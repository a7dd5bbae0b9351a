use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{BoxError, Service};

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
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: AddressPolicy,
}

impl HttpClient {
    /// Wraps `client`, which may connect anywhere (see [`HttpClient::with_address_policy`]).
    pub fn new(client: reqwest::Client) -> HttpClient {
        HttpClient {
            client,
            policy: AddressPolicy::allow_all(),
        }
    }

    /// Builds a client from `builder` that connects only to addresses `policy` allows. It
    /// replaces the builder's DNS resolver and redirect policy (at most 10 redirects).
    pub fn with_address_policy(
        builder: reqwest::ClientBuilder,
        policy: AddressPolicy,
    ) -> Result<HttpClient, reqwest::Error> {
        let client = builder
            .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
            .redirect(redirect_policy(policy.clone()))
            .build()?;
        Ok(HttpClient { client, policy })
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
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(|e| e.without_url())?;
            // IP addresses never reach the resolver. The URL's host is checked as reqwest
            // parsed it, so forms like `2130706433` are seen as the 127.0.0.1 they are.
            if let Some(host) = request.url().host_str() {
                policy.check_literal(host)?;
            }
            let response = client.execute(request).await.map_err(|e| e.without_url())?;
            Ok(http::Response::from(response))
        })
    }
}
