//! PEP 691 JSON project pages, read into [`PublicProject`]: every value PyOCI uses later
//! (filenames become registry references and paths, URLs are fetched, hashes are checked)
//! is validated here, once, so a hostile page is refused before anything acts on it.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, SystemTime},
};

use serde::Deserialize;

use super::{CoreMetadataHint, PublicError, PublicFile, PublicLimits, PublicProject};

/// Longest filename taken: what file systems and most registries allow in one component.
const MAX_FILENAME_BYTES: usize = 255;

/// The raw page as PEP 691 writes it; unknown keys are ignored, as the PEP asks of clients.
#[derive(Deserialize)]
struct RawPage {
    meta: RawMeta,
    name: String,
    files: Vec<RawFile>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(rename = "api-version")]
    api_version: String,
}

#[derive(Deserialize)]
struct RawFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    /// PEP 714's name; `dist-info-metadata` is the one PEP 658 used first.
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<RawMetadata>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<RawMetadata>,
    #[serde(default)]
    yanked: Option<RawYanked>,
    #[serde(default)]
    size: Option<u64>,
    /// Any JSON value: a time PyOCI cannot read is "unknown", not a broken page.
    #[serde(rename = "upload-time", default)]
    upload_time: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMetadata {
    Flag(bool),
    Hashes(HashMap<String, String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawYanked {
    Flag(bool),
    Reason(String),
}

/// Parses and validates a PEP 691 project page fetched from `page_url` (relative file URLs
/// are resolved against it). Pure: no I/O, for the fuzz target too.
pub fn parse_project_page(
    page_url: &http::Uri,
    body: &[u8],
    limits: &PublicLimits,
) -> Result<PublicProject, PublicError> {
    if body.len() > limits.max_page_bytes {
        return Err(PublicError::TooLarge {
            what: super::Oversized::Page,
            limit: limits.max_page_bytes as u64,
        });
    }
    let raw: RawPage = serde_json::from_slice(body)
        .map_err(|err| PublicError::Invalid(format!("not the JSON PEP 691 describes: {err}")))?;
    check_api_version(&raw.meta.api_version)?;
    if raw.files.len() > limits.max_files {
        return Err(PublicError::TooLarge {
            what: super::Oversized::Files,
            limit: limits.max_files as u64,
        });
    }
    let base = reqwest::Url::parse(&page_url.to_string())
        .map_err(|err| PublicError::Invalid(format!("the page URL `{page_url}`: {err}")))?;
    let mut seen = HashSet::with_capacity(raw.files.len());
    let mut files = Vec::with_capacity(raw.files.len());
    for (position, raw_file) in raw.files.into_iter().enumerate() {
        let file = public_file(&base, raw_file)
            .map_err(|problem| PublicError::Invalid(format!("file {}: {problem}", position + 1)))?;
        // Two entries of one name would make "the file `x`" ambiguous for every later step.
        if !seen.insert(file.filename.clone()) {
            return Err(PublicError::Invalid(format!(
                "file {}: `{}` is listed twice",
                position + 1,
                file.filename
            )));
        }
        files.push(file);
    }
    Ok(PublicProject {
        name: raw.name,
        files,
    })
}

/// PEP 691: clients must refuse a major version they do not know; minor versions only add.
fn check_api_version(version: &str) -> Result<(), PublicError> {
    match version.split('.').next() {
        Some("1") => Ok(()),
        _ => Err(PublicError::Invalid(format!(
            "api-version `{}` is not 1.x, the version PyOCI reads",
            shorten(version)
        ))),
    }
}

fn public_file(base: &reqwest::Url, raw: RawFile) -> Result<PublicFile, String> {
    check_filename(&raw.filename)?;
    let url = resolve_url(base, &raw.url)?;
    let sha256 = raw
        .hashes
        .get("sha256")
        .map(|hex| sha256_hex(hex))
        .transpose()?;
    let core_metadata = match raw.core_metadata.or(raw.dist_info_metadata) {
        None | Some(RawMetadata::Flag(false)) => CoreMetadataHint::Absent,
        Some(RawMetadata::Flag(true)) => CoreMetadataHint::Present,
        Some(RawMetadata::Hashes(hashes)) => match hashes.get("sha256") {
            Some(hex) => CoreMetadataHint::Sha256(sha256_hex(hex)?),
            // Metadata exists, with no hash PyOCI checks.
            None => CoreMetadataHint::Present,
        },
    };
    let yanked = match raw.yanked {
        None | Some(RawYanked::Flag(false)) => None,
        Some(RawYanked::Flag(true)) => Some(String::new()),
        Some(RawYanked::Reason(reason)) => Some(reason),
    };
    let upload_time = raw
        .upload_time
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(parse_upload_time);
    Ok(PublicFile {
        filename: raw.filename,
        url,
        sha256,
        size: raw.size,
        upload_time,
        yanked,
        requires_python: raw.requires_python,
        core_metadata,
    })
}

/// Filenames become paths in PyOCI's URLs and names in the registry: one plain component.
pub(super) fn check_filename(filename: &str) -> Result<(), String> {
    let problem = if filename.is_empty() {
        "is empty"
    } else if filename.len() > MAX_FILENAME_BYTES {
        "is longer than 255 bytes"
    } else if filename.contains(['/', '\\']) {
        "holds a path separator"
    } else if filename.contains("..") {
        "holds `..`"
    } else if filename.chars().any(char::is_control) {
        "holds control characters"
    } else {
        return Ok(());
    };
    Err(format!("the filename `{}` {problem}", shorten(filename)))
}

/// The absolute http(s) URL of a file; PEP 691 allows URLs relative to the page.
fn resolve_url(base: &reqwest::Url, raw: &str) -> Result<http::Uri, String> {
    let mut url = base
        .join(raw)
        .map_err(|err| format!("the URL `{}` is not valid: {err}", shorten(raw)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "the URL `{}` is not an http(s) URL",
            shorten(url.as_str())
        ));
    }
    // Credentials in a URL would be sent as Authorization; the public index gets none.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "the URL of a file on `{}` carries credentials",
            url.host_str().unwrap_or_default()
        ));
    }
    // A fragment (`#sha256=...`, as HTML pages have) is never sent.
    url.set_fragment(None);
    url.as_str()
        .parse()
        .map_err(|err| format!("the URL `{}` is not valid: {err}", shorten(url.as_str())))
}

