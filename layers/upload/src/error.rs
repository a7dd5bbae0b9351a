//! The one error type of this crate.

use std::error::Error as StdError;
use std::fmt;

/// A boxed error, as carried by request bodies.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Why an upload could not be read.
///
/// Every variant describes a malformed request and deserves a `400 Bad Request` whose body is
/// this error's `Display` text (or `413` for [`UploadError::FormTooLarge`]), except three
/// that [`UploadError::is_client_error`] reports as `false`:
///
/// - [`UploadError::BodyRead`]: the request body itself failed, most often because the client
///   disconnected (nobody is left to read a response) or because a body limit layer below us
///   stopped the read (look at [`std::error::Error::source`] to tell, e.g. to answer `413`).
/// - [`UploadError::OutOfOrder`]: the handler used [`Upload`](crate::Upload) against its
///   contract; that is a bug on our side and deserves a `500`.
/// - [`UploadError::FormMemoryBusy`]: other uploads fill the shared budget for form fields;
///   it deserves a `503`, and the same upload a moment later may succeed.
#[derive(Debug)]
#[non_exhaustive]
pub enum UploadError {
    /// The `Content-Type` header is missing, is not `multipart/form-data`, or has no boundary.
    ContentType {
        /// What is wrong with the header.
        problem: String,
    },
    /// The body stopped before the closing boundary.
    EndedEarly {
        /// The parser's description of where it stopped.
        detail: String,
    },
    /// A part's headers could not be parsed.
    MalformedPart {
        /// The parser's description of the problem.
        detail: String,
    },
    /// A part has no `name` in its `Content-Disposition` header.
    UnnamedPart,
    /// The body ended without a `content` part.
    MissingContent,
    /// The `content` part has no (or an empty) `filename`.
    MissingFilename,
    /// A file part other than the one `content` part was sent (a second file, or a file under
    /// another name).
    ExtraFile {
        /// The name of the unexpected part.
        name: String,
    },
    /// A text field is larger than the configured limit.
    FieldTooLarge {
        /// The field's name, as sent.
        name: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The text fields together are larger than the configured limit.
    FormTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The text fields of all uploads in progress fill their shared [`FormMemory`] budget.
    /// Not a client error: the server is busy, the same upload may succeed a moment later.
    ///
    /// [`FormMemory`]: crate::FormMemory
    FormMemoryBusy,
    /// The body has more text fields than the configured limit.
    TooManyFields {
        /// The limit.
        limit: usize,
    },
    /// A text field is not valid UTF-8.
    NotUtf8 {
        /// The field's name, as sent.
        name: String,
    },
    /// More than `limit` bytes came after the closing boundary.
    TrailingData {
        /// The most bytes accepted after the closing boundary.
        limit: u64,
    },
    /// The body ended after a different number of bytes than its `Content-Length` declared.
    LengthMismatch {
        /// The declared `Content-Length`.
        declared: u64,
        /// The bytes that arrived.
        received: u64,
    },
    /// Reading the request body failed (usually the client went away). Not a client error.
    BodyRead(BoxError),
    /// The handler broke the [`Upload`](crate::Upload) call order. Not a client error: a bug.
    OutOfOrder {
        /// What the handler did wrong.
        misuse: &'static str,
    },
}

impl UploadError {
    /// `true` when the request was malformed and the client should get a `400` with this
    /// error's text; `false` for [`UploadError::BodyRead`] and [`UploadError::OutOfOrder`].
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            Self::BodyRead(_) | Self::OutOfOrder { .. } | Self::FormMemoryBusy
        )
    }

    /// Translates a parser error, naming fields as the client sent them.
    pub(crate) fn from_multer(error: multer::Error) -> Self {
        match error {
            multer::Error::StreamReadFailed(source) => Self::BodyRead(source),
            multer::Error::FieldSizeExceeded { limit, field_name } => Self::FieldTooLarge {
                name: field_name.unwrap_or_default(),
                limit,
            },
            multer::Error::IncompleteFieldData { field_name } => Self::EndedEarly {
                detail: match field_name {
                    Some(name) => format!("field `{name}` has no closing boundary"),
                    None => "a part has no closing boundary".to_owned(),
                },
            },
            multer::Error::IncompleteStream => Self::EndedEarly {
                detail: "no closing boundary".to_owned(),
            },
            multer::Error::IncompleteHeaders => Self::EndedEarly {
                detail: "a part's headers are incomplete".to_owned(),
            },
            multer::Error::LockFailure => Self::OutOfOrder {
                misuse: "a part was still borrowed while the next one was read",
            },
            other => Self::MalformedPart {
                detail: other.to_string(),
            },
        }
    }
}

