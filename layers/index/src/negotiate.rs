//! Choosing the page format from the request's `Accept` header.

use std::fmt;

use http::HeaderValue;

/// A format the index can serve a page in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexFormat {
    /// PEP 691 JSON, `application/vnd.pypi.simple.v1+json`.
    Json,
    /// PEP 503 HTML under its versioned name, `application/vnd.pypi.simple.v1+html`.
    Html,
    /// PEP 503 HTML as `text/html`: what clients sending no `Accept` (poetry, hatch) parse.
    LegacyHtml,
}

impl IndexFormat {
    /// Every format, in the order preferred when the client rates several equally.
    pub const ALL: [IndexFormat; 3] = [Self::Json, Self::Html, Self::LegacyHtml];

    /// The concrete `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/vnd.pypi.simple.v1+json",
            Self::Html => "application/vnd.pypi.simple.v1+html",
            Self::LegacyHtml => "text/html; charset=utf-8",
        }
    }

    /// The media types (`type/subtype`, lowercase) a client may name to ask for this format;
    /// PEP 691's `latest` aliases included.
    fn media_types(self) -> &'static [&'static str] {
        match self {
            Self::Json => &[
                "application/vnd.pypi.simple.v1+json",
                "application/vnd.pypi.simple.latest+json",
            ],
            Self::Html => &[
                "application/vnd.pypi.simple.v1+html",
                "application/vnd.pypi.simple.latest+html",
            ],
            Self::LegacyHtml => &["text/html"],
        }
    }
}

/// The client accepts none of the formats the index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAcceptable;

impl fmt::Display for NotAcceptable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "none of the formats this index serves is acceptable; send an Accept header naming one of: \
             application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html, text/html \
             (or send no Accept header to get text/html)",
        )
    }
}

impl std::error::Error for NotAcceptable {}

/// Picks the page format for a request's `Accept` header.
///
/// The client's q-values decide; `q=0` excludes a format; the most specific matching media
/// range counts (`text/html;q=0` beats `*/*`). On equal q, a format the client named
/// (exactly or as `type/*`) beats one matched only by `*/*`; among named formats JSON comes
/// first, then v1+html, then text/html; among formats matched only by `*/*` the order is
/// reversed, since clients that send nothing specific (poetry, hatch, curl) parse only HTML.
/// So no header, an unreadable or empty one, or `*/*` alone gives
/// [`IndexFormat::LegacyHtml`]. Malformed elements of the header are skipped.
pub fn negotiate(accept: Option<&HeaderValue>) -> Result<IndexFormat, NotAcceptable> {
    let ranges: Vec<MediaRange> = accept
        .and_then(|value| value.to_str().ok())
        .map(|text| text.split(',').filter_map(MediaRange::parse).collect())
        .unwrap_or_default();
    if ranges.is_empty() {
        return Ok(IndexFormat::LegacyHtml);
    }
    IndexFormat::ALL
        .iter()
        .filter_map(|&format| {
            let (quality, specificity) = rate(&ranges, format)?;
            (quality > 0).then_some((format, quality, specificity))
        })
        .max_by_key(|&(format, quality, specificity)| {
            let named = specificity != Specificity::Any;
            (quality, named, tie_break(format, named))
        })
        .map(|(format, _, _)| format)
        .ok_or(NotAcceptable)
}

/// Rank on equal q: a named JSON beats named HTML; among `*/*` matches, plain HTML wins.
fn tie_break(format: IndexFormat, named: bool) -> u8 {
    match (format, named) {
        (IndexFormat::Json, true) | (IndexFormat::LegacyHtml, false) => 2,
        (IndexFormat::Html, _) => 1,
        (IndexFormat::LegacyHtml, true) | (IndexFormat::Json, false) => 0,
    }
}

/// How closely a media range names a media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    /// `*/*`
    Any,
    /// `type/*`
    Type,
    /// `type/subtype`
    Exact,
}

