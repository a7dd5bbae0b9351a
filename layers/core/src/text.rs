//! The plain-text answer a layer gives for a request it refuses.

use http::{header::CONTENT_TYPE, HeaderValue, Response, StatusCode};

use crate::ResponseBody;

/// The `Content-Type` of every message PyOCI writes for people.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A `status` response whose body is `message` and a newline, as `text/plain`: what pip,
/// twine and curl show the user, so it says what to do.
pub fn text_response<B>(
    status: StatusCode,
    message: impl Into<String>,
) -> Response<ResponseBody<B>> {
    let mut message = message.into();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let mut response = Response::new(ResponseBody::text(message));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    response
}
