use std::fmt;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pyoci_core::{describe_chain, error_chain};
use serde::Deserialize;

use crate::AddressRefused;

/// Everything that can go wrong while talking to a registry.
///
/// The messages are meant for the person running pip or twine: they say what failed and,
/// where there is something to do, what to do. [`OciError::status_hint`] maps each variant
/// to the HTTP status the proxy should answer with.
#[derive(Debug)]
pub enum OciError {
    /// The registry answered 401 even after the token layer did its best: the credentials
    /// are missing, wrong, or not allowed to obtain a token for this repository.
    Unauthorized,
    /// The registry answered 403: the credentials are valid but lack permission.
    Forbidden,
    /// The registry answered 404 (`NAME_UNKNOWN`, `MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`...).
    NotFound {
        /// What was looked for, e.g. `manifest acme/hello:1.0 (MANIFEST_UNKNOWN)`.
        what: String,
    },
    /// The registry answered 404 to the start of an upload: the repository (ECR) or its
    /// project (Harbor) does not exist, and this registry does not create it on push.
    RepositoryMissing {
        /// The repository the upload was for.
        repository: String,
        /// What the registry said.
        what: String,
    },
    /// The registry answered 405 to a DELETE: it does not allow deletes.
    DeleteUnsupported,
    /// The registry refused the request with another 4xx status.
    Rejected {
        /// The status the registry answered with.
        status: StatusCode,
        /// The distribution error code (`MANIFEST_INVALID`, `DIGEST_INVALID`...), when sent.
        code: Option<String>,
        /// The registry's explanation.
        message: String,
    },
    /// The registry answered with a 5xx status.
    RegistryFailed {
        /// The status the registry answered with.
        status: StatusCode,
        /// The registry's explanation.
        message: String,
    },
    /// The request never got an answer: connection refused or reset, DNS failure, TLS
    /// error... The text names the registry and the cause.
    Unreachable(String),
    /// The registry did not answer in time (an attempt deadline, or a connect or read
    /// timeout). The text names the registry and the limit.
    TimedOut(String),
    /// The registry answered, but not with what the distribution spec promises
    /// (unparseable JSON, missing `Location` header, unexpected media type...).
    InvalidResponse(String),
    /// The streamed request body failed, e.g. the uploading client disconnected.
    Body(String),
    /// A value given to this crate is not valid: a repository name, tag, digest, media type
    /// or registry address.
    InvalidInput(String),
    /// The [`AddressPolicy`](crate::AddressPolicy) refused the address the registry, its
    /// token service or a redirect leads to.
    AddressRefused(AddressRefused),
}

