//! The one error of the public index client: what the public index did, and what to do.

use std::{fmt, net::IpAddr, time::Duration};

use pyoci_body_timeout::IdleTimeout;
use pyoci_oci::{AddressRefused, TooManyRedirects};

/// What was over its limit in a [`PublicError::TooLarge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oversized {
    /// A project page, in bytes.
    Page,
    /// The files a project page lists, counted.
    Files,
    /// A distribution file, in bytes.
    File,
}

/// Why the public index could not give a page or a file. Cloned to every caller waiting on
/// the same page, so it holds text, not sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicError {
    /// No connection or no answer: refused, DNS, TLS, reset before the answer.
    Unreachable(String),
    /// The address policy refused where the index, or a URL it named, points: a private
    /// address.
    Refused { host: String, address: IpAddr },
    /// No answer head within the request timeout.
    TimedOut(Duration),
    /// An HTTP status other than the ones expected.
    Status(u16),
    /// A project page of another content type than PEP 691 JSON (the type it had).
    NotJson(String),
    /// A page, its file count or a file over its limit.
    TooLarge { what: Oversized, limit: u64 },
    /// A page that is not a valid PEP 691 project page (what is wrong).
    Invalid(String),
    /// More redirects than followed (their limit).
    RedirectLoop { limit: usize },
    /// Nothing arrived for this long in the middle of an answer.
    Stalled(Duration),
    /// The answer broke off before its end.
    Interrupted(String),
    /// A file of another size than the page lists.
    SizeMismatch { listed: u64, received: u64 },
}

impl PublicError {
    /// Whether the public index looks down or overloaded (rather than wrong): callers serve
    /// what they already have instead.
    pub fn index_unavailable(&self) -> bool {
        match self {
            PublicError::Unreachable(_)
            | PublicError::TimedOut(_)
            | PublicError::Stalled(_)
            | PublicError::Interrupted(_) => true,
            PublicError::Status(status) => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The error for a failed request or body read, from what its source chain holds.
    pub(crate) fn from_transport(error: &(dyn std::error::Error + 'static)) -> PublicError {
        let mut source = Some(error);
        while let Some(current) = source {
            if let Some(refused) = current.downcast_ref::<AddressRefused>() {
                return PublicError::Refused {
                    host: refused.host.clone(),
                    address: refused.address,
                };
            }
            if let Some(redirects) = current.downcast_ref::<TooManyRedirects>() {
                return PublicError::RedirectLoop {
                    limit: redirects.limit,
                };
            }
            if let Some(idle) = current.downcast_ref::<IdleTimeout>() {
                return PublicError::Stalled(idle.idle);
            }
            source = current.source();
        }
        PublicError::Unreachable(error_chain(error))
    }

    /// [`PublicError::from_transport`] for an error in a response body, which broke off.
    pub(crate) fn from_body(error: &(dyn std::error::Error + 'static)) -> PublicError {
        match PublicError::from_transport(error) {
            PublicError::Unreachable(detail) => PublicError::Interrupted(detail),
            other => other,
        }
    }
}

/// `error: source: source`, without repeating a message its source already says.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        let message = current.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = current.source();
    }
    text
}

impl fmt::Display for PublicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicError::Unreachable(detail) => write!(
                f,
                "the public index could not be reached ({detail}); check that it is up and \
                 that PyOCI can reach it (the mirror's index URL, proxy settings)"
            ),
            PublicError::Refused { host, address } => write!(
                f,
                "the public index pointed PyOCI at {host}, a private address ({address}); PyOCI \
                 fetches public packages from public addresses only"
            ),
            PublicError::TimedOut(limit) => write!(
                f,
                "the public index did not answer within {}; it may be overloaded or \
                 unreachable, try again later",
                humantime::format_duration(*limit)
            ),
            PublicError::Status(status) => match status {
                401 | 403 => write!(
                    f,
                    "the public index refused access (HTTP {status}); PyOCI sends it no \
                     credentials, so the mirror's index must be one anyone can read"
                ),
                404 | 410 => write!(
                    f,
                    "the public index has no such file (HTTP {status}); it may have been \
                     deleted since the page listed it"
                ),
                429 => write!(
                    f,
                    "the public index is rate limiting PyOCI (HTTP 429); try again later"
                ),
                500..=599 => write!(
                    f,
                    "the public index is failing (HTTP {status}); it may be down, try again \
                     later"
                ),
                _ => write!(
                    f,
                    "the public index answered HTTP {status}, not a page or file"
                ),
            },
            PublicError::NotJson(content_type) => write!(
                f,
                "the public index answered `{content_type}` instead of a PEP 691 JSON page \
                 (application/vnd.pypi.simple.v1+json); the mirror needs an index that serves \
                 JSON simple pages, such as https://pypi.org/simple/"
            ),
            PublicError::TooLarge { what, limit } => match what {
                Oversized::Page => write!(
                    f,
                    "the public index's project page is larger than {limit} bytes, the most \
                     PyOCI reads"
                ),
                Oversized::Files => write!(
                    f,
                    "the public index's project page lists more than {limit} files, the most \
                     PyOCI takes"
                ),
                Oversized::File => write!(
                    f,
                    "the file from the public index is larger than {limit} bytes, the most \
                     PyOCI mirrors; nothing of it is kept"
                ),
            },
            PublicError::Invalid(detail) => write!(
                f,
                "the public index's page is not a valid PEP 691 project page: {detail}"
            ),
            PublicError::RedirectLoop { limit } => write!(
                f,
                "the public index redirected more than {limit} times (a redirect loop?); \
                 check the mirror's index URL"
            ),
            PublicError::Stalled(idle) => write!(
                f,
                "the public index stopped sending for {} in the middle of an answer; \
                 nothing of it is kept, try again",
                humantime::format_duration(*idle)
            ),
            PublicError::Interrupted(detail) => write!(
                f,
                "the answer from the public index broke off ({detail}); nothing of it is \
                 kept, try again"
            ),
            PublicError::SizeMismatch { listed, received } => write!(
                f,
                "the public index sent {received} bytes for a file its page lists as \
                 {listed} bytes; nothing of it is kept"
            ),
        }
    }
}

impl std::error::Error for PublicError {}
