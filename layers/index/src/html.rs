//! PEP 503 HTML pages (with the PEP 592, 629, 658 and 714 attributes).

use std::fmt::Write;

use crate::model::{normalize_project_name, DistributionFile, ProjectList, ProjectPage, Yanked};
use crate::API_VERSION;

/// Renders a project page as PEP 503 HTML.
///
/// Each file is an anchor `<a href="URL#sha256=HEX">filename</a>` with `data-requires-python`,
/// `data-dist-info-metadata` and `data-core-metadata` (`sha256=HEX`), and `data-yanked` when
/// they apply. Every text and attribute value is escaped.
pub fn render_project_html(page: &ProjectPage) -> String {
    let name = escape(&page.name);
    let mut html = head(&format!("Links for {name}"));
    for file in &page.files {
        html.push_str("    ");
        push_anchor(&mut html, file);
        html.push_str("<br>\n");
    }
    html.push_str(FOOT);
    html
}

/// Renders the project list as PEP 503 HTML: one anchor per project, linking to
/// `<normalized-name>/` relative to the list's own URL (which must end with `/`).
pub fn render_list_html(list: &ProjectList) -> String {
    let mut html = head("Simple index");
    for project in &list.projects {
        let href = escape(&format!("{}/", normalize_project_name(project)));
        let _ = writeln!(html, "    <a href=\"{href}\">{}</a><br>", escape(project));
    }
    html.push_str(FOOT);
    html
}

const FOOT: &str = "  </body>\n</html>\n";

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    \
         <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    \
         <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n"
    )
}

fn push_anchor(html: &mut String, file: &DistributionFile) {
    let mut href = file.url.clone();
    if let Some(sha256) = &file.sha256 {
        href.push_str("#sha256=");
        href.push_str(sha256);
    }
    let _ = write!(html, "<a href=\"{}\"", escape(&href));
    if let Some(requires_python) = file.known_requires_python() {
        let _ = write!(
            html,
            " data-requires-python=\"{}\"",
            escape(requires_python)
        );
    }
    if let Some(sha256) = &file.core_metadata_sha256 {
        let value = escape(&format!("sha256={sha256}"));
        let _ = write!(
            html,
            " data-dist-info-metadata=\"{value}\" data-core-metadata=\"{value}\""
        );
    }
    match &file.yanked {
        Yanked::No => {}
        // pip treats a bare `data-yanked` as "not yanked": always give it a value.
        Yanked::Yes => html.push_str(" data-yanked=\"\""),
        Yanked::WithReason(reason) => {
            let _ = write!(html, " data-yanked=\"{}\"", escape(reason));
        }
    }
    let _ = write!(html, ">{}</a>", escape(&file.filename));
}

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` become entities, nothing else changes.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel() -> DistributionFile {
        DistributionFile::new(
            "demo-1.0-py3-none-any.whl",
            "https://pyoci.example/ghcr.io/acme/demo/demo-1.0-py3-none-any.whl",
        )
    }

    #[test]
    fn renders_a_complete_project_page() {
        let page = ProjectPage::new(
            "demo",
            vec![
                wheel()
                    .with_sha256("aa11")
                    .with_requires_python(">=3.8, <4")
                    .with_core_metadata_sha256("bb22"),
                DistributionFile::new("demo-0.9.tar.gz", "files/demo-0.9.tar.gz"),
            ],
        );
        assert_eq!(
            render_project_html(&page),
            "<!DOCTYPE html>\n<html>\n  <head>\n    \
             <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
             <title>Links for demo</title>\n  </head>\n  <body>\n    <h1>Links for demo</h1>\n    \
             <a href=\"https://pyoci.example/ghcr.io/acme/demo/demo-1.0-py3-none-any.whl#sha256=aa11\" \
             data-requires-python=\"&gt;=3.8, &lt;4\" data-dist-info-metadata=\"sha256=bb22\" \
             data-core-metadata=\"sha256=bb22\">demo-1.0-py3-none-any.whl</a><br>\n    \
             <a href=\"files/demo-0.9.tar.gz\">demo-0.9.tar.gz</a><br>\n  </body>\n</html>\n"
        );
    }

    #[test]
    fn yanked_files_carry_a_valued_attribute() {
        let yanked = ProjectPage::new("demo", vec![wheel().with_yanked(Yanked::Yes)]);
        assert!(render_project_html(&yanked).contains("any.whl\" data-yanked=\"\">"));

        let reason = Yanked::WithReason("broken \"build\" <sorry>".to_owned());
        let yanked = ProjectPage::new("demo", vec![wheel().with_yanked(reason)]);
        assert!(render_project_html(&yanked)
            .contains(" data-yanked=\"broken &quot;build&quot; &lt;sorry&gt;\">"));
    }

    #[test]
    fn empty_requires_python_is_left_out() {
        let page = ProjectPage::new("demo", vec![wheel().with_requires_python("")]);
        assert!(!render_project_html(&page).contains("data-requires-python"));
    }

    #[test]
    fn malicious_values_cannot_break_out() {
        let page = ProjectPage::new(
            "<script>alert(1)</script>",
            vec![DistributionFile::new(
                "<script>alert('x')</script>.whl",
                "https://evil.example/\" onmouseover=\"alert(1)",
            )
            .with_sha256("\"><script>")
            .with_core_metadata_sha256("'><b>")],
        );
        let html = render_project_html(&page);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("\" onmouseover"), "{html}");
        assert!(!html.contains("'><b>"), "{html}");
        assert!(html.contains(
            "<a href=\"https://evil.example/&quot; onmouseover=&quot;alert(1)#sha256=&quot;&gt;&lt;script&gt;\""
        ));
        assert!(html.contains(">&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;.whl</a>"));
        assert!(html.contains("<title>Links for &lt;script&gt;alert(1)&lt;/script&gt;</title>"));
        // Every quote in the page delimits an attribute: 2 on the meta tag, 3 on the anchor.
        assert_eq!(html.matches('"').count(), 2 * (2 + 3));
    }

    #[test]
    fn ampersands_in_urls_are_escaped() {
        let page = ProjectPage::new("demo", vec![DistributionFile::new("a.whl", "/f?x=1&y=2")]);
        assert!(render_project_html(&page).contains("href=\"/f?x=1&amp;y=2\""));
    }

    #[test]
    fn renders_the_project_list_with_normalized_links() {
        let list = ProjectList::new(vec!["Demo_Pkg".to_owned(), "a<b".to_owned()]);
        assert_eq!(
            render_list_html(&list),
            "<!DOCTYPE html>\n<html>\n  <head>\n    \
             <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
             <title>Simple index</title>\n  </head>\n  <body>\n    <h1>Simple index</h1>\n    \
             <a href=\"demo-pkg/\">Demo_Pkg</a><br>\n    \
             <a href=\"a&lt;b/\">a&lt;b</a><br>\n  </body>\n</html>\n"
        );
    }

    #[test]
    fn escape_covers_the_five_special_characters() {
        assert_eq!(escape("&<>\"'x"), "&amp;&lt;&gt;&quot;&#x27;x");
    }
}
