//! The one place where anything that went wrong becomes an HTTP response.
//!
//! Client mistakes are 4xx, registry trouble is 5xx; every body says what happened and what
//! to do about it, in plain text (twine and pip show it to the user).

use std::fmt;

use http::{header, HeaderValue, Response, StatusCode};
use pyoci_body_timeout::is_idle_timeout;
use pyoci_oci::OciError;
use pyoci_upload::UploadError;

use crate::{
    body::Body,
    package::{FilenameError, NameError, VersionError},
    route::RouteError,
};

/// Everything a request can fail with.
#[derive(Debug)]
pub enum Error {
    /// The URL matches nothing or is malformed.
    Route(RouteError),
    /// The request is wrong in a way the message explains.
    BadRequest(String),
    /// The project, version or file does not exist.
    NotFound(String),
    /// This PyOCI does not serve the registry the URL names (`PYOCI_REGISTRIES`).
    RegistryNotAllowed(String),
    /// An upload would replace a file with different bytes.
    Conflict(String),
    /// The request body is larger than `PYOCI_MAX_BODY`.
    TooLarge(String),
    /// The client stopped sending its request body (`PYOCI_BODY_IDLE_TIMEOUT_SECS`).
    BodyTimedOut(String),
    /// Concurrent writers kept changing what this request changes; try again.
    Busy(String),
    /// The request needs credentials and came without any.
    CredentialsNeeded(String),
    /// The registry said no, failed, or could not be reached.
    Registry(OciError),
    /// The upload body could not be read as the upload API.
    Upload(UploadError),
    /// The public index the mirror reads failed or answered what it cannot use.
    PublicIndex(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Route(err) => write!(f, "{err}"),
            Error::BadRequest(message)
            | Error::NotFound(message)
            | Error::RegistryNotAllowed(message)
            | Error::Conflict(message)
            | Error::TooLarge(message)
            | Error::BodyTimedOut(message)
            | Error::CredentialsNeeded(message)
            | Error::Busy(message)
            | Error::PublicIndex(message) => f.write_str(message),
            Error::Registry(err) => write!(f, "{err}"),
            Error::Upload(err) if exceeded_body_limit(err) => write!(
                f,
                "the request body is larger than this server accepts (PYOCI_MAX_BODY): {err}"
            ),
            Error::Upload(err) if is_idle_timeout(err) => f.write_str(&body_timed_out(err)),
            Error::Upload(err @ UploadError::FormTooLarge { .. }) => {
                write!(f, "{err} (PYOCI_MAX_FORM_BYTES)")
            }
            Error::Upload(err @ UploadError::FormMemoryBusy) => {
                write!(f, "{err} (PYOCI_FORM_MEMORY)")
            }
            Error::Upload(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Route(RouteError::NotFound(_)) | Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Route(RouteError::BadRequest(_)) | Error::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Error::Route(RouteError::MethodNotAllowed { .. }) => StatusCode::METHOD_NOT_ALLOWED,
            Error::RegistryNotAllowed(_) => StatusCode::FORBIDDEN,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BodyTimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::PublicIndex(_) => StatusCode::BAD_GATEWAY,
            Error::CredentialsNeeded(_) => StatusCode::UNAUTHORIZED,
            Error::Upload(err) => upload_status(err),
            Error::Registry(err) => err.status_hint(),
        }
    }

    /// The response for this error.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(%status, error = %self, "request failed");
        } else {
            tracing::debug!(%status, error = %self, "request refused");
        }
        let mut response =
            pyoci_core::text_response::<Body>(status, self.to_string()).map(Body::new);
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            // pip and uv retry with netrc/keyring credentials only when asked this way.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"pyoci\""),
            );
        }
        if let Error::Route(RouteError::MethodNotAllowed { .. }) = self {
            headers.insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, DELETE"),
            );
        }
        response
    }
}

impl Error {
    /// This error as told to a caller who sent no credentials: a registry's 401 then means
    /// credentials are needed, not that the ones given were wrong.
    pub fn for_anonymous_caller(self) -> Error {
        match self {
            Error::Registry(OciError::Unauthorized) => Error::CredentialsNeeded(
                "the registry needs credentials for this and none were sent: give your registry \
                 username and password or token to the client (pip and uv: in the index URL, \
                 http://USER:TOKEN@host/..., or from keyring or .netrc; uv also \
                 UV_INDEX_<NAME>_USERNAME and _PASSWORD; poetry: poetry config \
                 http-basic.<source> USER TOKEN; uploads: twine upload -u USER -p TOKEN, uv \
                 publish --username USER --password TOKEN)"
                    .into(),
            ),
            other => other,
        }
    }
}

fn upload_status(err: &UploadError) -> StatusCode {
    if exceeded_body_limit(err) || matches!(err, UploadError::FormTooLarge { .. }) {
        StatusCode::PAYLOAD_TOO_LARGE
    } else if matches!(err, UploadError::FormMemoryBusy) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if is_idle_timeout(err) {
        StatusCode::REQUEST_TIMEOUT
    } else if err.is_client_error() || matches!(err, UploadError::BodyRead(_)) {
        // A body that cannot be read is the client's doing (it went away or sent garbage).
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Whether a body failed because it grew past `PYOCI_MAX_BODY`.
pub fn exceeded_body_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    pyoci_core::find_in_chain::<http_body_util::LengthLimitError>(err).is_some()
}

/// What a client that stopped sending its body is told; `cause` is the reading error.
pub fn body_timed_out(cause: &dyn fmt::Display) -> String {
    format!(
        "the request body stopped arriving ({cause}; PYOCI_BODY_IDLE_TIMEOUT_SECS), so the \
         request was cancelled and nothing was stored; check the connection and send it again"
    )
}

impl From<RouteError> for Error {
    fn from(err: RouteError) -> Self {
        Error::Route(err)
    }
}

impl From<OciError> for Error {
    fn from(err: OciError) -> Self {
        Error::Registry(err)
    }
}

impl From<UploadError> for Error {
    fn from(err: UploadError) -> Self {
        Error::Upload(err)
    }
}

impl From<NameError> for Error {
    fn from(err: NameError) -> Self {
        Error::BadRequest(err.to_string())
    }
}

impl From<VersionError> for Error {
    fn from(err: VersionError) -> Self {
        Error::BadRequest(err.to_string())
    }
}

impl From<FilenameError> for Error {
    fn from(err: FilenameError) -> Self {
        Error::BadRequest(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_without_credentials_says_credentials_are_needed() {
        let anonymous = Error::Registry(OciError::Unauthorized).for_anonymous_caller();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let message = anonymous.to_string();
        assert!(message.contains("none were sent"), "{message}");
        assert!(message.contains("poetry config http-basic"), "{message}");
        let response = anonymous.into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"pyoci\""
        );
        let refused = Error::Registry(OciError::Unauthorized).to_string();
        assert!(refused.contains("refused the credentials"), "{refused}");
    }
}