/// A sha256 as lowercase hex; PEP 691 asks for lowercase, uppercase is read as the same.
fn sha256_hex(hex: &str) -> Result<String, String> {
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!(
            "the sha256 `{}` is not 64 hexadecimal digits",
            shorten(hex)
        ))
    }
}

/// PEP 700's `upload-time`: ISO 8601 in UTC (`2024-01-02T03:04:05.123456Z`). Other RFC 3339
/// offsets are applied; anything else is an unknown time.
pub(super) fn parse_upload_time(raw: &str) -> Option<SystemTime> {
    let raw = raw.trim();
    if let Some(utc) = raw.strip_suffix(['Z', 'z']) {
        return humantime::parse_rfc3339(&format!("{utc}Z")).ok();
    }
    let split = raw.len().checked_sub(6)?;
    if !raw.is_char_boundary(split) {
        return None;
    }
    let (local, offset) = raw.split_at(split);
    let offset = offset.as_bytes();
    let digits = |pair: &[u8]| -> Option<u64> {
        pair.iter().try_fold(0u64, |value, digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u64::from(digit - b'0'))
        })
    };
    if offset[3] != b':' {
        return None;
    }
    let hours = digits(&offset[1..3])?;
    let minutes = digits(&offset[4..6])?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    let as_if_utc = humantime::parse_rfc3339(&format!("{local}Z")).ok()?;
    match offset[0] {
        // Local time ahead of UTC: UTC is earlier.
        b'+' => as_if_utc.checked_sub(shift),
        b'-' => as_if_utc.checked_add(shift),
        _ => None,
    }
}

