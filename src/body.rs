//! The one body type inside the stack, so layers and handlers agree on it.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};
use tower::BoxError;

/// A request or response body: any body, boxed.
pub struct Body(UnsyncBoxBody<Bytes, BoxError>);

impl Body {
    /// Boxes any body whose errors can be boxed.
    pub fn new<B>(body: B) -> Self
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body(body.map_err(Into::into).boxed_unsync())
    }

    /// An empty body.
    pub fn empty() -> Self {
        Body::new(Empty::new())
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::new(Full::new(Bytes::from(text)))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::new(Full::new(Bytes::from_static(text.as_bytes())))
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}
