use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderMap, Request, Response};
use tower::Service;

use pyoci_core::ResponseBody;

use crate::future::ResponseFuture;
use crate::{parse_authorization, AuthorizationError, Credentials, ExtractCredentialsLayer};

/// Puts the caller's [`Credentials`] into the request extensions, then calls the inner service.
///
/// A malformed `Authorization` header is answered with `400 Bad Request` without calling the
/// inner service. The header itself is removed from the request, so that nothing downstream can
/// forward or log it by accident. Created by [`ExtractCredentialsLayer`](crate::ExtractCredentialsLayer).
#[derive(Debug, Clone)]
pub struct ExtractCredentials<S> {
    inner: S,
    bearer_username: Option<Arc<str>>,
}

impl<S> ExtractCredentials<S> {
    /// Wraps `inner`; no username is read as a bearer token (see
    /// [`ExtractCredentialsLayer::bearer_username`]).
    pub fn new(inner: S) -> Self {
        Self::with_bearer_username(inner, None)
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer() -> ExtractCredentialsLayer {
        ExtractCredentialsLayer::new()
    }

    pyoci_core::inner_service_accessors!();

    pub(crate) fn with_bearer_username(inner: S, bearer_username: Option<Arc<str>>) -> Self {
        Self {
            inner,
            bearer_username,
        }
    }

    fn credentials(&self, headers: &HeaderMap) -> Result<Credentials, AuthorizationError> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Ok(Credentials::Anonymous);
        };
        if values.next().is_some() {
            return Err(AuthorizationError::MoreThanOne);
        }
        match parse_authorization(value.as_bytes())? {
            Credentials::Basic { username, password }
                if self.bearer_username.as_deref() == Some(username.as_str()) =>
            {
                let token = password.expose();
                if token.is_empty() {
                    Err(AuthorizationError::BearerUsernameWithoutToken)
                } else if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
                    Err(AuthorizationError::BearerMalformedToken)
                } else {
                    Ok(Credentials::Bearer(password))
                }
            }
            credentials => Ok(credentials),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ExtractCredentials<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match self.credentials(req.headers()) {
            Ok(credentials) => {
                req.headers_mut().remove(AUTHORIZATION);
                req.extensions_mut().insert(credentials);
                ResponseFuture::inner(self.inner.call(req))
            }
            Err(error) => ResponseFuture::rejected(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::{header, StatusCode};
    use http_body_util::{BodyExt, Full};
    use tower::{service_fn, Layer, ServiceExt};

    use super::*;
    use crate::ExtractCredentialsLayer;

    type Body = Full<bytes::Bytes>;

    /// Echoes the credentials it received, in `Debug` form plus the exposed secret.
    async fn echo_credentials(req: Request<Body>) -> Result<Response<Body>, Infallible> {
        let text = match req.extensions().get::<Credentials>() {
            None => "missing".to_owned(),
            Some(Credentials::Anonymous) => "anonymous".to_owned(),
            Some(Credentials::Basic { username, password }) => {
                format!("basic {username} {}", password.expose())
            }
            Some(Credentials::Bearer(token)) => format!("bearer {}", token.expose()),
        };
        let text = if req.headers().contains_key(AUTHORIZATION) {
            format!("{text} +header")
        } else {
            text
        };
        Ok(Response::new(Body::from(text)))
    }

    async fn send(
        layer: ExtractCredentialsLayer,
        authorization: &[&str],
    ) -> (StatusCode, String, Option<String>) {
        let service = layer.layer(service_fn(echo_credentials));
        let mut req = Request::builder().uri("/simple/");
        for value in authorization {
            req = req.header(AUTHORIZATION, *value);
        }
        let response = service
            .oneshot(req.body(Body::default()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            String::from_utf8(body.to_vec()).unwrap(),
            content_type,
        )
    }

    #[tokio::test]
    async fn inserts_anonymous_without_header() {
        let (status, body, _) = send(ExtractCredentialsLayer::new(), &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "anonymous");
    }

    #[tokio::test]
    async fn inserts_basic_credentials_and_drops_the_header() {
        // alice:s3cret
        let (status, body, _) =
            send(ExtractCredentialsLayer::new(), &["Basic YWxpY2U6czNjcmV0"]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "basic alice s3cret");
    }

    #[tokio::test]
    async fn inserts_bearer_credentials() {
        let (_, body, _) = send(ExtractCredentialsLayer::new(), &["Bearer tok.en"]).await;
        assert_eq!(body, "bearer tok.en");
    }

    #[tokio::test]
    async fn malformed_header_is_400_without_calling_inner() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let service =
            ExtractCredentialsLayer::new().layer(service_fn(move |req: Request<Body>| {
                counted.fetch_add(1, Ordering::SeqCst);
                echo_credentials(req)
            }));
        let req = Request::builder()
            .header(AUTHORIZATION, "Basic !!!")
            .body(Body::default())
            .unwrap();
        let response = service.oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("{}\n", AuthorizationError::BasicNotBase64));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn two_headers_are_400() {
        let (status, body, content_type) =
            send(ExtractCredentialsLayer::new(), &["Bearer a", "Bearer b"]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, format!("{}\n", AuthorizationError::MoreThanOne));
        assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
    }

    #[tokio::test]
    async fn bearer_username_turns_password_into_token() {
        let layer = ExtractCredentialsLayer::new().bearer_username("__token__");
        // __token__:reg-token:with-colon
        let (status, body, _) = send(
            layer.clone(),
            &["Basic X190b2tlbl9fOnJlZy10b2tlbjp3aXRoLWNvbG9u"],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "bearer reg-token:with-colon");

        // Other usernames stay Basic (alice:s3cret).
        let (_, body, _) = send(layer.clone(), &["Basic YWxpY2U6czNjcmV0"]).await;
        assert_eq!(body, "basic alice s3cret");

        // __token__: with no token is an error, not an empty bearer token.
        let (status, body, _) = send(layer.clone(), &["Basic X190b2tlbl9fOg=="]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            format!("{}\n", AuthorizationError::BearerUsernameWithoutToken)
        );

        // The token is sent on in a header of its own: "__token__:a b" is refused.
        let (status, body, _) = send(layer, &["Basic X190b2tlbl9fOmEgYg=="]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            format!("{}\n", AuthorizationError::BearerMalformedToken)
        );
    }

    #[tokio::test]
    async fn without_bearer_username_basic_stays_basic() {
        // __token__:abc
        let (_, body, _) = send(
            ExtractCredentialsLayer::new(),
            &["Basic X190b2tlbl9fOmFiYw=="],
        )
        .await;
        assert_eq!(body, "basic __token__ abc");
    }

    /// The inner body need not be made from a `String`: the 400 is the layer's own body.
    #[tokio::test]
    async fn answers_over_any_inner_body() {
        let service = ExtractCredentials::new(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
        }));
        let request = Request::builder()
            .header(AUTHORIZATION, "Basic !!")
            .body(())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(!body.is_empty());
    }
}
