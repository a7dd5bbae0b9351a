use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;

use crate::record::{ByteCount, Record};

/// A request or response body whose data bytes are counted as they pass. A response body
/// also carries its request's record, finished when the body ends or is dropped.
#[pin_project]
pub struct MeteredBody<B> {
    #[pin]
    inner: B,
    bytes: ByteCount,
    record: Option<Record>,
}

impl<B> MeteredBody<B> {
    pub(crate) fn new(inner: B, bytes: ByteCount, record: Option<Record>) -> Self {
        MeteredBody {
            inner,
            bytes,
            record,
        }
    }
}

impl<B> Body for MeteredBody<B>
where
    B: Body,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes.add(data.remaining());
                }
            }
            // The end (or a failure) of the body is the end of the request.
            Poll::Ready(None | Some(Err(_))) => drop(this.record.take()),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
