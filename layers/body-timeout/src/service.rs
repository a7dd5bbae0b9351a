use std::{
    task::{Context, Poll},
    time::Duration,
};

use http::Request;
use tower::Service;

use crate::IdleTimeoutBody;

/// Gives the inner service request bodies that fail after `idle` without data; see
/// [`RequestBodyIdleTimeoutLayer`](crate::RequestBodyIdleTimeoutLayer).
#[derive(Clone, Debug)]
pub struct RequestBodyIdleTimeout<S> {
    inner: S,
    idle: Duration,
}

impl<S> RequestBodyIdleTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, idle: Duration) -> Self {
        RequestBodyIdleTimeout { inner, idle }
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer(idle: Duration) -> crate::RequestBodyIdleTimeoutLayer {
        crate::RequestBodyIdleTimeoutLayer::new(idle)
    }

    pyoci_core::inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for RequestBodyIdleTimeout<S>
where
    S: Service<Request<IdleTimeoutBody<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let idle = self.idle;
        self.inner
            .call(request.map(|body| IdleTimeoutBody::new(body, idle)))
    }
}