impl OciError {
    /// Whether the registry refused a conditional request because what it was conditioned
    /// on changed (412 Precondition Failed): re-read and decide again.
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, OciError::Rejected { status, .. } if *status == StatusCode::PRECONDITION_FAILED)
    }

    /// The HTTP status the proxy should answer with when this error ends a request.
    ///
    /// Unauthorized → 401, Forbidden and AddressRefused → 403, NotFound → 404,
    /// DeleteUnsupported → 405, InvalidInput → 400, a failed upload body → 400, a registry's
    /// 416 (bad `Range`) → 416, a registry's 429, 503 and 504 passed on as they are (clients
    /// know to come back later), TimedOut → 504, everything else (the registry misbehaved or
    /// could not be reached) → 502.
    pub fn status_hint(&self) -> StatusCode {
        match self {
            OciError::Unauthorized => StatusCode::UNAUTHORIZED,
            OciError::Forbidden | OciError::AddressRefused(_) => StatusCode::FORBIDDEN,
            OciError::NotFound { .. } | OciError::RepositoryMissing { .. } => StatusCode::NOT_FOUND,
            OciError::DeleteUnsupported => StatusCode::METHOD_NOT_ALLOWED,
            OciError::InvalidInput(_) | OciError::Body(_) => StatusCode::BAD_REQUEST,
            OciError::Rejected { status, .. }
                if *status == StatusCode::RANGE_NOT_SATISFIABLE
                    || *status == StatusCode::TOO_MANY_REQUESTS =>
            {
                *status
            }
            OciError::RegistryFailed { status, .. }
                if *status == StatusCode::SERVICE_UNAVAILABLE
                    || *status == StatusCode::GATEWAY_TIMEOUT =>
            {
                *status
            }
            OciError::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
            OciError::Rejected { .. }
            | OciError::RegistryFailed { .. }
            | OciError::Unreachable(_)
            | OciError::InvalidResponse(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The distribution error code of a [`OciError::NotFound`], e.g. `NAME_UNKNOWN` (a
    /// repository the registry does not have) or `MANIFEST_UNKNOWN`, if the registry sent one.
    pub fn not_found_code(&self) -> Option<&str> {
        match self {
            OciError::NotFound { what } => not_found_code(what),
            _ => None,
        }
    }

    /// The distribution error code of a [`OciError::Rejected`], e.g. `DIGEST_INVALID`.
    pub fn code(&self) -> Option<&str> {
        match self {
            OciError::Rejected { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for OciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OciError::Unauthorized => f.write_str(
                "the registry refused the credentials (401 Unauthorized): check the username and \
                 password or token, and that they may access this repository",
            ),
            OciError::Forbidden => f.write_str(
                "the registry denied access (403 Forbidden): the credentials are valid but lack \
                 permission for this repository or action",
            ),
            OciError::NotFound { what } => write!(f, "{what} was not found in the registry"),
            OciError::RepositoryMissing { repository, what } => {
                let project = repository.split('/').next().unwrap_or(repository);
                write!(
                    f,
                    "the registry has no repository {repository} and does not create one on \
                     push ({what}): create it first (AWS ECR: `aws ecr create-repository \
                     --repository-name {repository}`; Harbor: create the project `{project}`), \
                     then upload again"
                )
            }
            OciError::DeleteUnsupported => f.write_str(
                "the registry does not allow deletes (405 Method Not Allowed): delete with the \
                 registry's own tools, or enable deletes in its configuration",
            ),
            OciError::Rejected {
                status,
                code,
                message,
            } => {
                write!(f, "the registry rejected the request ({status}")?;
                if let Some(code) = code {
                    write!(f, ", {code}")?;
                }
                write!(f, "): {message}")
            }
            OciError::RegistryFailed { status, message } => write!(
                f,
                "the registry failed ({status}): {message}; try again later"
            ),
            OciError::Unreachable(reason) => write!(
                f,
                "{reason}; check the registry address and that it is up, then try again"
            ),
            OciError::TimedOut(reason) => write!(f, "{reason}; try again later"),
            OciError::InvalidResponse(reason) => {
                write!(f, "the registry sent an unexpected response: {reason}")
            }
            OciError::Body(reason) => write!(
                f,
                "the upload was interrupted while reading its body: {reason}; retry the upload"
            ),
            OciError::InvalidInput(reason) => f.write_str(reason),
            OciError::AddressRefused(refused) => write!(f, "{refused}"),
        }
    }
}

impl std::error::Error for OciError {}

/// Error bodies are only read to build a message, so a little is plenty.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Registry messages longer than this are cut, so one bad answer cannot flood a log or a page.
const MESSAGE_LIMIT: usize = 300;

/// Passes a successful (2xx) response through; turns any other into the matching error,
/// reading the distribution error body. The one place where statuses become errors.
pub(crate) async fn check(
    method: &Method,
    response: http::Response<reqwest::Body>,
    what: &str,
) -> Result<http::Response<reqwest::Body>, OciError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_body(response.into_body(), ERROR_BODY_LIMIT, "error body")
        .await
        .unwrap_or_default();
    Err(error_for_status(method, status, &body, what))
}

/// Maps a registry's non-success answer to an [`OciError`].
///
/// `what` names the resource for [`OciError::NotFound`]; `body` is the (possibly empty)
/// response body, parsed as a distribution error document when it is one.
pub fn error_for_status(method: &Method, status: StatusCode, body: &[u8], what: &str) -> OciError {
    let (code, message) = describe_error_body(body, status);
    match status {
        StatusCode::UNAUTHORIZED => OciError::Unauthorized,
        StatusCode::FORBIDDEN => OciError::Forbidden,
        StatusCode::NOT_FOUND => OciError::NotFound {
            what: match code {
                Some(code) => format!("{what} ({code})"),
                None => what.to_owned(),
            },
        },
        StatusCode::METHOD_NOT_ALLOWED if method == Method::DELETE => OciError::DeleteUnsupported,
        status if status.is_client_error() => OciError::Rejected {
            status,
            code,
            message,
        },
        status if status.is_server_error() => OciError::RegistryFailed { status, message },
        status => {
            OciError::InvalidResponse(format!("unexpected status {status} for {method} of {what}"))
        }
    }
}

/// The distribution error code a [`OciError::NotFound`] carries (as `error_for_status`
/// wrote it: `<what> (<CODE>)`), if the registry sent one.
pub(crate) fn not_found_code(what: &str) -> Option<&str> {
    what.strip_suffix(')')?
        .rsplit_once(" (")
        .map(|(_, code)| code)
}

#[derive(Deserialize)]
struct ErrorDocument {
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    code: Option<String>,
    message: Option<String>,
    detail: Option<serde_json::Value>,
}

/// The first error code and a readable message from a distribution error body
/// (`{"errors":[{"code","message","detail"}]}`), or the body as text when it is not one.
fn describe_error_body(body: &[u8], status: StatusCode) -> (Option<String>, String) {
    if let Ok(document) = serde_json::from_slice::<ErrorDocument>(body) {
        let code = document.errors.iter().find_map(|entry| entry.code.clone());
        let messages: Vec<String> = document.errors.iter().map(describe_entry).collect();
        let message = messages.join("; ");
        if !message.is_empty() {
            return (code, truncate(&message));
        }
        return (code, status_reason(status));
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        (None, status_reason(status))
    } else {
        (None, truncate(text))
    }
}

fn describe_entry(entry: &ErrorEntry) -> String {
    let mut text = entry
        .message
        .clone()
        .or_else(|| entry.code.clone())
        .unwrap_or_default();
    match &entry.detail {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(detail)) if detail.is_empty() => {}
        Some(serde_json::Value::String(detail)) => text.push_str(&format!(" ({detail})")),
        Some(detail) => text.push_str(&format!(" ({detail})")),
    }
    text
}

fn status_reason(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("no explanation")
        .to_owned()
}

/// Cuts `text` to [`MESSAGE_LIMIT`] characters and drops control characters, so a registry
/// message can go into a log line or an error page as it is.
fn truncate(text: &str) -> String {
    let mut cut: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MESSAGE_LIMIT)
        .collect();
    if text.chars().count() > MESSAGE_LIMIT {
        cut.push('…');
    }
    cut
}

/// Reads a whole response body of at most `limit` bytes; `what` names it in errors. A
/// larger body is [`OciError::InvalidResponse`], a registry that stops sending
/// [`OciError::TimedOut`], a broken connection [`OciError::Unreachable`].
pub async fn read_body(body: reqwest::Body, limit: usize, what: &str) -> Result<Bytes, OciError> {
    read_within(body, limit, what).await?.ok_or_else(|| {
        OciError::InvalidResponse(format!("the {what} is larger than {limit} bytes"))
    })
}

/// [`read_body`], with a body larger than `limit` as `None` rather than an error, for a
/// caller to whom that means something other than a broken registry.
pub(crate) async fn read_within(
    body: reqwest::Body,
    limit: usize,
    what: &str,
) -> Result<Option<Bytes>, OciError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(Some(collected.to_bytes())),
        Err(error) if error.is::<LengthLimitError>() => Ok(None),
        // A registry that stopped sending in the middle (the response body's idle timeout).
        Err(error) if is_timeout(error.as_ref()) => Err(OciError::TimedOut(format!(
            "the registry stopped sending the {what} ({})",
            describe_chain(error.as_ref())
        ))),
        Err(error) => Err(OciError::Unreachable(format!(
            "the connection to the registry broke while reading the {what}: {}",
            describe_chain(error.as_ref())
        ))),
    }
}

