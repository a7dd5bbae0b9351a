use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project::pin_project;

use crate::body::MeteredBody;
use crate::record::Record;

/// Response future of [`RequestMetrics`](crate::RequestMetrics): hands the request's record
/// to the response body, which finishes it.
#[pin_project]
pub struct RequestMetricsFuture<F> {
    #[pin]
    inner: F,
    record: Option<Record>,
}

impl<F> RequestMetricsFuture<F> {
    pub(crate) fn new(inner: F, record: Record) -> Self {
        RequestMetricsFuture {
            inner,
            record: Some(record),
        }
    }
}

impl<F, B, E> Future for RequestMetricsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<MeteredBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span = this.record.as_ref().map(|record| record.span.clone());
        let _entered = span.as_ref().map(tracing::Span::enter);
        let result = ready!(this.inner.poll(cx));
        // Polled again after completion is a caller bug; record nothing twice.
        let Some(mut record) = this.record.take() else {
            return Poll::Ready(result.map(|response| {
                response.map(|body| MeteredBody::new(body, detached_count(), None))
            }));
        };
        Poll::Ready(match result {
            Ok(response) => {
                record.status = Some(response.status().as_u16());
                record
                    .span
                    .record("http.response.status_code", response.status().as_u16());
                let bytes_out = record.bytes_out.clone();
                Ok(response.map(|body| MeteredBody::new(body, bytes_out, Some(record))))
            }
            // No response: counted as `aborted` when the record drops here.
            Err(error) => Err(error),
        })
    }
}

fn detached_count() -> crate::record::ByteCount {
    crate::record::ByteCount::new(Default::default())
}
