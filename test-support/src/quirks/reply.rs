//! Answers the front makes itself, and forwarding to the registry behind it.

use std::{convert::Infallible, net::SocketAddr};

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(super) type FrontBody = BoxBody<Bytes, BoxError>;

/// Sends `request` on a new connection to `upstream`; `502` when it cannot be reached.
pub(super) async fn forward(
    upstream: SocketAddr,
    request: Request<FrontBody>,
) -> Response<FrontBody> {
    let attempt = async {
        let stream = TcpStream::connect(upstream).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, FrontBody>(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok::<_, BoxError>(sender.send_request(request).await?)
    };
    match attempt.await {
        Ok(response) => response.map(|body| body.map_err(BoxError::from).boxed()),
        Err(err) => plain(
            StatusCode::BAD_GATEWAY,
            &format!("quirk front: the registry did not answer: {err}"),
        ),
    }
}

pub(super) fn full(bytes: Bytes) -> FrontBody {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub(super) fn empty() -> FrontBody {
    full(Bytes::new())
}

pub(super) fn plain(status: StatusCode, text: &str) -> Response<FrontBody> {
    let mut response = Response::new(full(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response
}

pub(super) fn json(status: StatusCode, body: &serde_json::Value) -> Response<FrontBody> {
    let mut response = plain(status, &body.to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(super) fn distribution_error(
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response<FrontBody> {
    json(
        status,
        &serde_json::json!({"errors": [{"code": code, "message": message}]}),
    )
}

/// Cloudflare's answer to a body over its limit: an HTML page, not a distribution error.
pub(super) fn too_large() -> Response<FrontBody> {
    let mut response = plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        "<html><head><title>413 Request Entity Too Large</title></head><body><center>\
         <h1>413 Request Entity Too Large</h1></center><hr><center>cloudflare</center></body></html>",
    );
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