/// The error for a request to `origin` (`host[:port]`) that got no answer:
/// [`OciError::TimedOut`] when a timeout anywhere in the chain caused it (an `io::Error` of
/// kind `TimedOut`, as the retry layer's attempt deadline is, a reqwest timeout, or a
/// response body's idle timeout),
/// [`OciError::Unreachable`] otherwise. Both messages name the registry.
pub(crate) fn transport_error(origin: &str, error: &(dyn std::error::Error + 'static)) -> OciError {
    let reason = describe_chain(error);
    if answered_tls_in_plain_http(&reason) {
        return OciError::Unreachable(format!(
            "registry {origin} did not answer in TLS (https): it looks like a plain-http \
             registry; name it in the URL as {} ({reason})",
            plain_http_segment(origin)
        ));
    }
    if is_timeout(error) {
        OciError::TimedOut(format!(
            "registry {origin} did not answer in time ({reason})"
        ))
    } else {
        OciError::Unreachable(format!("registry {origin} is unreachable: {reason}"))
    }
}

/// Whether a TLS handshake failed because the other side answered in something else:
/// rustls's words for a record whose type byte is no TLS record type, which is what the
/// first byte of `HTTP/1.1 400 …` is.
fn answered_tls_in_plain_http(reason: &str) -> bool {
    reason.contains("InvalidContentType")
}

/// The URL segment that names `origin` (`host:port`) as a plain-http registry.
fn plain_http_segment(origin: &str) -> String {
    format!("http%3A%2F%2F{}", origin.replace(':', "%3A"))
}

fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    error_chain(error).any(|error| {
        error.is::<pyoci_body_timeout::IdleTimeout>()
            || error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || error
                .downcast_ref::<reqwest::Error>()
                .is_some_and(reqwest::Error::is_timeout)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(method: Method, status: u16, body: &str) -> OciError {
        let status = StatusCode::from_u16(status).unwrap();
        error_for_status(&method, status, body.as_bytes(), "manifest acme/x:1.0")
    }

    #[test]
    fn statuses_map_to_variants_and_hints() {
        let cases = [
            (Method::GET, 401, StatusCode::UNAUTHORIZED),
            (Method::GET, 403, StatusCode::FORBIDDEN),
            (Method::GET, 404, StatusCode::NOT_FOUND),
            (Method::DELETE, 405, StatusCode::METHOD_NOT_ALLOWED),
            (Method::PUT, 405, StatusCode::BAD_GATEWAY),
            (Method::PUT, 400, StatusCode::BAD_GATEWAY),
            (Method::GET, 500, StatusCode::BAD_GATEWAY),
            (Method::GET, 416, StatusCode::RANGE_NOT_SATISFIABLE),
            (Method::GET, 429, StatusCode::TOO_MANY_REQUESTS),
            (Method::GET, 502, StatusCode::BAD_GATEWAY),
            (Method::GET, 503, StatusCode::SERVICE_UNAVAILABLE),
            (Method::PUT, 504, StatusCode::GATEWAY_TIMEOUT),
        ];
        for (method, status, hint) in cases {
            let error = map(method.clone(), status, "");
            assert_eq!(error.status_hint(), hint, "{method} {status}: {error:?}");
        }
        assert!(matches!(map(Method::GET, 401, ""), OciError::Unauthorized));
        assert!(matches!(map(Method::GET, 403, ""), OciError::Forbidden));
        assert!(matches!(
            map(Method::DELETE, 405, ""),
            OciError::DeleteUnsupported
        ));
        assert!(matches!(
            map(Method::PUT, 405, ""),
            OciError::Rejected { status, .. } if status == StatusCode::METHOD_NOT_ALLOWED
        ));
    }

    #[test]
    fn distribution_error_body_gives_code_and_message() {
        let body = r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content","detail":"sha256:abc"}]}"#;
        let error = map(Method::PUT, 400, body);
        match &error {
            OciError::Rejected {
                status,
                code,
                message,
            } => {
                assert_eq!(*status, StatusCode::BAD_REQUEST);
                assert_eq!(code.as_deref(), Some("DIGEST_INVALID"));
                assert_eq!(
                    message,
                    "provided digest did not match uploaded content (sha256:abc)"
                );
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
        assert_eq!(error.code(), Some("DIGEST_INVALID"));
        assert!(error.to_string().contains("DIGEST_INVALID"), "{error}");
    }

    #[test]
    fn not_found_names_the_resource_and_code() {
        let body = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        let error = map(Method::GET, 404, body);
        assert_eq!(
            error.to_string(),
            "manifest acme/x:1.0 (MANIFEST_UNKNOWN) was not found in the registry"
        );
    }

    #[test]
    fn plain_text_and_empty_bodies_still_explain() {
        match map(Method::GET, 503, "upstream\nconnect error") {
            OciError::RegistryFailed { message, .. } => {
                assert_eq!(message, "upstreamconnect error")
            }
            other => panic!("expected RegistryFailed, got {other:?}"),
        }
        match map(Method::GET, 500, "") {
            OciError::RegistryFailed { message, .. } => {
                assert_eq!(message, "Internal Server Error")
            }
            other => panic!("expected RegistryFailed, got {other:?}"),
        }
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(5000);
        match map(Method::PUT, 400, &long) {
            OciError::Rejected { message, .. } => {
                assert_eq!(message.chars().count(), MESSAGE_LIMIT + 1)
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[test]
    fn transport_errors_name_the_registry_and_tell_timeouts_apart() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = transport_error("127.0.0.1:5000", &refused);
        assert!(matches!(error, OciError::Unreachable(_)), "{error:?}");
        assert_eq!(error.status_hint(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            error.to_string(),
            "registry 127.0.0.1:5000 is unreachable: refused; check the registry address and \
             that it is up, then try again"
        );

        let deadline = std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 30 s");
        let wrapped: Box<dyn std::error::Error + Send + Sync> = Box::new(deadline);
        let error = transport_error("ghcr.io", wrapped.as_ref());
        assert!(matches!(error, OciError::TimedOut(_)), "{error:?}");
        assert_eq!(error.status_hint(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            error.to_string(),
            "registry ghcr.io did not answer in time (no answer within 30 s); try again later"
        );
    }

    #[test]
    fn redirects_that_were_not_followed_are_invalid_responses() {
        assert!(matches!(
            map(Method::GET, 307, ""),
            OciError::InvalidResponse(_)
        ));
    }
}