/// The quality (thousandths) the client gives `format`, from its most specific matching
/// ranges, with that specificity; `None` when no range matches.
fn rate(ranges: &[MediaRange], format: IndexFormat) -> Option<(u16, Specificity)> {
    let matches = ranges.iter().filter_map(|range| {
        format
            .media_types()
            .iter()
            .filter_map(|media_type| range.specificity_for(media_type))
            .max()
            .map(|specificity| (specificity, range.quality))
    });
    let (specificity, quality) = matches.max()?;
    Some((quality, specificity))
}

/// One element of an `Accept` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MediaRange {
    /// `type/subtype`, lowercase, possibly with `*`.
    essence: String,
    /// q-value in thousandths (0..=1000).
    quality: u16,
}

impl MediaRange {
    /// Parses `type/subtype;param=value;q=0.5`; `None` for anything malformed.
    fn parse(element: &str) -> Option<Self> {
        let mut pieces = element.split(';');
        let essence = pieces.next()?.trim().to_ascii_lowercase();
        let (kind, subtype) = essence.split_once('/')?;
        let is_token = |part: &str| !part.is_empty() && !part.contains(char::is_whitespace);
        if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut quality = 1000;
        for parameter in pieces {
            let (name, value) = parameter.split_once('=')?;
            if name.trim().eq_ignore_ascii_case("q") {
                quality = parse_quality(value.trim())?;
            }
        }
        Some(Self { essence, quality })
    }

    fn specificity_for(&self, media_type: &str) -> Option<Specificity> {
        if self.essence == "*/*" {
            return Some(Specificity::Any);
        }
        if self.essence == media_type {
            return Some(Specificity::Exact);
        }
        let (kind, subtype) = self.essence.split_once('/')?;
        let same_type = media_type.split_once('/').map(|(other, _)| other) == Some(kind);
        (subtype == "*" && same_type).then_some(Specificity::Type)
    }
}

