//! The service: checks the content type and hands the inner service a lazy [`Upload`].

use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyDataStream;
use tower::Service;

use pyoci_core::{text_response, ResponseBody};

use crate::error::BoxError;
use crate::future::ResponseFuture;
use crate::{multipart_boundary, FormMemory, ParseUploadLayer, Upload, UploadLimits};

/// Middleware that replaces a `multipart/form-data` request body with an [`Upload`].
///
/// Requests without a usable multipart `Content-Type` get a `400` with a plain-text
/// explanation and never reach the inner service. Nothing is read from the body here.
#[derive(Debug, Clone)]
pub struct ParseUpload<S> {
    inner: S,
    limits: UploadLimits,
    memory: FormMemory,
}

impl<S> ParseUpload<S> {
    /// Wraps `inner`, applying `limits` to every upload, whose fields share a default
    /// [`FormMemory`].
    pub fn new(inner: S, limits: UploadLimits) -> Self {
        Self {
            inner,
            limits,
            memory: FormMemory::default(),
        }
    }

    /// Holds the text fields of every upload within `memory`.
    pub fn within(mut self, memory: FormMemory) -> Self {
        self.memory = memory;
        self
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer() -> ParseUploadLayer {
        ParseUploadLayer::new()
    }

    pyoci_core::inner_service_accessors!();
}

impl<S, B, ResBody> Service<Request<B>> for ParseUpload<S>
where
    S: Service<Request<Upload>, Response = Response<ResBody>>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match multipart_boundary(request.headers().get(CONTENT_TYPE)) {
            Ok(boundary) => {
                let (parts, body) = request.into_parts();
                let declared = parts
                    .headers
                    .get(CONTENT_LENGTH)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse().ok());
                let upload = Upload::with_declared_length(
                    boundary,
                    BodyDataStream::new(body),
                    self.limits,
                    declared,
                )
                .within(&self.memory);
                ResponseFuture::inner(self.inner.call(Request::from_parts(parts, upload)))
            }
            Err(error) => {
                ResponseFuture::rejected(text_response(StatusCode::BAD_REQUEST, error.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use futures_util::{stream, TryStreamExt};
    use http_body_util::{BodyExt, Full, StreamBody};
    use tower::{service_fn, Layer, ServiceExt};

    use super::*;
    use crate::{ParseUploadLayer, UploadError};

    const BOUNDARY: &str = "xYzZY";

    fn body_with_file(content: &[u8]) -> Vec<u8> {
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"demo-1.0.tar.gz\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(
            format!(
                "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"protocol_version\"\r\n\r\n1\r\n--{BOUNDARY}--\r\n"
            )
            .as_bytes(),
        );
        body
    }

    /// A handler echoing `<action> <filename> <protocol_version> <content>`.
    async fn echo(request: Request<Upload>) -> Result<Response<String>, UploadError> {
        let mut upload = request.into_body();
        let file = upload.next_file().await?;
        let filename = file.filename().to_owned();
        let content = file.map_ok(|chunk| chunk.to_vec()).try_concat().await?;
        let form = upload.finish().await?;
        Ok(Response::new(format!(
            "{} {filename} {} {}",
            form.get(":action").unwrap_or_default(),
            form.get("protocol_version").unwrap_or_default(),
            String::from_utf8_lossy(&content),
        )))
    }

    async fn text_of(response: Response<ResponseBody<String>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn multipart_request<B>(body: B) -> Request<B> {
        Request::post("/upload/")
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .unwrap()
    }

    #[tokio::test]
    async fn hands_the_upload_to_the_inner_service() {
        let service = ParseUploadLayer::new().layer(service_fn(echo));
        let request = multipart_request(Full::new(Bytes::from(body_with_file(b"sdist"))));
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(
            text_of(response).await,
            "file_upload demo-1.0.tar.gz 1 sdist"
        );
    }

    #[tokio::test]
    async fn file_split_over_many_small_frames_arrives_intact() {
        let content: Vec<u8> = b"\r\n--xYzZ\r\n-".repeat(500);
        let frames: Vec<_> = body_with_file(&content)
            .chunks(3)
            .map(|chunk| Ok::<_, Infallible>(http_body::Frame::data(Bytes::copy_from_slice(chunk))))
            .collect();
        let body = StreamBody::new(stream::iter(frames));
        let service = ParseUploadLayer::new().layer(service_fn(echo));
        let response = service.oneshot(multipart_request(body)).await.unwrap();
        let expected = format!(
            "file_upload demo-1.0.tar.gz 1 {}",
            String::from_utf8_lossy(&content)
        );
        assert_eq!(text_of(response).await, expected);
    }

    #[tokio::test]
    async fn keeps_method_uri_headers_and_extensions() {
        #[derive(Clone, PartialEq, Debug)]
        struct Marker(u8);
        let service =
            ParseUploadLayer::new().layer(service_fn(|request: Request<Upload>| async move {
                assert_eq!(request.method(), http::Method::POST);
                assert_eq!(request.uri(), "/upload/");
                assert_eq!(request.headers()["x-client"], "twine");
                assert_eq!(request.extensions().get(), Some(&Marker(7)));
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
        let mut request = multipart_request(Full::new(Bytes::new()));
        request
            .headers_mut()
            .insert("x-client", http::HeaderValue::from_static("twine"));
        request.extensions_mut().insert(Marker(7));
        service.oneshot(request).await.unwrap();
    }

    #[tokio::test]
    async fn the_layer_reads_nothing_from_the_body() {
        let polled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&polled);
        let body = StreamBody::new(stream::poll_fn(move |_| {
            flag.store(true, Ordering::SeqCst);
            std::task::Poll::Ready(None::<Result<http_body::Frame<Bytes>, Infallible>>)
        }));
        let service = ParseUploadLayer::new().layer(service_fn(|_: Request<Upload>| async {
            Ok::<_, Infallible>(Response::new(String::from("not read")))
        }));
        let response = service.oneshot(multipart_request(body)).await.unwrap();
        assert_eq!(text_of(response).await, "not read");
        assert!(!polled.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn wrong_content_type_is_answered_with_400_without_calling_inner() {
        let service = ParseUploadLayer::new().layer(service_fn(|_: Request<Upload>| async {
            panic!("the inner service must not be called");
            #[allow(unreachable_code)]
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        }));
        let request = Request::post("/")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b":action=file_upload")))
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let text = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            text,
            "the Content-Type `application/x-www-form-urlencoded` is not multipart/form-data; \
             send the upload as `multipart/form-data` with a boundary, as twine, uv publish and poetry do\n"
        );
    }

    #[tokio::test]
    async fn missing_content_type_is_answered_with_400() {
        let service = ParseUploadLayer::new().layer(service_fn(echo));
        let request = Request::post("/").body(Full::new(Bytes::new())).unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(text_of(response)
            .await
            .starts_with("the request has no Content-Type header"));
    }

    #[tokio::test]
    async fn layer_limits_reach_the_upload() {
        let service = ParseUploadLayer::new()
            .max_text_field_size(4)
            .layer(service_fn(echo));
        let request = multipart_request(Full::new(Bytes::from(body_with_file(b"x"))));
        let error = service.oneshot(request).await.unwrap_err();
        assert_eq!(error.to_string(), "field `:action` is larger than 4 bytes");

        let service = ParseUploadLayer::new()
            .max_fields(1)
            .layer(service_fn(echo));
        let request = multipart_request(Full::new(Bytes::from(body_with_file(b"x"))));
        let error = service.oneshot(request).await.unwrap_err();
        assert!(
            matches!(error, UploadError::TooManyFields { limit: 1 }),
            "{error:?}"
        );
    }
}
