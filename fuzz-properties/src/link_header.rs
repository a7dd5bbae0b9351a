//! `pyoci_oci::parse_next_link` on raw `Link` values and on values built from arbitrary links.
//!
//! Properties: it never panics or loops; what it returns is trimmed and holds no `<` or `>`;
//! for a list of links `<url>; rel="..."` it returns the first one whose `rel` holds `next`.

use arbitrary::Arbitrary;
use pyoci_oci::parse_next_link;

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub raw: &'a str,
    pub links: Vec<LinkSpec<'a>>,
}

#[derive(Arbitrary, Debug)]
pub struct LinkSpec<'a> {
    pub url: &'a str,
    pub rel: Rel,
    pub quoted: bool,
    pub other_parameter: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Rel {
    Next,
    NextUpper,
    Prev,
    First,
    PrevNext,
    Last,
    None,
}

impl Rel {
    fn text(self) -> Option<&'static str> {
        match self {
            Rel::Next => Some("next"),
            Rel::NextUpper => Some("NEXT"),
            Rel::Prev => Some("prev"),
            Rel::First => Some("first"),
            Rel::PrevNext => Some("prev next"),
            Rel::Last => Some("last"),
            Rel::None => None,
        }
    }

    fn is_next(self) -> bool {
        matches!(self, Rel::Next | Rel::NextUpper | Rel::PrevNext)
    }
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    if let Some(url) = parse_next_link(input.raw) {
        assert!(!url.contains(['<', '>']), "{url:?} from {:?}", input.raw);
        assert_eq!(url, url.trim());
    }

    let links: Vec<(String, Rel)> = input
        .links
        .iter()
        .map(|link| (link.url.replace(['<', '>'], ""), link.rel))
        .collect();
    let header: Vec<String> = input
        .links
        .iter()
        .zip(&links)
        .map(|(spec, (url, rel))| {
            let mut link = format!("<{url}>");
            if spec.other_parameter {
                link.push_str("; title=page");
            }
            // A bare `rel` value with a space is not valid; quote it.
            if let Some(rel) = rel.text() {
                if spec.quoted || rel.contains(' ') {
                    link.push_str(&format!("; rel=\"{rel}\""));
                } else {
                    link.push_str(&format!("; rel={rel}"));
                }
            }
            link
        })
        .collect();
    let header = header.join(", ");
    let expected = links
        .iter()
        .find(|(_, rel)| rel.is_next())
        .map(|(url, _)| url.trim());
    assert_eq!(parse_next_link(&header), expected, "{header:?}");
}
