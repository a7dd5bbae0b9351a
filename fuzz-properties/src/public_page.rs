//! `pyoci::mirror::public::parse_project_page` (the mirror's reader of PEP 691 JSON pages
//! from the public index) on raw bodies and on pages built from arbitrary files.
//!
//! Properties: it never panics; whatever it accepts is safe to act on: at most `max_files`
//! files, each filename one plain path component (no `/`, `\`, `..`, control characters,
//! at most 255 bytes) and listed once, each URL absolute http(s) without credentials, each
//! sha256 64 lowercase hex digits. A built page whose files are all valid is accepted with
//! every value as written (hashes lowercased, relative URLs resolved against the page);
//! one invalid filename or hash refuses the whole page.

use std::collections::HashSet;

use arbitrary::Arbitrary;
use pyoci::mirror::public::{
    parse_project_page, CoreMetadataHint, PublicError, PublicLimits, PublicProject,
};

const PAGE_URL: &str = "https://index.test/simple/demo/";

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub raw: &'a [u8],
    pub files: Vec<FileSpec<'a>>,
    pub max_files: u8,
}

#[derive(Arbitrary, Debug)]
pub struct FileSpec<'a> {
    pub filename: &'a str,
    pub url: UrlSpec<'a>,
    pub sha256: Option<[u8; 32]>,
    pub uppercase_hash: bool,
    pub yanked: Option<Option<&'a str>>,
    pub size: Option<u64>,
    pub upload_time: Option<&'a str>,
    pub requires_python: Option<&'a str>,
    pub metadata_sha256: Option<Option<[u8; 32]>>,
    pub legacy_metadata_key: bool,
}

#[derive(Arbitrary, Debug)]
pub enum UrlSpec<'a> {
    /// `../../files/<n>`: resolves to `https://index.test/files/<n>`.
    Relative,
    /// `https://files.test/<n>`.
    Absolute,
    /// Anything: only the safety properties are checked.
    Raw(&'a str),
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    let page_url: http::Uri = PAGE_URL.parse().expect("a valid page URL");
    let limits = PublicLimits {
        max_files: usize::from(input.max_files),
        ..PublicLimits::default()
    };
    if let Ok(page) = parse_project_page(&page_url, input.raw, &limits) {
        check_safe(&page, &limits);
    }

    let page = build_page(&input.files);
    let wide = PublicLimits::default();
    let parsed = parse_project_page(&page_url, page.as_bytes(), &wide);
    if let Ok(project) = &parsed {
        check_safe(project, &wide);
    }
    if input
        .files
        .iter()
        .any(|file| matches!(file.url, UrlSpec::Raw(_)))
    {
        return;
    }
    let mut names = HashSet::new();
    let all_valid = input
        .files
        .iter()
        .all(|file| valid_filename(file.filename) && names.insert(file.filename));
    if !all_valid {
        assert!(
            matches!(parsed, Err(PublicError::Invalid(_))),
            "{parsed:?} for {page}"
        );
        return;
    }
    let project = parsed.unwrap_or_else(|error| panic!("{error} for {page}"));
    assert_eq!(project.files.len(), input.files.len());
    for (n, (spec, file)) in input.files.iter().zip(&project.files).enumerate() {
        assert_eq!(file.filename, spec.filename);
        let url = match spec.url {
            UrlSpec::Relative => format!("https://index.test/files/{n}"),
            _ => format!("https://files.test/{n}"),
        };
        assert_eq!(file.url.to_string(), url);
        assert_eq!(file.sha256, spec.sha256.map(|hash| hex(&hash)));
        assert_eq!(
            file.yanked.as_deref(),
            spec.yanked.map(|reason| reason.unwrap_or(""))
        );
        assert_eq!(file.size, spec.size);
        assert_eq!(file.requires_python.as_deref(), spec.requires_python);
        let metadata = match spec.metadata_sha256 {
            None => CoreMetadataHint::Absent,
            Some(None) => CoreMetadataHint::Present,
            Some(Some(hash)) => CoreMetadataHint::Sha256(hex(&hash)),
        };
        assert_eq!(file.core_metadata, metadata);
    }
}

/// What every accepted page guarantees.
fn check_safe(page: &PublicProject, limits: &PublicLimits) {
    assert!(page.files.len() <= limits.max_files);
    let mut names = HashSet::new();
    for file in &page.files {
        assert!(valid_filename(&file.filename), "{:?}", file.filename);
        assert!(names.insert(&file.filename), "{:?} twice", file.filename);
        assert!(
            matches!(file.url.scheme_str(), Some("http" | "https")),
            "{}",
            file.url
        );
        let authority = file.url.authority().expect("an absolute URL");
        assert!(!authority.as_str().contains('@'), "{}", file.url);
        for hash in [file.sha256.as_ref(), sha256_of(&file.core_metadata)]
            .into_iter()
            .flatten()
        {
            assert!(
                hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{hash:?}"
            );
        }
    }
}

fn sha256_of(hint: &CoreMetadataHint) -> Option<&String> {
    match hint {
        CoreMetadataHint::Sha256(hash) => Some(hash),
        _ => None,
    }
}

fn valid_filename(filename: &str) -> bool {
    !filename.is_empty()
        && filename.len() <= 255
        && !filename.contains(['/', '\\'])
        && !filename.contains("..")
        && !filename.chars().any(char::is_control)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn build_page(files: &[FileSpec<'_>]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            let url = match spec.url {
                UrlSpec::Relative => format!("../../files/{n}"),
                UrlSpec::Absolute => format!("https://files.test/{n}"),
                UrlSpec::Raw(raw) => raw.to_owned(),
            };
            let mut file = serde_json::json!({"filename": spec.filename, "url": url});
            let mut hashes = serde_json::Map::new();
            if let Some(hash) = spec.sha256 {
                let hash = hex(&hash);
                let hash = if spec.uppercase_hash {
                    hash.to_uppercase()
                } else {
                    hash
                };
                hashes.insert("sha256".into(), hash.into());
            }
            file["hashes"] = hashes.into();
            if let Some(reason) = spec.yanked {
                file["yanked"] = reason.map_or(true.into(), Into::into);
            }
            if let Some(size) = spec.size {
                file["size"] = size.into();
            }
            if let Some(time) = spec.upload_time {
                file["upload-time"] = time.into();
            }
            if let Some(requires) = spec.requires_python {
                file["requires-python"] = requires.into();
            }
            if let Some(metadata) = spec.metadata_sha256 {
                let key = if spec.legacy_metadata_key {
                    "dist-info-metadata"
                } else {
                    "core-metadata"
                };
                file[key] = match metadata {
                    None => true.into(),
                    Some(hash) => serde_json::json!({ "sha256": hex(&hash) }),
                };
            }
            file
        })
        .collect();
    serde_json::json!({"meta": {"api-version": "1.1"}, "name": "demo", "files": files}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quick stand-in for fuzzing in plain `cargo test`: pseudo-random inputs, decoded as
    /// the fuzz target decodes them.
    #[test]
    fn holds_for_pseudo_random_inputs() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for length in (0..3000).map(|n| n % 600) {
            let bytes: Vec<u8> = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let _ = crate::run(&bytes, check);
        }
    }
}
