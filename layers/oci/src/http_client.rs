use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::{BoxError, Service};

/// The bottom of the outgoing stack: a [`reqwest::Client`] as a tower service from
/// `http::Request<reqwest::Body>` to `http::Response<reqwest::Body>`.
///
/// Redirects, pooling, timeouts and TLS are whatever the wrapped client was built with.
/// reqwest drops `Authorization` when a redirect leaves the host (registries such as ghcr.io
/// redirect blob downloads to storage), which is what we want. Transport errors are returned
/// without their URL, so upload state or signed query strings never end up in a message.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    /// Wraps `client`.
    pub fn new(client: reqwest::Client) -> HttpClient {
        HttpClient { client }
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
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(|e| e.without_url())?;
            let response = client.execute(request).await.map_err(|e| e.without_url())?;
            Ok(http::Response::from(response))
        })
    }
}
