use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use crate::body::MeteredBody;
use crate::record::Record;
use crate::request_layer::Classify;
use crate::{Metrics, RequestMetricsFuture, RequestMetricsLayer};

/// Counts requests, their bytes and durations; made by
/// [`RequestMetricsLayer`](crate::RequestMetricsLayer).
#[derive(Clone)]
pub struct RequestMetrics<S> {
    pub(crate) inner: S,
    pub(crate) metrics: Metrics,
    pub(crate) classify: Classify,
    pub(crate) access_log: bool,
}

impl<S> RequestMetrics<S> {
    /// Wraps `inner`, recording into `metrics` every request as route kind `"any"`, with no
    /// access log; [`RequestMetricsLayer`] names route kinds and writes the log.
    pub fn new(inner: S, metrics: Metrics) -> Self {
        tower::Layer::layer(&RequestMetricsLayer::new(metrics), inner)
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer(metrics: Metrics) -> RequestMetricsLayer {
        RequestMetricsLayer::new(metrics)
    }

    pyoci_core::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestMetrics<S>
where
    S: Service<Request<MeteredBody<ReqBody>>, Response = Response<ResBody>>,
{
    type Response = Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = RequestMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let route = (self.classify)(&parts.method, parts.uri.path());
        let record = Record::start(&self.metrics, route, &parts, self.access_log);
        let body = MeteredBody::new(body, record.bytes_in.clone(), None);
        let future = record
            .span
            .in_scope(|| self.inner.call(Request::from_parts(parts, body)));
        RequestMetricsFuture::new(future, record)
    }
}
