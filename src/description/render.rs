//! A description as safe HTML: Markdown rendered and cleaned when its shape is within the
//! bounds, escaped plain text otherwise.
//!
//! The description is the package author's text, so nothing of it may run: Markdown is
//! rendered by pulldown-cmark and the resulting HTML cleaned by ammonia (an allow-list:
//! no `<script>`, no event attributes, no `javascript:` links, no styles). Any other
//! content type is shown as escaped plain text. The page's Content-Security-Policy forbids
//! scripts as a second line of defence.

use pulldown_cmark::{html, Event, Options, Parser};

use super::shape::Shape;
use pyoci_index::escape_html as escape;

/// The description (the body after the header block) and its `Description-Content-Type`.
pub fn split_core_metadata(text: &str) -> (Option<String>, Option<&str>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (header, body) = match text.find("\n\n").or_else(|| text.find("\r\n\r\n")) {
        Some(at) => (&text[..at], text[at..].trim_start_matches(['\r', '\n'])),
        None => (text, ""),
    };
    let content_type = header.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("Description-Content-Type")
            .then(|| value.trim())
    });
    let body = body.trim_end();
    ((!body.is_empty()).then(|| body.to_owned()), content_type)
}

/// Safe HTML for a description of `content_type`. Markdown of more than `max_bytes`, or
/// whose shape is beyond the bounds of [`Shape::too_complex`], is shown as plain text with
/// a note saying why.
pub fn render(description: &str, content_type: Option<&str>, max_bytes: usize) -> String {
    let markdown = content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/markdown"))
    });
    if !markdown {
        return plain(description, None);
    }
    if description.len() > max_bytes {
        let note = format!(
            "it is {} bytes long, more than the {max_bytes} rendered",
            description.len()
        );
        return plain(description, Some(&note));
    }
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let events: Vec<Event<'_>> = Parser::new_ext(description, options).collect();
    if let Some(too_complex) = Shape::of(&events).too_complex() {
        return plain(description, Some(&too_complex.to_string()));
    }
    let mut unsafe_html = String::with_capacity(description.len() * 2);
    html::push_html(&mut unsafe_html, events.into_iter());
    format!(
        "<div class=\"description\">{}</div>",
        ammonia::Builder::default()
            .link_rel(Some("nofollow noopener noreferrer"))
            .clean(&unsafe_html)
    )
}

/// The description as escaped text, with the reason it is not rendered, if it is Markdown.
pub fn plain(description: &str, note: Option<&str>) -> String {
    let note = note.map_or(String::new(), |note| {
        format!(
            "<p class=\"note\">Shown as plain text: {}.</p>\n",
            escape(note)
        )
    });
    format!(
        "{note}<pre class=\"description\">{}</pre>",
        escape(description)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 256 * 1024;

    #[test]
    fn the_description_is_the_body_after_the_headers() {
        let metadata = "Metadata-Version: 2.1\nName: x\nDescription-Content-Type: text/markdown; charset=UTF-8\n\n# Title\n\nText.\n";
        let (body, content_type) = split_core_metadata(metadata);
        assert_eq!(body.as_deref(), Some("# Title\n\nText."));
        assert_eq!(content_type, Some("text/markdown; charset=UTF-8"));
        assert_eq!(split_core_metadata("Name: x\n").0, None);
    }

    #[test]
    fn nothing_from_a_package_can_run() {
        let hostile = "# Hi\n\n<script>document.title='pwned'</script>\n\n\
                       <img src=x onerror=\"document.title='pwned'\">\n\n\
                       [click](javascript:alert(1)) <a href=\"https://example.org\" onclick=\"x()\">ok</a>\n\n\
                       <style>body{display:none}</style><iframe src=\"https://evil\"></iframe>";
        let html = render(hostile, Some("text/markdown"), MAX);
        for forbidden in [
            "<script",
            "onerror",
            "javascript:",
            "onclick",
            "<style",
            "<iframe",
        ] {
            assert!(!html.contains(forbidden), "{forbidden} in {html}");
        }
        assert!(html.contains("<h1>Hi</h1>"), "{html}");
        assert!(html.contains("href=\"https://example.org\""), "{html}");
    }

    #[test]
    fn other_descriptions_are_plain_text() {
        let html = render("<b>bold</b> & more", Some("text/x-rst"), MAX);
        assert_eq!(
            html,
            "<pre class=\"description\">&lt;b&gt;bold&lt;/b&gt; &amp; more</pre>"
        );
    }
}
