use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use crate::body::MeteredBody;
use crate::record::Record;
use crate::request_layer::Classify;
use crate::{Metrics, RequestMetricsFuture};

/// Counts requests, their bytes and durations; made by
/// [`RequestMetricsLayer`](crate::RequestMetricsLayer).
#[derive(Clone)]
pub struct RequestMetrics<S> {
    pub(crate) inner: S,
    pub(crate) metrics: Metrics,
    pub(crate) classify: Classify,
    pub(crate) access_log: bool,
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
