//! `pyoci_index::negotiate` on raw `Accept` values and on headers built from the media types
//! the index serves, with arbitrary q-values and parameters.
//!
//! Properties: it never panics; the choice does not depend on the order of the header's
//! elements; a header naming one served media type alone (q > 0) picks that type's format;
//! a format the header gives `q=0` by its exact media type is never picked.

use arbitrary::Arbitrary;
use http::HeaderValue;
use pyoci_index::{negotiate, IndexFormat};

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub raw: &'a [u8],
    pub ranges: Vec<RangeSpec<'a>>,
}

#[derive(Arbitrary, Debug)]
pub struct RangeSpec<'a> {
    pub media: Media<'a>,
    /// q in thousandths, taken modulo 1001; `None` leaves q out.
    pub quality: Option<u16>,
    pub extra_parameter: bool,
    pub uppercase: bool,
}

#[derive(Arbitrary, Debug)]
pub enum Media<'a> {
    Format(FormatChoice),
    Latest(FormatChoice),
    AnyApplication,
    AnyText,
    Any,
    Other(&'a str),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FormatChoice {
    Json,
    Html,
    LegacyHtml,
}

impl FormatChoice {
    fn format(self) -> IndexFormat {
        match self {
            FormatChoice::Json => IndexFormat::Json,
            FormatChoice::Html => IndexFormat::Html,
            FormatChoice::LegacyHtml => IndexFormat::LegacyHtml,
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            FormatChoice::Json => "application/vnd.pypi.simple.v1+json",
            FormatChoice::Html => "application/vnd.pypi.simple.v1+html",
            FormatChoice::LegacyHtml => "text/html",
        }
    }
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    if let Ok(value) = HeaderValue::from_bytes(input.raw) {
        let _ = check_order_independence(&value);
    }
    let _ = negotiate(None);

    let elements: Vec<String> = input.ranges.iter().map(render).collect();
    let Ok(value) = HeaderValue::from_str(&elements.join(", ")) else {
        return;
    };
    let chosen = check_order_independence(&value);

    if let [only] = input.ranges.as_slice() {
        if let (Media::Format(format), quality) = (&only.media, quality_of(only)) {
            if quality > 0 {
                assert_eq!(chosen, Ok(format.format()), "{value:?}");
            }
        }
    }
    // With no free-form ranges, a format named exactly once, with q=0, is excluded.
    if input
        .ranges
        .iter()
        .any(|r| matches!(r.media, Media::Other(_)))
    {
        return;
    }
    for format in [
        FormatChoice::Json,
        FormatChoice::Html,
        FormatChoice::LegacyHtml,
    ] {
        let mut exact = input.ranges.iter().filter(|r| names_exactly(r, format));
        if let (Some(range), None) = (exact.next(), exact.next()) {
            if quality_of(range) == 0 {
                assert_ne!(
                    chosen,
                    Ok(format.format()),
                    "q=0 format picked for {value:?}"
                );
            }
        }
    }
}

fn names_exactly(range: &RangeSpec<'_>, format: FormatChoice) -> bool {
    match range.media {
        Media::Format(named) | Media::Latest(named) => named.format() == format.format(),
        _ => false,
    }
}

fn check_order_independence(
    value: &HeaderValue,
) -> Result<IndexFormat, pyoci_index::NotAcceptable> {
    let chosen = negotiate(Some(value));
    if let Ok(text) = value.to_str() {
        let reversed: Vec<&str> = text.split(',').rev().collect();
        if let Ok(reversed) = HeaderValue::from_str(&reversed.join(",")) {
            assert_eq!(
                negotiate(Some(&reversed)),
                chosen,
                "order matters: {value:?} vs {reversed:?}"
            );
        }
    }
    chosen
}

fn quality_of(range: &RangeSpec<'_>) -> u16 {
    range.quality.map_or(1000, |q| q % 1001)
}

fn render(range: &RangeSpec<'_>) -> String {
    let media = match range.media {
        Media::Format(format) => format.media_type().to_owned(),
        Media::Latest(format) => format.media_type().replace("v1", "latest"),
        Media::AnyApplication => "application/*".to_owned(),
        Media::AnyText => "text/*".to_owned(),
        Media::Any => "*/*".to_owned(),
        Media::Other(other) => other.replace([',', ';'], ""),
    };
    let mut element = if range.uppercase {
        media.to_ascii_uppercase()
    } else {
        media
    };
    if range.extra_parameter {
        element.push_str(";charset=utf-8");
    }
    if let Some(quality) = range.quality {
        let q = quality % 1001;
        element.push_str(&format!(";q={}.{:03}", q / 1000, q % 1000));
    }
    element
}
