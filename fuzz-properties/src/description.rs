//! `pyoci::description::render`: a package's description, as the page for people renders
//! it, on arbitrary text (Markdown and raw HTML alike).
//!
//! Properties:
//! - nothing in the output can run: no `<script`, no event attribute, no `javascript:` link
//!   (the words as text are fine);
//! - the output is either cleaned Markdown or escaped plain text (with a note saying why);
//! - plain text gives back exactly the description once unescaped.
//!
//! Time is the property this target exists for: `scripts/fuzz` runs it with a per-input
//! limit of a few seconds (`-timeout`), so an input whose render grows out of its bounds is
//! reported as a crash.

use arbitrary::Arbitrary;
use pyoci::description::render;

/// The page renders Markdown up to this size by default.
const MAX_BYTES: usize = 256 * 1024;

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    /// Declared `text/markdown` (else shown as plain text).
    pub markdown: bool,
    /// The description. Last, so it is the rest of the fuzzer's input.
    pub text: &'a str,
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    let content_type = input.markdown.then_some("text/markdown");
    let html = render(input.text, content_type, MAX_BYTES);
    let lower = html.to_ascii_lowercase();
    // `javascript:` as text is harmless; as an attribute's value it would run.
    for forbidden in [
        "<script",
        "=\"javascript:",
        "='javascript:",
        "<iframe",
        "<style",
    ] {
        assert!(!lower.contains(forbidden), "{forbidden} in {html}");
    }
    assert!(
        !has_event_attribute(&lower),
        "an event attribute survived in {html}"
    );
    if let Some(rest) = html.strip_prefix("<div class=\"description\">") {
        assert!(rest.ends_with("</div>"), "{html}");
        return;
    }
    let pre = html
        .find("<pre class=\"description\">")
        .unwrap_or_else(|| panic!("neither Markdown nor plain text: {html}"));
    let text = &html[pre + "<pre class=\"description\">".len()..];
    let text = text
        .strip_suffix("</pre>")
        .unwrap_or_else(|| panic!("{html}"));
    assert_eq!(unescape(text), input.text);
}

/// Whether a tag in `html` carries an `on…=` attribute (the cleaner drops every one).
fn has_event_attribute(html: &str) -> bool {
    html.split('<').skip(1).any(|tag| {
        let tag = tag.split('>').next().unwrap_or_default();
        tag.split(|c: char| c.is_ascii_whitespace() || c == '/')
            .skip(1)
            .any(|attribute| attribute.starts_with("on") && attribute.contains('='))
    })
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}
