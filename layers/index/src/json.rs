//! PEP 691 JSON pages (with the PEP 700 and 714 keys).

use serde::Serialize;

use crate::model::{normalize_project_name, DistributionFile, ProjectList, ProjectPage, Yanked};
use crate::API_VERSION;

/// Renders a project page as PEP 691 JSON.
///
/// `name` is the normalized project name; each file has `filename`, `url` and `hashes`
/// (`{}` when the digest is unknown), plus `requires-python`, `core-metadata`,
/// `dist-info-metadata`, `size` and `upload-time` when known, and `yanked` (`false`, `true`
/// or the reason).
pub fn render_project_json(page: &ProjectPage) -> String {
    to_json(&ProjectJson {
        meta: Meta::CURRENT,
        name: normalize_project_name(&page.name),
        files: page.files.iter().map(FileJson::from).collect(),
        versions: &page.versions,
    })
}

/// Renders the project list as PEP 691 JSON: `{"meta": ..., "projects": [{"name": ...}]}`.
pub fn render_list_json(list: &ProjectList) -> String {
    to_json(&ListJson {
        meta: Meta::CURRENT,
        projects: list
            .projects
            .iter()
            .map(|name| ProjectName { name })
            .collect(),
    })
}

/// These documents have only string keys and no floats, so serializing them cannot fail; the
/// empty string stands in for the impossible error instead of a panic.
fn to_json(document: &impl Serialize) -> String {
    serde_json::to_string(document).unwrap_or_default()
}

#[derive(Serialize)]
struct Meta {
    #[serde(rename = "api-version")]
    api_version: &'static str,
}

impl Meta {
    const CURRENT: Self = Self {
        api_version: API_VERSION,
    };
}

#[derive(Serialize)]
struct ProjectJson<'a> {
    meta: Meta,
    name: String,
    files: Vec<FileJson<'a>>,
    versions: &'a [String],
}

#[derive(Serialize)]
struct ListJson<'a> {
    meta: Meta,
    projects: Vec<ProjectName<'a>>,
}

#[derive(Serialize)]
struct ProjectName<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct FileJson<'a> {
    filename: &'a str,
    url: &'a str,
    hashes: Hashes<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires_python: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    core_metadata: Option<Hashes<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dist_info_metadata: Option<Hashes<'a>>,
    yanked: YankedJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_time: Option<&'a str>,
}

#[derive(Serialize, Clone, Copy)]
struct Hashes<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum YankedJson<'a> {
    Flag(bool),
    Reason(&'a str),
}

impl<'a> From<&'a DistributionFile> for FileJson<'a> {
    fn from(file: &'a DistributionFile) -> Self {
        let core_metadata = file.core_metadata_sha256.as_deref().map(|sha256| Hashes {
            sha256: Some(sha256),
        });
        Self {
            filename: &file.filename,
            url: &file.url,
            hashes: Hashes {
                sha256: file.sha256.as_deref(),
            },
            requires_python: file.known_requires_python(),
            core_metadata,
            dist_info_metadata: core_metadata,
            yanked: match &file.yanked {
                Yanked::No => YankedJson::Flag(false),
                Yanked::Yes => YankedJson::Flag(true),
                Yanked::WithReason(reason) => YankedJson::Reason(reason),
            },
            size: file.size,
            upload_time: file.upload_time.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn renders_a_complete_project_page() {
        let page = ProjectPage::new(
            "Demo_Pkg",
            vec![
                DistributionFile::new(
                    "demo_pkg-1.0-py3-none-any.whl",
                    "files/demo_pkg-1.0-py3-none-any.whl",
                )
                .with_sha256("aa11")
                .with_requires_python(">=3.8")
                .with_core_metadata_sha256("bb22")
                .with_size(1234)
                .with_upload_time("2026-01-02T03:04:05.123456Z"),
                DistributionFile::new("demo_pkg-0.9.tar.gz", "files/demo_pkg-0.9.tar.gz")
                    .with_yanked(Yanked::WithReason("broken".to_owned())),
                DistributionFile::new("demo_pkg-0.8.tar.gz", "files/demo_pkg-0.8.tar.gz")
                    .with_yanked(Yanked::Yes),
            ],
        )
        .with_versions(vec!["0.8".to_owned(), "0.9".to_owned(), "1.0".to_owned()]);
        assert_eq!(
            parsed(&render_project_json(&page)),
            json!({
                "meta": {"api-version": "1.1"},
                "name": "demo-pkg",
                "files": [
                    {
                        "filename": "demo_pkg-1.0-py3-none-any.whl",
                        "url": "files/demo_pkg-1.0-py3-none-any.whl",
                        "hashes": {"sha256": "aa11"},
                        "requires-python": ">=3.8",
                        "core-metadata": {"sha256": "bb22"},
                        "dist-info-metadata": {"sha256": "bb22"},
                        "yanked": false,
                        "size": 1234,
                        "upload-time": "2026-01-02T03:04:05.123456Z"
                    },
                    {
                        "filename": "demo_pkg-0.9.tar.gz",
                        "url": "files/demo_pkg-0.9.tar.gz",
                        "hashes": {},
                        "yanked": "broken"
                    },
                    {
                        "filename": "demo_pkg-0.8.tar.gz",
                        "url": "files/demo_pkg-0.8.tar.gz",
                        "hashes": {},
                        "yanked": true
                    }
                ],
                "versions": ["0.8", "0.9", "1.0"]
            })
        );
    }

    #[test]
    fn unknown_hash_is_an_empty_object_in_the_exact_text() {
        let page = ProjectPage::new("demo", vec![DistributionFile::new("a.whl", "a.whl")]);
        assert_eq!(
            render_project_json(&page),
            r#"{"meta":{"api-version":"1.1"},"name":"demo","files":[{"filename":"a.whl","url":"a.whl","hashes":{},"yanked":false}],"versions":[]}"#
        );
    }

    #[test]
    fn hostile_strings_stay_inside_their_json_strings() {
        let page = ProjectPage::new(
            "demo",
            vec![DistributionFile::new("\",\"x\":\"<script>", "u\"\\\n")],
        );
        let document = parsed(&render_project_json(&page));
        assert_eq!(document["files"][0]["filename"], "\",\"x\":\"<script>");
        assert_eq!(document["files"][0]["url"], "u\"\\\n");
        assert_eq!(document["files"][0].as_object().unwrap().len(), 4);
    }

    #[test]
    fn renders_the_project_list() {
        let list = ProjectList::new(vec!["Demo_Pkg".to_owned(), "other".to_owned()]);
        assert_eq!(
            render_list_json(&list),
            r#"{"meta":{"api-version":"1.1"},"projects":[{"name":"Demo_Pkg"},{"name":"other"}]}"#
        );
    }
}
