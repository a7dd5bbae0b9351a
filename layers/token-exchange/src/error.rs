use std::fmt;

use http::StatusCode;
use tower::BoxError;

/// Why a request could not be authorized at the registry.
///
/// Returned boxed as the service's error. Messages name the token service's host and what it
/// answered, never credentials or tokens. Rejected credentials are not an error: the caller gets
/// the token service's `401`/`403` response instead.
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenExchangeError {
    /// The registry's Bearer challenge names a realm that is not an absolute http(s) URL.
    InvalidRealm {
        /// The realm as the registry sent it.
        realm: String,
    },
    /// The token service could not be reached.
    RealmUnreachable {
        /// Host of the token service.
        realm_host: String,
        /// What the HTTP client reported.
        source: BoxError,
    },
    /// The token service answered with an unexpected status (neither success nor 401/403).
    RealmStatus {
        /// Host of the token service.
        realm_host: String,
        /// The status it answered with.
        status: StatusCode,
    },
    /// The token service answered successfully but without a usable token.
    NoToken {
        /// Host of the token service.
        realm_host: String,
        /// What was wrong with the answer.
        problem: &'static str,
    },
    /// Bearer credentials from the client contain bytes that cannot be sent in a header.
    UnusableBearerToken,
}

impl fmt::Display for TokenExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenExchangeError::InvalidRealm { realm } => write!(
                f,
                "the registry asked for a token from {realm:?}, which is not an absolute http(s) URL; \
                 check the registry's token auth configuration"
            ),
            TokenExchangeError::RealmUnreachable { realm_host, source } => write!(
                f,
                "could not reach the registry's token service at {realm_host}: {source}; \
                 check that the proxy can connect to it"
            ),
            TokenExchangeError::RealmStatus { realm_host, status } => write!(
                f,
                "the registry's token service at {realm_host} answered {status}; \
                 try again later or check the registry's status"
            ),
            TokenExchangeError::NoToken { realm_host, problem } => write!(
                f,
                "the registry's token service at {realm_host} gave no usable token ({problem}); \
                 expected JSON with `token` or `access_token`"
            ),
            TokenExchangeError::UnusableBearerToken => write!(
                f,
                "the registry token given as credentials contains characters that cannot be sent \
                 in an HTTP header; check the token"
            ),
        }
    }
}

impl std::error::Error for TokenExchangeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenExchangeError::RealmUnreachable { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
