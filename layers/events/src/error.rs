use std::fmt;

use bytes::Bytes;
use http::{
    header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE},
    HeaderValue, Method, Response, StatusCode,
};
use http_body_util::Full;
use pyoci_core::TEXT_PLAIN;

use crate::Source;

/// What the receiver shows of a name it refuses: enough to find it, never a whole body.
const SHOWN_CHARS: usize = 120;

/// Why a notification was refused. Each answer the receiver gives besides success is one of
/// these; [`EventError::status`] is the one place that maps them to HTTP statuses.
///
/// The messages say what went wrong and what to do. They never repeat a secret, a signature
/// or more than the start of a name from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The path is not `/events/<source>/<registry>` (404).
    NotFound {
        /// The path that was asked for.
        path: String,
    },
    /// A method other than `POST` (405).
    MethodNotAllowed {
        /// The method that was used.
        method: Method,
    },
    /// The source segment names no [`Source`] (404).
    UnknownSource {
        /// The segment as sent.
        name: String,
    },
    /// The registry segment is empty, or not UTF-8 text once percent-decoded (400).
    InvalidRegistry {
        /// The segment as sent.
        segment: String,
    },
    /// No `Authorization: Bearer <secret>` header, or more than one `Authorization` header
    /// (401).
    MissingBearer,
    /// A bearer secret that is not the configured one (401).
    WrongBearer,
    /// A GitHub delivery without `X-Hub-Signature-256` (401).
    MissingSignature,
    /// `X-Hub-Signature-256` is not `sha256=` and 64 hex digits (401).
    MalformedSignature,
    /// `X-Hub-Signature-256` does not match the body for the configured secret (401).
    WrongSignature,
    /// The body is longer than the receiver reads (413).
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The notification names more distinct repositories than the receiver passes on in one
    /// request (413).
    TooManyRepositories {
        /// How many distinct repositories it names.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// As many notifications are being read as the receiver reads at once (503).
    Busy {
        /// The limit.
        limit: usize,
    },
    /// The body could not be read to its end (400).
    UnreadableBody {
        /// What reading it said.
        detail: String,
    },
    /// The body is not what `from` sends (400).
    InvalidPayload {
        /// The source the path named.
        from: Source,
        /// What is wrong with it.
        detail: String,
    },
    /// The notification names something that is not an OCI repository name (400).
    InvalidRepository {
        /// The name, lowercased, as far as it is shown.
        name: String,
    },
    /// The app takes no events for this registry: the sink answered `false` (404).
    RegistryNotTaken {
        /// The registry, percent-decoded.
        registry: String,
    },
}

impl EventError {
    /// The HTTP status the receiver answers with: the one place errors map to statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            EventError::NotFound { .. }
            | EventError::UnknownSource { .. }
            | EventError::RegistryNotTaken { .. } => StatusCode::NOT_FOUND,
            EventError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            EventError::MissingBearer
            | EventError::WrongBearer
            | EventError::MissingSignature
            | EventError::MalformedSignature
            | EventError::WrongSignature => StatusCode::UNAUTHORIZED,
            EventError::BodyTooLarge { .. } | EventError::TooManyRepositories { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            EventError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            EventError::InvalidRegistry { .. }
            | EventError::UnreadableBody { .. }
            | EventError::InvalidPayload { .. }
            | EventError::InvalidRepository { .. } => StatusCode::BAD_REQUEST,
        }
    }

    /// The plain-text answer for this error, with the headers its status calls for.
    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let status = self.status();
        let mut response = text_response(status, self.to_string());
        let headers = response.headers_mut();
        match self {
            EventError::MethodNotAllowed { .. } => {
                headers.insert(ALLOW, HeaderValue::from_static("POST"));
            }
            // The bearer sources: say which scheme is expected, as RFC 9110 asks of a 401.
            EventError::MissingBearer | EventError::WrongBearer => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"pyoci-events\""),
                );
            }
            // A sender that retries (the distribution registry, GitHub) may come back soon.
            EventError::Busy { .. } => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }

    /// An [`EventError::InvalidRepository`] for `name`, cut to what a message shows.
    pub(crate) fn invalid_repository(name: &str) -> Self {
        EventError::InvalidRepository { name: shown(name) }
    }

    /// An [`EventError::InvalidPayload`] from `from`.
    pub(crate) fn payload(from: Source, detail: impl Into<String>) -> Self {
        EventError::InvalidPayload {
            from,
            detail: detail.into(),
        }
    }
}