/// The first characters of untrusted text, for messages.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 80;
    if text.chars().count() <= SHOWN {
        return text.escape_debug().to_string();
    }
    let start: String = text.chars().take(SHOWN).collect();
    format!("{}…", start.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const HASH: &str = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";

    fn page_url() -> http::Uri {
        "https://index.test/simple/demo/".parse().unwrap()
    }

    fn parse(body: &str) -> Result<PublicProject, PublicError> {
        parse_project_page(&page_url(), body.as_bytes(), &PublicLimits::default())
    }

    fn page_with(file: &str) -> String {
        format!(r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","files":[{file}]}}"#)
    }

    fn one(file: &str) -> Result<PublicFile, PublicError> {
        parse(&page_with(file)).map(|mut page| page.files.remove(0))
    }

    fn at(seconds: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(seconds, nanos)
    }

    #[test]
    fn reads_a_full_page() {
        let page = parse(&format!(
            r#"{{
              "meta": {{"api-version": "1.1", "_last-serial": 7}},
              "name": "Demo",
              "versions": ["1.0"],
              "files": [
                {{"filename": "demo-1.0-py3-none-any.whl",
                  "url": "https://files.test/packages/ab/demo-1.0-py3-none-any.whl#sha256={HASH}",
                  "hashes": {{"sha256": "{HASH}", "md5": "0123"}},
                  "requires-python": ">=3.8",
                  "core-metadata": {{"sha256": "{}"}},
                  "dist-info-metadata": false,
                  "gpg-sig": false,
                  "yanked": false,
                  "size": 1234,
                  "upload-time": "2024-01-02T03:04:05.123456Z"}},
                {{"filename": "demo-1.0.tar.gz", "url": "../../files/demo-1.0.tar.gz",
                  "hashes": {{}}}}
              ]
            }}"#,
            HASH.to_uppercase()
        ))
        .unwrap();
        assert_eq!(page.name, "Demo");
        assert_eq!(page.files.len(), 2);
        let wheel = &page.files[0];
        assert_eq!(wheel.filename, "demo-1.0-py3-none-any.whl");
        assert_eq!(
            wheel.url,
            "https://files.test/packages/ab/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(wheel.sha256.as_deref(), Some(HASH));
        assert_eq!(wheel.size, Some(1234));
        assert_eq!(wheel.upload_time, Some(at(1_704_164_645, 123_456_000)));
        assert_eq!(wheel.yanked, None);
        assert_eq!(wheel.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(wheel.core_metadata, CoreMetadataHint::Sha256(HASH.into()));
        let sdist = &page.files[1];
        assert_eq!(sdist.url, "https://index.test/files/demo-1.0.tar.gz");
        assert_eq!(sdist.sha256, None);
        assert_eq!(sdist.size, None);
        assert_eq!(sdist.upload_time, None);
        assert_eq!(sdist.core_metadata, CoreMetadataHint::Absent);
    }

    #[test]
    fn relative_urls_resolve_against_the_page() {
        for (raw, resolved) in [
            (
                "demo-1.0.tar.gz",
                "https://index.test/simple/demo/demo-1.0.tar.gz",
            ),
            (
                "/files/demo-1.0.tar.gz",
                "https://index.test/files/demo-1.0.tar.gz",
            ),
            (
                "../../f/demo-1.0.tar.gz?x=1",
                "https://index.test/f/demo-1.0.tar.gz?x=1",
            ),
            (
                "//cdn.test/demo-1.0.tar.gz",
                "https://cdn.test/demo-1.0.tar.gz",
            ),
            (
                "http://plain.test/demo-1.0.tar.gz",
                "http://plain.test/demo-1.0.tar.gz",
            ),
        ] {
            let file = one(&format!(
                r#"{{"filename":"demo-1.0.tar.gz","url":"{raw}","hashes":{{}}}}"#
            ))
            .unwrap();
            assert_eq!(file.url, resolved, "{raw}");
        }
    }

    #[test]
    fn urls_that_are_not_plain_http_are_refused() {
        for raw in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "ftp://files.test/demo-1.0.tar.gz",
            "https://user:secret@files.test/demo-1.0.tar.gz",
            "https://token@files.test/demo-1.0.tar.gz",
            "http://[::1",
        ] {
            let error = one(&format!(
                r#"{{"filename":"demo-1.0.tar.gz","url":"{raw}","hashes":{{}}}}"#
            ))
            .unwrap_err();
            assert!(matches!(error, PublicError::Invalid(_)), "{raw}: {error}");
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }

    #[test]
    fn yanked_forms() {
        for (raw, yanked) in [
            ("false", None),
            ("true", Some("")),
            (r#""broken build""#, Some("broken build")),
            (r#""""#, Some("")),
        ] {
            let file = one(&format!(
                r#"{{"filename":"a-1.tar.gz","url":"a-1.tar.gz","hashes":{{}},"yanked":{raw}}}"#
            ))
            .unwrap();
            assert_eq!(file.yanked.as_deref(), yanked, "{raw}");
        }
        let absent = one(r#"{"filename":"a-1.tar.gz","url":"a-1.tar.gz","hashes":{}}"#).unwrap();
        assert_eq!(absent.yanked, None);
        assert!(one(r#"{"filename":"a-1.tar.gz","url":"a","hashes":{},"yanked":3}"#).is_err());
    }

    #[test]
    fn upload_time_forms() {
        let base = 1_704_164_645;
        for (raw, time) in [
            ("2024-01-02T03:04:05Z", Some(at(base, 0))),
            ("2024-01-02T03:04:05.123456Z", Some(at(base, 123_456_000))),
            ("2024-01-02T03:04:05.5z", Some(at(base, 500_000_000))),
            ("2024-01-02T03:04:05+00:00", Some(at(base, 0))),
            ("2024-01-02T05:04:05+02:00", Some(at(base, 0))),
            ("2024-01-01T23:34:05.25-03:30", Some(at(base, 250_000_000))),
            ("2024-01-02T03:04:05", None),
            ("2024-13-02T03:04:05Z", None),
            ("2024-01-02T03:04:05+24:00", None),
            ("yesterday", None),
            ("", None),
            ("ééééééé", None),
        ] {
            assert_eq!(parse_upload_time(raw), time, "{raw}");
        }
        for raw in ["12345", "null", "{}", r#""not a time""#] {
            let file = one(&format!(
                r#"{{"filename":"a-1.tar.gz","url":"a-1.tar.gz","hashes":{{}},"upload-time":{raw}}}"#
            ))
            .unwrap();
            assert_eq!(file.upload_time, None, "{raw}");
        }
    }

    #[test]
    fn hashes_are_validated_and_lowercased() {
        let file = one(&format!(
            r#"{{"filename":"a-1.tar.gz","url":"a","hashes":{{"sha256":"{}","sha512":"x"}}}}"#,
            HASH.to_uppercase()
        ))
        .unwrap();
        assert_eq!(file.sha256.as_deref(), Some(HASH));
        let only_md5 = one(r#"{"filename":"a-1.tar.gz","url":"a","hashes":{"md5":"x"}}"#).unwrap();
        assert_eq!(only_md5.sha256, None);
        for bad in [
            "abc",
            &HASH[1..],
            &format!("{}g", &HASH[1..]),
            &format!("{HASH}0"),
        ] {
            let error = one(&format!(
                r#"{{"filename":"a-1.tar.gz","url":"a","hashes":{{"sha256":"{bad}"}}}}"#
            ))
            .unwrap_err();
            assert!(
                error.to_string().contains("not 64 hexadecimal digits"),
                "{error}"
            );
        }
    }

    #[test]
    fn core_metadata_forms() {
        for (raw, hint) in [
            (r#""core-metadata":true"#, CoreMetadataHint::Present),
            (r#""core-metadata":false"#, CoreMetadataHint::Absent),
            (r#""core-metadata":{}"#, CoreMetadataHint::Present),
            (r#""core-metadata":{"md5":"x"}"#, CoreMetadataHint::Present),
            (
                &format!(r#""core-metadata":{{"sha256":"{HASH}"}}"#),
                CoreMetadataHint::Sha256(HASH.into()),
            ),
            (
                &format!(r#""dist-info-metadata":{{"sha256":"{HASH}"}}"#),
                CoreMetadataHint::Sha256(HASH.into()),
            ),
            (r#""dist-info-metadata":true"#, CoreMetadataHint::Present),
            // PEP 714: the new key wins over the old one.
            (
                r#""core-metadata":false,"dist-info-metadata":true"#,
                CoreMetadataHint::Absent,
            ),
        ] {
            let file = one(&format!(
                r#"{{"filename":"a-1-py3-none-any.whl","url":"a","hashes":{{}},{raw}}}"#
            ))
            .unwrap();
            assert_eq!(file.core_metadata, hint, "{raw}");
        }
        assert!(one(
            r#"{"filename":"a-1.whl","url":"a","hashes":{},"core-metadata":{"sha256":"x"}}"#
        )
        .is_err());
    }

    #[test]
    fn bad_filenames_are_refused() {
        let long = "a".repeat(256);
        for bad in [
            "",
            "../evil.whl",
            "a/b.whl",
            "a\\\\b.whl",
            "demo..whl",
            "..",
            "a\\u0000.whl",
            "a\\n.whl",
            long.as_str(),
        ] {
            let error = one(&format!(
                r#"{{"filename":"{bad}","url":"https://files.test/x","hashes":{{}}}}"#
            ))
            .unwrap_err();
            assert!(
                matches!(&error, PublicError::Invalid(text) if text.contains("filename")),
                "{bad}: {error}"
            );
        }
        assert!(one(&format!(
            r#"{{"filename":"{}","url":"https://files.test/x","hashes":{{}}}}"#,
            "a".repeat(255)
        ))
        .is_ok());
    }

    #[test]
    fn a_file_listed_twice_is_refused() {
        let file = r#"{"filename":"a-1.tar.gz","url":"a","hashes":{}}"#;
        let error = parse(&page_with(&format!("{file},{file}"))).unwrap_err();
        assert!(error.to_string().contains("listed twice"), "{error}");
    }

    #[test]
    fn pages_that_are_not_pep_691_are_refused() {
        for body in [
            "",
            "<html><body>hi</body></html>",
            "{",
            "[]",
            r#"{"name":"demo","files":[]}"#,
            r#"{"meta":{"api-version":"2.0"},"name":"demo","files":[]}"#,
            r#"{"meta":{"api-version":"1.0"},"files":[]}"#,
            r#"{"meta":{"api-version":"1.0"},"name":"demo","files":[{"url":"a"}]}"#,
            r#"{"meta":{"api-version":"1.0"},"name":"demo","files":[{"filename":"a","url":"a","size":-1}]}"#,
        ] {
            let error = parse(body).unwrap_err();
            assert!(matches!(error, PublicError::Invalid(_)), "{body}: {error}");
        }
        let empty = parse(r#"{"meta":{"api-version":"1.0"},"name":"demo","files":[]}"#).unwrap();
        assert!(empty.files.is_empty());
    }

    #[test]
    fn limits_are_applied() {
        let files: Vec<String> = (0..3)
            .map(|n| format!(r#"{{"filename":"a-{n}.tar.gz","url":"a","hashes":{{}}}}"#))
            .collect();
        let body = page_with(&files.join(","));
        let few_files = PublicLimits {
            max_files: 2,
            ..PublicLimits::default()
        };
        let error = parse_project_page(&page_url(), body.as_bytes(), &few_files).unwrap_err();
        assert_eq!(
            error,
            PublicError::TooLarge {
                what: super::super::Oversized::Files,
                limit: 2
            }
        );
        let small_page = PublicLimits {
            max_page_bytes: body.len() - 1,
            ..PublicLimits::default()
        };
        let error = parse_project_page(&page_url(), body.as_bytes(), &small_page).unwrap_err();
        assert!(matches!(error, PublicError::TooLarge { .. }), "{error}");
        let exact = PublicLimits {
            max_page_bytes: body.len(),
            max_files: 3,
            ..PublicLimits::default()
        };
        assert_eq!(
            parse_project_page(&page_url(), body.as_bytes(), &exact)
                .unwrap()
                .files
                .len(),
            3
        );
    }
}
