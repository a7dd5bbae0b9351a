use std::fmt;

/// Why an `Authorization` header could not be turned into [`Credentials`](crate::Credentials).
///
/// The messages never repeat the header's content: it may hold a password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationError {
    /// The header holds nothing but whitespace.
    Empty,
    /// The request carries more than one `Authorization` header.
    MoreThanOne,
    /// A scheme other than `Basic` or `Bearer`, or no scheme at all.
    UnsupportedScheme,
    /// `Basic` without anything after it.
    BasicMissingValue,
    /// The `Basic` value is not standard base64.
    BasicNotBase64,
    /// The decoded `Basic` value is not UTF-8 text.
    BasicNotUtf8,
    /// The decoded `Basic` value has no `:` between username and password.
    BasicMissingColon,
    /// `Bearer` without a token after it.
    BearerMissingToken,
    /// The `Bearer` token contains whitespace or bytes that are not text.
    BearerMalformedToken,
    /// Basic credentials for the configured bearer username with an empty password.
    BearerUsernameWithoutToken,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FORMS: &str =
            "send `Basic <base64 of username:password>` or `Bearer <registry token>`, \
                             or no Authorization header for anonymous access";
        match self {
            AuthorizationError::Empty => write!(f, "the Authorization header is empty: {FORMS}"),
            AuthorizationError::MoreThanOne => write!(
                f,
                "the request has more than one Authorization header: send exactly one"
            ),
            AuthorizationError::UnsupportedScheme => write!(
                f,
                "the Authorization header uses an unsupported scheme: {FORMS}"
            ),
            AuthorizationError::BasicMissingValue => write!(
                f,
                "the Authorization header is not valid Basic credentials: \
                 expected base64 of `username:password` after `Basic`"
            ),
            AuthorizationError::BasicNotBase64 => write!(
                f,
                "the Authorization header is not valid Basic credentials: \
                 expected base64 of `username:password` (standard alphabet)"
            ),
            AuthorizationError::BasicNotUtf8 => write!(
                f,
                "the Authorization header is not valid Basic credentials: \
                 the decoded `username:password` is not UTF-8 text"
            ),
            AuthorizationError::BasicMissingColon => write!(
                f,
                "the Authorization header is not valid Basic credentials: \
                 expected base64 of `username:password`, found no `:` after decoding"
            ),
            AuthorizationError::BearerMissingToken => write!(
                f,
                "the Authorization header is not a valid Bearer token: \
                 expected a registry token after `Bearer`"
            ),
            AuthorizationError::BearerMalformedToken => write!(
                f,
                "the Authorization header is not a valid Bearer token: \
                 the token must be one word of printable text"
            ),
            AuthorizationError::BearerUsernameWithoutToken => write!(
                f,
                "the password is empty: with the configured bearer username, \
                 the password must be a registry token"
            ),
        }
    }
}

impl std::error::Error for AuthorizationError {}
