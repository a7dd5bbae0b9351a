//! The service: remembers the request's `Accept` for the response future.

use std::task::{Context, Poll};

use http::header::{ACCEPT, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, Request, Response};
use tower::Service;

use pyoci_core::ResponseBody;

use crate::future::ResponseFuture;
use crate::RenderIndexLayer;

/// Middleware rendering index models found in response extensions.
///
/// When the inner service's response carries a [`ProjectPage`](crate::ProjectPage) or a
/// [`ProjectList`](crate::ProjectList) extension, the model is taken out and rendered in the
/// format [`negotiate`](crate::negotiate) picks from the request's `Accept` header: the body
/// is replaced, `Content-Type` set to the concrete format, `Content-Length` dropped, and
/// `Vary: Accept` added. When no format is acceptable the response becomes `406 Not
/// Acceptable` with a plain-text list of the supported types. Other responses pass untouched.
#[derive(Debug, Clone)]
pub struct RenderIndex<S> {
    inner: S,
}

impl<S> RenderIndex<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer() -> RenderIndexLayer {
        RenderIndexLayer::new()
    }

    pyoci_core::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RenderIndex<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let accept = combined(request.headers(), ACCEPT);
        let if_none_match = combined(request.headers(), IF_NONE_MATCH);
        ResponseFuture::new(self.inner.call(request), accept, if_none_match)
    }
}

/// A list header of the request (`Accept`, `If-None-Match`), with repeated header lines
/// joined as one list (RFC 9110 §5.3).
fn combined(headers: &HeaderMap, name: http::header::HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let rest: Vec<&HeaderValue> = values.collect();
    if rest.is_empty() {
        return Some(first.clone());
    }
    let mut joined = first.as_bytes().to_vec();
    for value in rest {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(value.as_bytes());
    }
    HeaderValue::from_bytes(&joined)
        .ok()
        .or_else(|| Some(first.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_accept_lines_are_joined() {
        let mut headers = HeaderMap::new();
        assert_eq!(combined(&headers, ACCEPT), None);
        headers.append(ACCEPT, HeaderValue::from_static("text/html;q=0.1"));
        assert_eq!(combined(&headers, ACCEPT).unwrap(), "text/html;q=0.1");
        headers.append(
            ACCEPT,
            HeaderValue::from_static("application/vnd.pypi.simple.v1+json"),
        );
        assert_eq!(
            combined(&headers, ACCEPT).unwrap(),
            "text/html;q=0.1, application/vnd.pypi.simple.v1+json"
        );
    }
}
