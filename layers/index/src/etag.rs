//! Entity tags of rendered pages, and `If-None-Match` matching (RFC 9110 §8.8.3, §13.1.2).

use http::HeaderValue;
use sha2::{Digest, Sha256};

/// A strong entity tag for `body` sent as `content_type`: the first 128 bits of their
/// SHA-256, in hex, quoted. The content type is hashed too, so the HTML and the JSON
/// rendering of one page never share a tag.
pub(crate) fn entity_tag(content_type: &str, body: &str) -> HeaderValue {
    let mut hasher = Sha256::new();
    hasher.update(content_type.as_bytes());
    hasher.update([0]);
    hasher.update(body.as_bytes());
    let digest = hasher.finalize();
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    // Quoted hex digits are always a valid header value.
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether an `If-None-Match` list names `etag` (compared weakly, as RFC 9110 wants for
/// `If-None-Match`) or is `*`.
pub(crate) fn matches_any(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_depend_on_bytes_and_type() {
        let a = entity_tag("text/html", "<a>");
        assert_eq!(a, entity_tag("text/html", "<a>"));
        assert_ne!(a, entity_tag("text/html", "<b>"));
        assert_ne!(a, entity_tag("application/json", "<a>"));
        assert_eq!(a.len(), 34);
    }

    #[test]
    fn if_none_match_lists() {
        let etag = HeaderValue::from_static("\"abc\"");
        for (list, expected) in [
            ("\"abc\"", true),
            ("W/\"abc\"", true),
            ("\"x\", \"abc\"", true),
            ("*", true),
            ("\"abcd\"", false),
            ("abc", false),
            ("", false),
        ] {
            let list = HeaderValue::from_str(list).unwrap();
            assert_eq!(matches_any(&list, &etag), expected, "{list:?}");
        }
    }
}
