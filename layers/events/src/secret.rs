use std::fmt;

use hmac::{Hmac, Mac};
use http::{header::AUTHORIZATION, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::EventError;

/// The header GitHub signs its deliveries in.
pub(crate) const GITHUB_SIGNATURE: &str = "x-hub-signature-256";

/// The secret senders prove they know: sent as a bearer token, or the key of GitHub's
/// HMAC signature. Never printed: its `Debug` shows `Secret(..)`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The shortest secret taken, in bytes: a shorter one could be guessed.
    pub const MIN_LEN: usize = 16;

    /// `value` as a secret, or `None` when it is shorter than [`Secret::MIN_LEN`] bytes
    /// (empty included).
    pub fn new(value: impl Into<String>) -> Option<Secret> {
        let value = value.into();
        (value.len() >= Self::MIN_LEN).then_some(Secret(value))
    }

    /// Whether `headers` hold exactly one `Authorization: Bearer <this secret>`.
    pub(crate) fn check_bearer(&self, headers: &HeaderMap) -> Result<(), EventError> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(EventError::MissingBearer);
        };
        let value = value.as_bytes();
        // The scheme is case-insensitive (RFC 9110); the token follows after whitespace.
        let token = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => return Err(EventError::MissingBearer),
        };
        if token.is_empty() {
            return Err(EventError::MissingBearer);
        }
        // Comparing digests keeps the comparison constant-time whatever the lengths: the
        // time taken says nothing about how long the secret is or how much of it matched.
        let sent = Sha256::digest(token);
        let expected = Sha256::digest(self.0.as_bytes());
        if bool::from(sent.ct_eq(&expected)) {
            Ok(())
        } else {
            Err(EventError::WrongBearer)
        }
    }

    /// Whether `signature` (from [`github_signature`]) is the HMAC-SHA256 of `body` under this
    /// secret, compared in constant time.
    pub(crate) fn check_github_signature(
        &self,
        signature: &[u8; 32],
        body: &[u8],
    ) -> Result<(), EventError> {
        // HMAC takes keys of any length, so this cannot fail; were it to, nothing is verified.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .map_err(|_| EventError::WrongSignature)?;
        mac.update(body);
        mac.verify_slice(signature)
            .map_err(|_| EventError::WrongSignature)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The 32 bytes of `X-Hub-Signature-256: sha256=<64 hex digits>`, read before the body so that
/// a delivery without one is refused unread.
pub(crate) fn github_signature(headers: &HeaderMap) -> Result<[u8; 32], EventError> {
    let mut values = headers.get_all(GITHUB_SIGNATURE).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value.as_bytes(),
        (None, _) => return Err(EventError::MissingSignature),
        (Some(_), Some(_)) => return Err(EventError::MalformedSignature),
    };
    let hex = value
        .trim_ascii()
        .strip_prefix(b"sha256=")
        .ok_or(EventError::MalformedSignature)?;
    if hex.len() != 64 {
        return Err(EventError::MalformedSignature);
    }
    let mut signature = [0u8; 32];
    for (byte, pair) in signature.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(high), Some(low)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
            return Err(EventError::MalformedSignature);
        };
        *byte = high << 4 | low;
    }
    Ok(signature)
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, as GitHub writes it: for tests.
#[cfg(test)]
pub(crate) fn sign_like_github(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const SECRET: &str = "0123456789abcdef-events";

    fn secret() -> Secret {
        Secret::new(SECRET).expect("long enough")
    }

    fn with(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(name, HeaderValue::from_str(value).expect("header value"));
        }
        headers
    }

    #[test]
    fn short_secrets_are_refused_and_none_is_printed() {
        assert!(Secret::new("").is_none());
        assert!(Secret::new("fifteen-bytes!!").is_none());
        assert!(Secret::new("sixteen-bytes!!!").is_some());
        assert_eq!(format!("{:?}", secret()), "Secret(..)");
    }

    #[test]
    fn the_configured_bearer_passes() {
        for value in [
            format!("Bearer {SECRET}"),
            format!("bearer {SECRET}"),
            format!("BEARER   {SECRET} "),
        ] {
            assert_eq!(
                secret().check_bearer(&with("authorization", &[&value])),
                Ok(())
            );
        }
    }

    #[test]
    fn missing_wrong_or_doubled_bearers_fail() {
        let check = |values: &[&str]| secret().check_bearer(&with("authorization", values));
        assert_eq!(check(&[]), Err(EventError::MissingBearer));
        assert_eq!(check(&["Bearer "]), Err(EventError::MissingBearer));
        assert_eq!(
            check(&[&format!("Basic {SECRET}")]),
            Err(EventError::MissingBearer)
        );
        assert_eq!(check(&[SECRET]), Err(EventError::MissingBearer));
        let right = format!("Bearer {SECRET}");
        assert_eq!(check(&[&right, &right]), Err(EventError::MissingBearer));
        assert_eq!(
            check(&[&format!("Bearer {SECRET}x")]),
            Err(EventError::WrongBearer)
        );
        assert_eq!(
            check(&["Bearer 0123456789abcdef"]),
            Err(EventError::WrongBearer),
            "a prefix of the secret"
        );
    }

    #[test]
    fn github_signatures_verify_against_the_body() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let headers = with(GITHUB_SIGNATURE, &[&sign_like_github(SECRET, body)]);
        let signature = github_signature(&headers).expect("well-formed");
        assert_eq!(secret().check_github_signature(&signature, body), Ok(()));
        assert_eq!(
            secret().check_github_signature(&signature, b"{}"),
            Err(EventError::WrongSignature)
        );
        let other = Secret::new("another-secret-of-16").expect("long enough");
        assert_eq!(
            other.check_github_signature(&signature, body),
            Err(EventError::WrongSignature)
        );
    }

    #[test]
    fn malformed_signatures_are_refused_before_the_body() {
        assert_eq!(
            github_signature(&HeaderMap::new()),
            Err(EventError::MissingSignature)
        );
        let hex = "ab".repeat(32);
        for value in [
            hex.clone(),
            format!("sha1={hex}"),
            format!("sha256={}", &hex[..62]),
            format!("sha256={}zz", &hex[..62]),
            format!("sha256={hex}00"),
        ] {
            assert_eq!(
                github_signature(&with(GITHUB_SIGNATURE, &[&value])),
                Err(EventError::MalformedSignature),
                "{value}"
            );
        }
        assert_eq!(
            github_signature(&with(
                GITHUB_SIGNATURE,
                &[&format!("sha256={}", hex.to_uppercase())]
            )),
            Ok([0xab; 32])
        );
    }
}
