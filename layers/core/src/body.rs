//! A response body that is either the inner service's or one the layer wrote.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;

/// The body of a layer's response: the inner service's body `B`, passed through untouched,
/// or a text the layer wrote in its place. Its errors are the inner body's (a text cannot
/// fail), so it stacks over any body whose data is [`Bytes`].
#[pin_project]
#[derive(Debug)]
pub struct ResponseBody<B> {
    #[pin]
    kind: Kind<B>,
}

#[pin_project(project = KindProj)]
#[derive(Debug)]
enum Kind<B> {
    Inner(#[pin] B),
    /// `None` once its one frame is handed out.
    Text(Option<Bytes>),
}

impl<B> ResponseBody<B> {
    /// The inner service's body, passed through.
    pub fn inner(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner(body),
        }
    }

    /// A body the layer wrote.
    pub fn text(text: impl Into<Bytes>) -> Self {
        let text = text.into();
        ResponseBody {
            kind: Kind::Text((!text.is_empty()).then_some(text)),
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner(body) => body.poll_frame(cx),
            KindProj::Text(text) => Poll::Ready(text.take().map(|text| Ok(Frame::data(text)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner(body) => body.is_end_stream(),
            Kind::Text(text) => text.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner(body) => body.size_hint(),
            Kind::Text(text) => SizeHint::with_exact(text.as_ref().map_or(0, |t| t.len() as u64)),
        }
    }
}
