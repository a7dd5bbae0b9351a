use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderValue;

/// `Basic base64(username:password)`, marked sensitive so it is never shown by `Debug`.
pub(crate) fn basic_authorization(username: &str, password: &str) -> Option<HeaderValue> {
    let encoded = STANDARD.encode(format!("{username}:{password}"));
    sensitive(format!("Basic {encoded}"))
}

/// `Bearer <token>`, or `None` when the token holds bytes a header cannot carry.
pub(crate) fn bearer_authorization(token: &str) -> Option<HeaderValue> {
    if token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
        return None;
    }
    sensitive(format!("Bearer {token}"))
}

fn sensitive(value: String) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(value).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header() {
        let header = basic_authorization("alice", "pä:ss").unwrap();
        assert_eq!(header, "Basic YWxpY2U6cMOkOnNz");
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("YWxp"));
    }

    #[test]
    fn bearer_header() {
        let header = bearer_authorization("a.b-c_d").unwrap();
        assert_eq!(header, "Bearer a.b-c_d");
        assert!(header.is_sensitive());
        assert_eq!(bearer_authorization(""), None);
        assert_eq!(bearer_authorization("two words"), None);
        assert_eq!(bearer_authorization("line\nbreak"), None);
        assert_eq!(bearer_authorization("tök"), None);
    }
}
