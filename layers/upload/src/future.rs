//! The response future of [`ParseUpload`](crate::ParseUpload).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project::pin_project;
use pyoci_core::ResponseBody;

/// Resolves to the inner service's response, or to the `400` given for a request that is not
/// a multipart upload.
#[pin_project]
pub struct ResponseFuture<F, B> {
    #[pin]
    kind: Kind<F, B>,
}

#[pin_project(project = KindProj)]
enum Kind<F, B> {
    Inner(#[pin] F),
    /// `None` once handed out.
    Rejected(Option<Response<ResponseBody<B>>>),
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner(future),
        }
    }

    pub(crate) fn rejected(response: Response<ResponseBody<B>>) -> Self {
        Self {
            kind: Kind::Rejected(Some(response)),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner(future) => future
                .poll(cx)
                .map_ok(|response| response.map(ResponseBody::inner)),
            // Polling again after completion breaks the Future contract; stay pending rather
            // than panic on a request path.
            KindProj::Rejected(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
        }
    }
}
