//! A project's description from its core metadata, made safe to show in a page.
//!
//! The description is the package author's text, so nothing of it may run: Markdown is
//! rendered by pulldown-cmark and the resulting HTML cleaned by ammonia (an allow-list:
//! no `<script>`, no event attributes, no `javascript:` links, no styles). Any other
//! content type is shown as escaped plain text. The page's Content-Security-Policy forbids
//! scripts as a second line of defence.

use pulldown_cmark::{html, Options, Parser};

use super::html::escape;

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

/// Safe HTML for a description of `content_type`.
pub fn render(description: &str, content_type: Option<&str>) -> String {
    let markdown = content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/markdown"))
    });
    if !markdown {
        return format!("<pre class=\"description\">{}</pre>", escape(description));
    }
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut unsafe_html = String::with_capacity(description.len() * 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(description, options));
    format!(
        "<div class=\"description\">{}</div>",
        ammonia::Builder::default()
            .link_rel(Some("nofollow noopener noreferrer"))
            .clean(&unsafe_html)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let html = render(hostile, Some("text/markdown"));
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
        let html = render("<b>bold</b> & more", Some("text/x-rst"));
        assert_eq!(
            html,
            "<pre class=\"description\">&lt;b&gt;bold&lt;/b&gt; &amp; more</pre>"
        );
    }
}