/// Writes a byte count the way people say it: `1 MiB`, `64 KiB`, `1000 bytes`.
fn human_size(bytes: u64) -> String {
    // KiB and MiB are powers of two: a whole number of them has that many trailing zero bits.
    if bytes > 0 && bytes.trailing_zeros() >= 20 {
        format!("{} MiB", bytes >> 20)
    } else if bytes > 0 && bytes.trailing_zeros() >= 10 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

const ONE_FILE: &str = "send the distribution as one file part named `content` with a filename";

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContentType { problem } => write!(
                f,
                "{problem}; send the upload as `multipart/form-data` with a boundary, as twine, uv publish and poetry do"
            ),
            Self::EndedEarly { detail } => {
                write!(f, "the multipart body ended early: {detail}; send the complete body")
            }
            Self::MalformedPart { detail } => write!(f, "the multipart body is malformed: {detail}"),
            Self::UnnamedPart => f.write_str(
                "a multipart part has no `name` in its Content-Disposition header; name every part",
            ),
            Self::MissingContent => write!(f, "the upload has no `content` file part; {ONE_FILE}"),
            Self::MissingFilename => write!(f, "the `content` part has no filename; {ONE_FILE}"),
            Self::ExtraFile { name } => write!(
                f,
                "the upload has an extra file part `{name}`; one file per request is accepted: {ONE_FILE}"
            ),
            Self::FieldTooLarge { name, limit } => {
                write!(f, "field `{name}` is larger than {}", human_size(*limit))
            }
            Self::FormTooLarge { limit } => write!(
                f,
                "the upload's text fields together are larger than {}; send shorter metadata \
                 (a long description belongs in the package, not the form)",
                human_size(*limit)
            ),
            Self::FormMemoryBusy => f.write_str(
                "the server is holding as many uploads' form fields as it may right now; \
                 upload again in a moment",
            ),
            Self::TooManyFields { limit } => {
                write!(f, "the upload has more than {limit} form fields")
            }
            Self::NotUtf8 { name } => {
                write!(f, "field `{name}` is not valid UTF-8; send text fields as UTF-8")
            }
            Self::TrailingData { limit } => write!(
                f,
                "more than {} follow the multipart body's closing boundary; end the body there",
                human_size(*limit)
            ),
            Self::LengthMismatch { declared, received } => write!(
                f,
                "the body is {received} bytes long, but its Content-Length says {declared}; \
                 send the complete body"
            ),
            Self::BodyRead(source) => write!(f, "reading the request body failed: {source}"),
            Self::OutOfOrder { misuse } => write!(f, "the upload handler misused the upload: {misuse}"),
        }
    }
}

impl StdError for UploadError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::BodyRead(source) => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_written_in_the_largest_exact_unit() {
        assert_eq!(human_size(1024 * 1024), "1 MiB");
        assert_eq!(human_size(64 * 1024), "64 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
        assert_eq!(human_size(1024 * 1024 + 1), "1048577 bytes");
        assert_eq!(human_size(3 * 1024 * 1024), "3 MiB");
        assert_eq!(human_size(0), "0 bytes");
    }

    #[test]
    fn only_body_failures_and_misuse_are_not_client_errors() {
        assert!(UploadError::MissingContent.is_client_error());
        assert!(UploadError::TooManyFields { limit: 3 }.is_client_error());
        assert!(!UploadError::BodyRead("reset".into()).is_client_error());
        assert!(!UploadError::OutOfOrder { misuse: "x" }.is_client_error());
    }

    #[test]
    fn oversize_message_names_the_field_and_limit() {
        let error = UploadError::from_multer(multer::Error::FieldSizeExceeded {
            limit: 1024 * 1024,
            field_name: Some("description".to_owned()),
        });
        assert_eq!(
            error.to_string(),
            "field `description` is larger than 1 MiB"
        );
    }

    #[test]
    fn body_read_failure_keeps_its_source() {
        let error =
            UploadError::from_multer(multer::Error::StreamReadFailed("connection reset".into()));
        assert!(!error.is_client_error());
        assert_eq!(
            error.source().map(|s| s.to_string()).as_deref(),
            Some("connection reset")
        );
    }
}
