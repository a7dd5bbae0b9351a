//! How much work a description is to clean, measured before any of it is done.
//!
//! pulldown-cmark parses in linear time, but the HTML it produces is then parsed again by
//! html5ever (inside ammonia), whose tree building costs grow with the number of elements
//! times the depth of the tree of open elements, and with the number of formatting elements
//! (`<b>`, `<font>`, `<a>`, …) left open, which it re-creates for every later run of text.
//! Measured before these bounds: 8,000 `<font x=N>` tags took 53 s, 8,000 nested `<ul><li>`
//! 0.5 s, 512 `<table>` tags before 90,000 paragraphs 2.4 s. The shape counts what drives
//! those costs from the parser's events, so a description is only cleaned when the work is
//! known to be small.

use pulldown_cmark::Event;

/// The deepest Markdown nesting rendered (block quotes, lists, emphasis, links, tables).
pub const MAX_MARKDOWN_DEPTH: usize = 32;
/// The most raw HTML start tags (of elements that can hold others) rendered.
pub const MAX_HTML_TAGS: usize = 512;
/// The most raw HTML formatting start tags rendered (html5ever re-creates open ones).
pub const MAX_FORMATTING_TAGS: usize = 64;
/// The most tokens-times-depth units of work rendered. `cargo bench --bench description`
/// times the worst inputs within the bounds: 2 to 10 ns a unit, so 0.15 s at most, a few
/// times a plain README of the full rendered size, once per description (results are kept).
/// A README of 100 KB with 300 HTML tags is about 3 million.
pub const MAX_WORK: u64 = 16_000_000;

/// Elements the HTML parser treats as formatting: it keeps a list of the open ones and
/// re-opens them at each run of text once something closed them implicitly.
const FORMATTING: [&str; 14] = [
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
/// Elements without content: they never deepen the tree.
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// What a description's events would cost to clean.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The deepest nesting of Markdown elements.
    pub markdown_depth: usize,
    /// Raw HTML start tags of non-void elements, closed or not.
    pub html_tags: usize,
    /// Of those, formatting elements.
    pub formatting_tags: usize,
    /// Every event and raw tag: the tokens the HTML parser will see, roughly.
    pub tokens: u64,
}

/// Why a description is shown as plain text instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooComplex {
    MarkdownDepth(usize),
    HtmlTags(usize),
    FormattingTags(usize),
    Work(u64),
}

impl Shape {
    /// Measures `events` (one pass, no allocation).
    pub fn of(events: &[Event<'_>]) -> Shape {
        let mut shape = Shape::default();
        let mut depth = 0usize;
        for event in events {
            shape.tokens += 1;
            match event {
                Event::Start(_) => {
                    depth += 1;
                    shape.markdown_depth = shape.markdown_depth.max(depth);
                }
                Event::End(_) => depth = depth.saturating_sub(1),
                Event::Html(html) | Event::InlineHtml(html) => shape.count_raw_tags(html),
                _ => {}
            }
        }
        shape
    }

    /// The bound this shape breaks, if any.
    pub fn too_complex(&self) -> Option<TooComplex> {
        if self.markdown_depth > MAX_MARKDOWN_DEPTH {
            return Some(TooComplex::MarkdownDepth(self.markdown_depth));
        }
        if self.html_tags > MAX_HTML_TAGS {
            return Some(TooComplex::HtmlTags(self.html_tags));
        }
        if self.formatting_tags > MAX_FORMATTING_TAGS {
            return Some(TooComplex::FormattingTags(self.formatting_tags));
        }
        let work = self.work();
        (work > MAX_WORK).then_some(TooComplex::Work(work))
    }

    /// Tokens times the deepest the parser's tree of open elements can get: every raw tag
    /// left open, each Markdown level as up to three elements (a table cell sits in a row in
    /// a head or body in a table), the page's own wrappers, and every formatting element the
    /// parser may re-open on top.
    pub fn work(&self) -> u64 {
        let depth = self.html_tags + 3 * self.markdown_depth + 4 + self.formatting_tags;
        self.tokens.saturating_mul(depth as u64)
    }

    fn count_raw_tags(&mut self, html: &str) {
        let bytes = html.as_bytes();
        // Every tag, comment or stray `<` is a token of its own.
        self.tokens += bytes.iter().filter(|&&b| b == b'<').count() as u64;
        let mut at = 0;
        while let Some(offset) = bytes[at..].iter().position(|&b| b == b'<') {
            let start = at + offset + 1;
            let name_len = bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            at = start + name_len;
            // A start tag begins with a letter; `</x>`, `<!--` and `<?` open nothing.
            if name_len == 0 || !bytes[start].is_ascii_alphabetic() {
                continue;
            }
            let name = &html[start..at];
            if VOID.iter().any(|void| void.eq_ignore_ascii_case(name)) {
                continue;
            }
            self.html_tags += 1;
            if FORMATTING.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                self.formatting_tags += 1;
            }
        }
    }
}

impl std::fmt::Display for TooComplex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TooComplex::MarkdownDepth(depth) => write!(
                f,
                "its Markdown nests {depth} levels deep, more than the {MAX_MARKDOWN_DEPTH} \
                 rendered"
            ),
            TooComplex::HtmlTags(tags) => write!(
                f,
                "it holds {tags} HTML tags, more than the {MAX_HTML_TAGS} rendered"
            ),
            TooComplex::FormattingTags(tags) => write!(
                f,
                "it holds {tags} HTML formatting tags (b, i, a, font, …), more than the \
                 {MAX_FORMATTING_TAGS} rendered"
            ),
            TooComplex::Work(_) => {
                f.write_str("its size and nesting together are more than a page for people renders")
            }
        }
    }
}
