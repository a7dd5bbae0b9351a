use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::{AuthorizationError, Credentials, Secret};

/// Standard alphabet; clients differ on padding, so accept it present or absent.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses the value of an `Authorization` header.
///
/// Accepts `Basic <base64(username:password)>` and `Bearer <token>`; the scheme is
/// case-insensitive and surrounding whitespace is ignored. The Basic value is split at the first
/// `:`, so passwords may contain colons (usernames cannot), and may be empty.
///
/// ```
/// use pyoci_basic_auth::{parse_authorization, Credentials, Secret};
///
/// let credentials = parse_authorization(b"basic YWxpY2U6czNjcjN0").unwrap();
/// assert_eq!(
///     credentials,
///     Credentials::Basic { username: "alice".into(), password: Secret::new("s3cr3t") },
/// );
/// assert!(parse_authorization(b"Digest realm=x").is_err());
/// ```
pub fn parse_authorization(value: &[u8]) -> Result<Credentials, AuthorizationError> {
    let value = value.trim_ascii();
    if value.is_empty() {
        return Err(AuthorizationError::Empty);
    }
    let (scheme, rest) = match value.iter().position(|byte| is_whitespace(*byte)) {
        Some(end) => (
            value.get(..end).unwrap_or_default(),
            value.get(end..).unwrap_or_default().trim_ascii(),
        ),
        None => (value, &[][..]),
    };
    if scheme.eq_ignore_ascii_case(b"basic") {
        parse_basic(rest)
    } else if scheme.eq_ignore_ascii_case(b"bearer") {
        parse_bearer(rest)
    } else {
        Err(AuthorizationError::UnsupportedScheme)
    }
}

fn parse_basic(encoded: &[u8]) -> Result<Credentials, AuthorizationError> {
    if encoded.is_empty() {
        return Err(AuthorizationError::BasicMissingValue);
    }
    let decoded = BASE64
        .decode(encoded)
        .map_err(|_| AuthorizationError::BasicNotBase64)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthorizationError::BasicNotUtf8)?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or(AuthorizationError::BasicMissingColon)?;
    Ok(Credentials::Basic {
        username: username.to_owned(),
        password: Secret::new(password),
    })
}

fn parse_bearer(token: &[u8]) -> Result<Credentials, AuthorizationError> {
    if token.is_empty() {
        return Err(AuthorizationError::BearerMissingToken);
    }
    // The token goes back out in a header of its own: keep it to one word of visible ASCII.
    if !token.iter().all(|byte| byte.is_ascii_graphic()) {
        return Err(AuthorizationError::BearerMalformedToken);
    }
    let token = std::str::from_utf8(token).map_err(|_| AuthorizationError::BearerMalformedToken)?;
    Ok(Credentials::Bearer(Secret::new(token)))
}

fn is_whitespace(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    fn encode(plain: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(plain)
        )
    }

    #[test]
    fn basic_credentials() {
        assert_eq!(
            parse_authorization(encode("alice:secret").as_bytes()),
            Ok(basic("alice", "secret"))
        );
    }

    #[test]
    fn padding_is_optional() {
        // "ab:c" encodes to "YWI6Yw==".
        assert_eq!(parse_authorization(b"Basic YWI6Yw=="), Ok(basic("ab", "c")));
        assert_eq!(parse_authorization(b"Basic YWI6Yw"), Ok(basic("ab", "c")));
    }

    #[test]
    fn password_keeps_its_colons() {
        assert_eq!(
            parse_authorization(encode("user:pa:ss:").as_bytes()),
            Ok(basic("user", "pa:ss:"))
        );
    }

    #[test]
    fn empty_password_is_allowed() {
        assert_eq!(
            parse_authorization(encode("__token__:").as_bytes()),
            Ok(basic("__token__", ""))
        );
    }

    #[test]
    fn unicode_credentials() {
        assert_eq!(
            parse_authorization(encode("jürgen:pässwörd✓").as_bytes()),
            Ok(basic("jürgen", "pässwörd✓"))
        );
    }

    #[test]
    fn scheme_is_case_insensitive_and_whitespace_tolerated() {
        let header = format!(
            "  bAsIc \t {}  ",
            base64::engine::general_purpose::STANDARD.encode("a:b")
        );
        assert_eq!(parse_authorization(header.as_bytes()), Ok(basic("a", "b")));
        assert_eq!(
            parse_authorization(b"bearer   abc.def-ghi "),
            Ok(Credentials::Bearer(Secret::new("abc.def-ghi")))
        );
    }

    #[test]
    fn bad_base64_is_rejected() {
        assert_eq!(
            parse_authorization(b"Basic not*base64!"),
            Err(AuthorizationError::BasicNotBase64)
        );
        // URL-safe alphabet is not standard base64.
        assert_eq!(
            parse_authorization(b"Basic _-_-"),
            Err(AuthorizationError::BasicNotBase64)
        );
    }

    #[test]
    fn decoded_value_must_be_utf8() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode([0xff, b':', 0xfe])
        );
        assert_eq!(
            parse_authorization(header.as_bytes()),
            Err(AuthorizationError::BasicNotUtf8)
        );
    }

    #[test]
    fn basic_without_colon_is_rejected() {
        assert_eq!(
            parse_authorization(encode("alice").as_bytes()),
            Err(AuthorizationError::BasicMissingColon)
        );
    }

    #[test]
    fn missing_values_are_rejected() {
        assert_eq!(parse_authorization(b""), Err(AuthorizationError::Empty));
        assert_eq!(
            parse_authorization(b"  \t "),
            Err(AuthorizationError::Empty)
        );
        assert_eq!(
            parse_authorization(b"Basic"),
            Err(AuthorizationError::BasicMissingValue)
        );
        assert_eq!(
            parse_authorization(b"Bearer  "),
            Err(AuthorizationError::BearerMissingToken)
        );
    }

    #[test]
    fn malformed_bearer_tokens_are_rejected() {
        assert_eq!(
            parse_authorization(b"Bearer two words"),
            Err(AuthorizationError::BearerMalformedToken)
        );
        assert_eq!(
            parse_authorization(b"Bearer t\xc3\xa9"),
            Err(AuthorizationError::BearerMalformedToken)
        );
    }

    #[test]
    fn unknown_schemes_and_garbage_are_rejected() {
        for value in [
            &b"Digest username=alice"[..],
            b"Basicx YTpi",
            b"YWxpY2U6c2VjcmV0",
            b"\xff\xfe",
            b":",
        ] {
            assert_eq!(
                parse_authorization(value),
                Err(AuthorizationError::UnsupportedScheme),
                "{value:?}"
            );
        }
    }

    #[test]
    fn messages_never_repeat_the_header() {
        let secret_ish = b"s3cr3tvalue";
        let error = parse_authorization(secret_ish).unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"));
        assert!(error.to_string().contains("Basic"), "{error}");
    }
}
