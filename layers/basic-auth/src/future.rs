use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Response, StatusCode};
use pin_project::pin_project;
use pyoci_core::{text_response, ResponseBody};

use crate::AuthorizationError;

/// Response future of [`ExtractCredentials`](crate::ExtractCredentials): the inner service's
/// response, or `400 Bad Request` when the `Authorization` header was malformed.
#[pin_project]
pub struct ResponseFuture<F> {
    #[pin]
    kind: Kind<F>,
}

#[pin_project(project = KindProj)]
enum Kind<F> {
    Inner {
        #[pin]
        future: F,
    },
    Rejected {
        error: AuthorizationError,
    },
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn rejected(error: AuthorizationError) -> Self {
        Self {
            kind: Kind::Rejected { error },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future
                .poll(cx)
                .map_ok(|response| response.map(ResponseBody::inner)),
            KindProj::Rejected { error } => Poll::Ready(Ok(text_response(
                StatusCode::BAD_REQUEST,
                error.to_string(),
            ))),
        }
    }
}