/// `text`, cut to [`SHOWN_CHARS`] characters with `…` when longer.
fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A `status` answer whose body is `message` and a newline, as plain text.
pub(crate) fn text_response(
    status: StatusCode,
    message: impl Into<String>,
) -> Response<Full<Bytes>> {
    let mut message = message.into();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    response
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::NotFound { path } => write!(
                f,
                "nothing is served at {:?}: PyOCI takes registry events as \
                 POST /events/<source>/<registry>, where <source> is one of {} and \
                 <registry> the registry's host as one percent-encoded path segment",
                shown(path),
                Source::names()
            ),
            EventError::MethodNotAllowed { method } => write!(
                f,
                "{method} is not served here: registry events are sent with POST \
                 to /events/<source>/<registry>"
            ),
            EventError::UnknownSource { name } => write!(
                f,
                "PyOCI takes no events from {:?}: the source segment must be one of {}",
                shown(name),
                Source::names()
            ),
            EventError::InvalidRegistry { segment } => write!(
                f,
                "the registry segment {:?} is not a registry: send the registry's host \
                 (e.g. ghcr.io) as one path segment, percent-encoded UTF-8 \
                 (http%3A%2F%2F127.0.0.1%3A5000 for http://127.0.0.1:5000)",
                shown(segment)
            ),
            EventError::MissingBearer => write!(
                f,
                "registry events must be authenticated: send exactly one \
                 `Authorization: Bearer <secret>` header with PyOCI's event secret \
                 (a custom header of the registry's notification endpoint or webhook)"
            ),
            EventError::WrongBearer => write!(
                f,
                "the bearer secret is not PyOCI's event secret: send the secret PyOCI \
                 is configured with in `Authorization: Bearer <secret>`"
            ),
            EventError::MissingSignature => write!(
                f,
                "GitHub deliveries must be signed: set the webhook's secret to PyOCI's \
                 event secret, so that GitHub sends X-Hub-Signature-256"
            ),
            EventError::MalformedSignature => write!(
                f,
                "X-Hub-Signature-256 must be `sha256=` followed by 64 hex digits, \
                 as GitHub sends it"
            ),
            EventError::WrongSignature => write!(
                f,
                "X-Hub-Signature-256 does not match the body: the webhook's secret is \
                 not PyOCI's event secret, or the body was changed on the way"
            ),
            EventError::BodyTooLarge { limit } => write!(
                f,
                "the notification is larger than the {limit} bytes PyOCI reads: \
                 send fewer events per request"
            ),
            EventError::TooManyRepositories { count, limit } => write!(
                f,
                "the notification names {count} repositories, more than the {limit} \
                 PyOCI takes in one request: nothing was changed; send them in \
                 smaller batches"
            ),
            EventError::Busy { limit } => write!(
                f,
                "PyOCI is already reading {limit} registry events: send this one again \
                 shortly"
            ),
            EventError::UnreadableBody { detail } => {
                write!(f, "the notification's body could not be read: {detail}")
            }
            EventError::InvalidPayload { from, detail } => write!(
                f,
                "the body is not a {} notification: {detail}; check that the path's \
                 source segment ({from}) names the sender",
                describe(*from)
            ),
            EventError::InvalidRepository { name } => write!(
                f,
                "{name:?} is not an OCI repository name (lowercase letters and digits \
                 separated by `.`, `_`, `__` or dashes, in `/`-separated components, at \
                 most 255 characters): nothing was changed"
            ),
            EventError::RegistryNotTaken { registry } => write!(
                f,
                "PyOCI takes no events for registry {registry}: add it to \
                 PYOCI_EVENT_REGISTRIES"
            ),
        }
    }
}

/// What a source's notifications are, for messages.
fn describe(source: Source) -> &'static str {
    match source {
        Source::Distribution => "distribution registry (events envelope)",
        Source::GitHub => "GitHub registry_package or package",
        Source::Harbor => "Harbor (Default payload format)",
        Source::Acr => "Azure Container Registry webhook",
        Source::Changed => "`{\"repositories\": [...]}`",
    }
}

impl std::error::Error for EventError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_in_messages() {
        let name = "a".repeat(10_000);
        let message = EventError::invalid_repository(&name).to_string();
        assert!(message.len() < 400, "{message}");
        assert!(message.contains('…'));
    }

    #[test]
    fn unauthenticated_answers_name_the_scheme_and_busy_ones_a_retry() {
        let response = EventError::WrongBearer.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        let response = EventError::Busy { limit: 8 }.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        let response = EventError::MethodNotAllowed {
            method: Method::GET,
        }
        .into_response();
        assert_eq!(response.headers()[ALLOW], "POST");
        assert_eq!(response.headers()[CONTENT_TYPE], TEXT_PLAIN);
    }

    #[test]
    fn the_unknown_registry_message_says_where_to_add_it() {
        let message = EventError::RegistryNotTaken {
            registry: "ghcr.io".into(),
        }
        .to_string();
        assert_eq!(
            message,
            "PyOCI takes no events for registry ghcr.io: add it to PYOCI_EVENT_REGISTRIES"
        );
    }
}
