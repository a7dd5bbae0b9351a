//! `pyoci_index::render_project_html` / `render_project_json` (and the list pages) on pages of
//! arbitrary names, filenames, URLs, digests, `Requires-Python` and yank reasons.
//!
//! Properties:
//! - HTML: every `<`, `>`, `"` and `'` in the page is one the renderer writes (their counts
//!   depend only on the page's shape), every `&` starts an entity, and each anchor's text and
//!   `href` unescape back to the file's name and URL (with `#sha256=`);
//! - JSON: the page parses with serde_json and holds each filename, URL and version exactly.

use arbitrary::Arbitrary;
use pyoci_index::{
    normalize_project_name, render_list_html, render_list_json, render_project_html,
    render_project_json, DistributionFile, ProjectList, ProjectPage, Yanked,
};
use serde_json::Value;

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub name: String,
    pub files: Vec<FileSpec>,
    pub versions: Vec<String>,
}

#[derive(Arbitrary, Debug)]
pub struct FileSpec {
    pub filename: String,
    pub url: String,
    sha256: Option<String>,
    pub requires_python: Option<String>,
    core_metadata_sha256: Option<String>,
    pub yanked: YankedSpec,
    pub size: Option<u64>,
    pub upload_time: Option<String>,
}

#[derive(Arbitrary, Debug)]
pub enum YankedSpec {
    No,
    Yes,
    WithReason(String),
}

impl FileSpec {
    fn build(self) -> DistributionFile {
        DistributionFile {
            filename: self.filename,
            url: self.url,
            sha256: self.sha256,
            requires_python: self.requires_python,
            core_metadata_sha256: self.core_metadata_sha256,
            yanked: match self.yanked {
                YankedSpec::No => Yanked::No,
                YankedSpec::Yes => Yanked::Yes,
                YankedSpec::WithReason(reason) => Yanked::WithReason(reason),
            },
            size: self.size,
            upload_time: self.upload_time,
        }
    }
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input) {
    let files: Vec<DistributionFile> = input.files.into_iter().map(FileSpec::build).collect();
    let page = ProjectPage::new(input.name, files).with_versions(input.versions);
    check_project_html(&page);
    check_project_json(&page);

    let mut projects = vec![page.name.clone()];
    projects.extend(page.files.iter().map(|file| file.filename.clone()));
    let list = ProjectList::new(projects);
    check_list_html(&list);
    check_list_json(&list);
}

/// Characters that only markup may contain.
const MARKUP: [char; 4] = ['<', '>', '"', '\''];

fn check_project_html(page: &ProjectPage) {
    let html = render_project_html(page);
    let shape = render_project_html(&blank_page(page));
    for c in MARKUP {
        assert_eq!(
            html.matches(c).count(),
            shape.matches(c).count(),
            "`{c}` from the input is not escaped:\n{html}"
        );
    }
    assert_entities_only(&html);

    let anchors: Vec<&str> = html.split("<a href=\"").skip(1).collect();
    assert_eq!(anchors.len(), page.files.len(), "{html}");
    for (anchor, file) in anchors.iter().zip(&page.files) {
        let (href, rest) = anchor.split_once('"').unwrap_or_default();
        let mut expected_href = file.url.clone();
        if let Some(sha256) = &file.sha256 {
            expected_href.push_str("#sha256=");
            expected_href.push_str(sha256);
        }
        assert_eq!(unescape(href), expected_href, "{html}");
        let text = rest
            .split_once('>')
            .and_then(|(_, text)| text.split_once("</a>"))
            .map(|(text, _)| text)
            .unwrap_or_default();
        assert_eq!(unescape(text), file.filename, "{html}");
    }
}

fn check_list_html(list: &ProjectList) {
    let html = render_list_html(list);
    let blank = ProjectList::new(list.projects.iter().map(|_| String::new()).collect());
    let shape = render_list_html(&blank);
    for c in MARKUP {
        assert_eq!(
            html.matches(c).count(),
            shape.matches(c).count(),
            "`{c}` from the input is not escaped:\n{html}"
        );
    }
    assert_entities_only(&html);
}

/// The same page with every string emptied: the markup the renderer writes on its own.
/// An empty `Requires-Python` counts as unknown, so it stays absent either way.
fn blank_page(page: &ProjectPage) -> ProjectPage {
    let files = page
        .files
        .iter()
        .map(|file| DistributionFile {
            filename: String::new(),
            url: String::new(),
            sha256: file.sha256.as_ref().map(|_| String::new()),
            requires_python: file
                .requires_python
                .as_ref()
                .filter(|spec| !spec.is_empty())
                .map(|_| "x".to_owned()),
            core_metadata_sha256: file.core_metadata_sha256.as_ref().map(|_| String::new()),
            yanked: match &file.yanked {
                Yanked::No => Yanked::No,
                Yanked::Yes => Yanked::Yes,
                Yanked::WithReason(_) => Yanked::WithReason(String::new()),
            },
            size: file.size,
            upload_time: file.upload_time.as_ref().map(|_| String::new()),
        })
        .collect();
    ProjectPage::new(String::new(), files)
}

const ENTITIES: [(&str, char); 5] = [
    ("&amp;", '&'),
    ("&lt;", '<'),
    ("&gt;", '>'),
    ("&quot;", '"'),
    ("&#x27;", '\''),
];

fn assert_entities_only(html: &str) {
    for (at, _) in html.match_indices('&') {
        let rest = html.get(at..).unwrap_or_default();
        assert!(
            ENTITIES.iter().any(|(entity, _)| rest.starts_with(entity)),
            "bare `&` at byte {at}:\n{html}"
        );
    }
}

fn unescape(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        plain.push_str(rest.get(..at).unwrap_or_default());
        let tail = rest.get(at..).unwrap_or_default();
        let Some((entity, c)) = ENTITIES.iter().find(|(entity, _)| tail.starts_with(entity)) else {
            panic!("bare `&` in {text:?}");
        };
        plain.push(*c);
        rest = tail.get(entity.len()..).unwrap_or_default();
    }
    plain.push_str(rest);
    plain
}

fn check_project_json(page: &ProjectPage) {
    let json = render_project_json(page);
    let document: Value = match serde_json::from_str(&json) {
        Ok(document) => document,
        Err(error) => panic!("the JSON page does not parse: {error}\n{json}"),
    };
    assert_eq!(
        document["name"].as_str(),
        Some(normalize_project_name(&page.name).as_str())
    );
    let files = document["files"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(files.len(), page.files.len(), "{json}");
    for (rendered, file) in files.iter().zip(&page.files) {
        assert_eq!(
            rendered["filename"].as_str(),
            Some(file.filename.as_str()),
            "{json}"
        );
        assert_eq!(rendered["url"].as_str(), Some(file.url.as_str()), "{json}");
        assert_eq!(
            rendered["hashes"]["sha256"].as_str(),
            file.sha256.as_deref(),
            "{json}"
        );
        assert_eq!(rendered["size"].as_u64(), file.size, "{json}");
    }
    let versions: Vec<&str> = document["versions"]
        .as_array()
        .map(|versions| versions.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(versions, page.versions, "{json}");
}

fn check_list_json(list: &ProjectList) {
    let json = render_list_json(list);
    let document: Value = match serde_json::from_str(&json) {
        Ok(document) => document,
        Err(error) => panic!("the JSON list does not parse: {error}\n{json}"),
    };
    let names: Vec<&str> = document["projects"]
        .as_array()
        .map(|projects| projects.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, list.projects, "{json}");
}