/// Parses an RFC 9110 qvalue (`0`, `0.5`, `1.000`, ...) into thousandths.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |total, digit| total * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIP: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
    const UV: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

    fn pick(accept: &str) -> Result<IndexFormat, NotAcceptable> {
        negotiate(Some(&HeaderValue::from_str(accept).unwrap()))
    }

    #[test]
    fn pip_renovate_and_uv_get_json() {
        assert_eq!(pick(PIP), Ok(IndexFormat::Json));
        assert_eq!(pick(UV), Ok(IndexFormat::Json));
    }

    #[test]
    fn no_header_empty_header_or_any_gets_text_html() {
        assert_eq!(negotiate(None), Ok(IndexFormat::LegacyHtml));
        assert_eq!(pick(""), Ok(IndexFormat::LegacyHtml));
        assert_eq!(pick("*/*"), Ok(IndexFormat::LegacyHtml));
        assert_eq!(pick("*/*;q=0.8"), Ok(IndexFormat::LegacyHtml));
    }

    #[test]
    fn q_values_decide() {
        assert_eq!(
            pick("application/vnd.pypi.simple.v1+json;q=0.5, text/html"),
            Ok(IndexFormat::LegacyHtml)
        );
        assert_eq!(
            pick("text/html;q=0.5, application/vnd.pypi.simple.v1+html;q=0.6"),
            Ok(IndexFormat::Html)
        );
        // text/html is demoted; of the rest, only matched by `*/*`, HTML still comes first.
        assert_eq!(pick("text/html;q=0.5, */*"), Ok(IndexFormat::Html));
        assert_eq!(
            pick("text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.6"),
            Ok(IndexFormat::Json)
        );
    }

    #[test]
    fn equal_q_prefers_json_then_v1_html_then_text_html() {
        assert_eq!(
            pick("text/html, application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json"),
            Ok(IndexFormat::Json)
        );
        assert_eq!(
            pick("text/html, application/vnd.pypi.simple.v1+html"),
            Ok(IndexFormat::Html)
        );
        assert_eq!(pick("text/html, */*"), Ok(IndexFormat::LegacyHtml));
        assert_eq!(
            pick("application/vnd.pypi.simple.v1+json, */*"),
            Ok(IndexFormat::Json)
        );
    }

    #[test]
    fn wildcard_types_match_their_family() {
        assert_eq!(pick("application/*"), Ok(IndexFormat::Json));
        assert_eq!(pick("text/*"), Ok(IndexFormat::LegacyHtml));
        assert_eq!(
            pick("application/*;q=0.5, text/*;q=0.4"),
            Ok(IndexFormat::Json)
        );
    }

    #[test]
    fn q_zero_excludes_even_under_a_wildcard() {
        assert_eq!(
            pick("application/vnd.pypi.simple.v1+json;q=0, */*"),
            Ok(IndexFormat::LegacyHtml)
        );
        assert_eq!(pick("text/html;q=0, */*"), Ok(IndexFormat::Html));
        assert_eq!(pick("*/*;q=0"), Err(NotAcceptable));
        assert_eq!(pick("text/html;q=0"), Err(NotAcceptable));
    }

    #[test]
    fn latest_aliases_are_understood() {
        assert_eq!(
            pick("application/vnd.pypi.simple.latest+json"),
            Ok(IndexFormat::Json)
        );
        assert_eq!(
            pick("application/vnd.pypi.simple.latest+html"),
            Ok(IndexFormat::Html)
        );
    }

    #[test]
    fn unrelated_types_are_not_acceptable() {
        assert_eq!(pick("application/json"), Err(NotAcceptable));
        assert_eq!(pick("image/png, application/xml;q=0.9"), Err(NotAcceptable));
        assert!(NotAcceptable
            .to_string()
            .contains("application/vnd.pypi.simple.v1+json"));
    }

    #[test]
    fn matching_is_case_insensitive_and_tolerates_spaces_and_parameters() {
        assert_eq!(
            pick("  Application/VND.PyPI.Simple.V1+JSON ; charset=utf-8 ; Q=1"),
            Ok(IndexFormat::Json)
        );
        assert_eq!(pick("text/html;level=1;q=0.7"), Ok(IndexFormat::LegacyHtml));
    }

    #[test]
    fn garbage_never_panics_and_counts_as_no_preference() {
        for garbage in [
            ",,,",
            ";;;",
            "/",
            "*/",
            "/*",
            "text",
            "*/html",
            "text/html;q=",
            "text/html;q=2",
            "text/html;q=0.1234",
            "text/html;q=-1",
            "text/html;q=1.5",
            "text/html;q",
            "a/b/c;q=0.x",
            "q=1",
            "text/html;;q=1",
            "*/*;q=0.5;q=",
        ] {
            let value = HeaderValue::from_str(garbage).unwrap();
            let _ = negotiate(Some(&value));
        }
        let non_utf8 = HeaderValue::from_bytes(b"text/\xff\xfe;q=0.\x80").unwrap();
        assert_eq!(negotiate(Some(&non_utf8)), Ok(IndexFormat::LegacyHtml));
        assert_eq!(pick(",,, ;;"), Ok(IndexFormat::LegacyHtml));
        // A malformed element is skipped; the valid ones still decide.
        assert_eq!(
            pick("text/html;q=bogus, application/vnd.pypi.simple.v1+html"),
            Ok(IndexFormat::Html)
        );
    }

    #[test]
    fn quality_values_parse_exactly() {
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("0.01"), Some(10));
        assert_eq!(parse_quality("0.1"), Some(100));
        assert_eq!(parse_quality("0.999"), Some(999));
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("1.001"), None);
        assert_eq!(parse_quality("0.1234"), None);
        assert_eq!(parse_quality(""), None);
        assert_eq!(parse_quality("."), None);
    }
}
