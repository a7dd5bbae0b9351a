//! What an upload stores about its file besides the file: its index entry's texts and its
//! manifest's labels, each held to its bound (`layout::limits`) before anything is stored.

use std::collections::BTreeMap;

use pyoci_metadata::CoreMetadata;
use pyoci_oci::{Descriptor, Digest, ImageIndex, OCI_MANIFEST_MEDIA_TYPE};
use pyoci_upload::Form;

use super::digests::FileDigests;
use crate::{
    error::Error,
    layout::{
        self,
        limits::{self, Limit},
    },
    package::DistFilename,
    profile::Profile,
};

/// Classifier prefix whose entries become manifest annotations (labels), as in the original.
const LABEL_CLASSIFIER: &str = "PyOCI :: Label :: ";

/// The stored texts of one upload, within their bounds.
#[derive(Debug, PartialEq)]
pub struct StoredFields {
    /// `PyOCI :: Label ::` classifiers, as the manifest's annotations.
    pub labels: BTreeMap<String, String>,
    /// `project_urls`, as the JSON object the original PyOCI stores.
    pub project_urls: Option<String>,
    pub requires_python: Option<String>,
    pub summary: Option<String>,
}

impl StoredFields {
    /// Checks the fields stored from the form whatever the file holds, so an upload over a
    /// bound is refused before its file streams. Clients send the form before the file.
    pub fn check_form(form: &Form) -> Result<(), Error> {
        labels(form)?;
        project_urls(form)?;
        Ok(())
    }

    /// The fields to store: `Requires-Python` and `Summary` from the file's own metadata,
    /// else from the form; the rest from the form.
    pub fn read(form: &Form, core: &CoreMetadata) -> Result<StoredFields, Error> {
        let form_field = |name: &str| form.get(name).map(str::to_owned);
        let requires_python = core
            .requires_python
            .clone()
            .or_else(|| form_field("requires_python"));
        let summary = core
            .fields
            .get("Summary")
            .map(str::to_owned)
            .or_else(|| form_field("summary"));
        check_optional(limits::REQUIRES_PYTHON, requires_python.as_deref())?;
        check_optional(limits::SUMMARY, summary.as_deref())?;
        Ok(StoredFields {
            labels: labels(form)?,
            project_urls: project_urls(form)?,
            requires_python,
            summary,
        })
    }

    /// The facts of the file's index entry.
    pub fn facts(&self, digests: &FileDigests, created: String) -> layout::FileFacts {
        layout::FileFacts {
            sha256: digests.sha256.clone(),
            size: digests.size,
            created,
            project_urls: self.project_urls.clone(),
            requires_python: self.requires_python.clone(),
            summary: self.summary.clone(),
        }
    }

    /// A 400 when the file's entry would take the version's index (`current`, as read when
    /// the upload began; `None` for a new version) over its bound: checked before the file
    /// is committed, so nothing is stored. A concurrent upload to the same version can still
    /// fill it in between; the index write checks again.
    pub fn check_room(
        &self,
        current: Option<&ImageIndex>,
        profile: Profile,
        repo: &str,
        filename: &DistFilename,
        digests: &FileDigests,
    ) -> Result<(), Error> {
        let mut index = current
            .cloned()
            .unwrap_or_else(|| layout::version_index(profile));
        // The manifest is pushed after the commit: stand-ins at least as long as the real
        // manifest descriptor, upload time and metadata digest.
        let manifest = Descriptor::new(OCI_MANIFEST_MEDIA_TYPE, Digest::sha256_of(b""), u64::MAX);
        let created = "0000-00-00T00:00:00.000000Z".to_owned();
        let facts = self.facts(digests, created);
        let core_metadata_sha256 = Some("0".repeat(64));
        layout::add_file(
            &mut index,
            layout::file_entry(
                manifest,
                filename.architecture(),
                facts,
                core_metadata_sha256,
            ),
        );
        limits::check_index(&index, repo, filename.version())
    }
}

fn check_optional(limit: Limit, value: Option<&str>) -> Result<(), Error> {
    value.map_or(Ok(()), |value| limit.check(value))
}

/// `PyOCI :: Label :: <key> :: <value>` classifiers, as annotations.
fn labels(form: &Form) -> Result<BTreeMap<String, String>, Error> {
    let labels: BTreeMap<String, String> = form
        .get_all("classifiers")
        .filter_map(|classifier| classifier.strip_prefix(LABEL_CLASSIFIER))
        .filter_map(|label| label.split_once(" :: "))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .filter(|(key, _)| !key.is_empty())
        .collect();
    if labels.len() > limits::MAX_LABELS {
        return Err(Error::BadRequest(format!(
            "the upload has {} `PyOCI :: Label ::` classifiers; PyOCI stores at most {}. \
             Nothing was stored",
            labels.len(),
            limits::MAX_LABELS
        )));
    }
    for (key, value) in &labels {
        limits::LABEL_KEY.check(key)?;
        limits::LABEL_VALUE.check(value)?;
    }
    Ok(labels)
}

/// `project_urls` fields (`"Label, URL"`) as the JSON object the original stores.
fn project_urls(form: &Form) -> Result<Option<String>, Error> {
    let mut urls = serde_json::Map::new();
    for (label, url) in form
        .get_all("project_urls")
        .filter_map(|entry| entry.split_once(','))
    {
        let (label, url) = (label.trim(), url.trim());
        limits::PROJECT_URL_LABEL.check(label)?;
        limits::PROJECT_URL.check(url)?;
        urls.insert(label.to_owned(), url.into());
    }
    if urls.is_empty() {
        return Ok(None);
    }
    let stored = serde_json::Value::Object(urls).to_string();
    limits::PROJECT_URLS.check(&stored)?;
    Ok(Some(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> Form {
        let mut form = Form::new();
        for (name, value) in fields {
            form.push(*name, *value);
        }
        form
    }

    fn core(metadata: &str) -> CoreMetadata {
        CoreMetadata::from_bytes(metadata.as_bytes().to_vec()).unwrap()
    }

    fn refusal(result: Result<impl std::fmt::Debug, Error>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST, "{error}");
        error.to_string()
    }

    #[test]
    fn the_file_metadata_wins_and_each_stored_text_is_bounded() {
        let form_fields = form(&[("requires_python", ">=3.7"), ("summary", "from the form")]);
        let fields = StoredFields::read(&form_fields, &core("Name: a\nSummary: own\n")).unwrap();
        assert_eq!(fields.requires_python.as_deref(), Some(">=3.7"));
        assert_eq!(fields.summary.as_deref(), Some("own"));

        let long = format!("Name: a\nRequires-Python: >={}\n", "3.7,".repeat(200));
        let error = refusal(StoredFields::read(&form(&[]), &core(&long)));
        assert!(
            error.starts_with("Requires-Python is 802 bytes long; PyOCI stores at most 512"),
            "{error}"
        );
        let summary = form(&[("summary", &"s".repeat(513))]);
        let error = refusal(StoredFields::read(&summary, &core("Name: a\n")));
        assert!(
            error.starts_with("Summary is 513 characters long"),
            "{error}"
        );
        // A form field the file's metadata overrides is not stored, so not refused.
        let ignored = form(&[("requires_python", &"x".repeat(10_000))]);
        assert!(StoredFields::read(&ignored, &core("Requires-Python: >=3.8\n")).is_ok());
    }

    #[test]
    fn project_urls_are_bounded_by_label_url_and_all_together() {
        let urls = project_urls(&form(&[
            ("project_urls", "Homepage, https://example.test/"),
            ("project_urls", "Source, https://example.test/src"),
        ]))
        .unwrap();
        assert_eq!(
            urls.as_deref(),
            Some(r#"{"Homepage":"https://example.test/","Source":"https://example.test/src"}"#)
        );
        let label = format!("{}, https://example.test/", "L".repeat(33));
        let error = refusal(project_urls(&form(&[("project_urls", &label)])));
        assert!(
            error
                .starts_with("a project_urls label is 33 characters long; PyOCI stores at most 32"),
            "{error}"
        );
        let url = format!("Home, https://example.test/{}", "u".repeat(2048));
        let error = refusal(project_urls(&form(&[("project_urls", &url)])));
        assert!(
            error.starts_with("a project_urls URL is 2069 bytes long"),
            "{error}"
        );
        let many: Vec<String> = (0..10)
            .map(|n| format!("Link {n}, https://example.test/{}", "u".repeat(1000)))
            .collect();
        let many: Vec<(&str, &str)> = many
            .iter()
            .map(|url| ("project_urls", url.as_str()))
            .collect();
        let error = refusal(project_urls(&form(&many)));
        assert!(
            error.starts_with("project_urls (all of them, as stored) is ")
                && error.contains("PyOCI stores at most 8192 bytes"),
            "{error}"
        );
    }

    #[test]
    fn labels_are_bounded_in_number_key_and_value() {
        let labels = labels(&form(&[
            (
                "classifiers",
                "PyOCI :: Label :: org.opencontainers.image.source :: https://x",
            ),
            ("classifiers", "Programming Language :: Python"),
        ]))
        .unwrap();
        assert_eq!(labels["org.opencontainers.image.source"], "https://x");

        let key = format!("PyOCI :: Label :: {} :: v", "k".repeat(129));
        let error = refusal(super::labels(&form(&[("classifiers", &key)])));
        assert!(
            error.starts_with("a `PyOCI :: Label ::` key is 129 bytes"),
            "{error}"
        );
        let value = format!("PyOCI :: Label :: k :: {}", "v".repeat(2049));
        let error = refusal(super::labels(&form(&[("classifiers", &value)])));
        assert!(
            error.starts_with("a `PyOCI :: Label ::` value is 2049 bytes"),
            "{error}"
        );
        let many: Vec<String> = (0..33)
            .map(|n| format!("PyOCI :: Label :: key{n} :: v"))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|c| ("classifiers", c.as_str())).collect();
        let error = refusal(super::labels(&form(&many)));
        assert!(
            error.starts_with(
                "the upload has 33 `PyOCI :: Label ::` classifiers; PyOCI stores at most 32"
            ),
            "{error}"
        );
        assert!(StoredFields::check_form(&form(&many)).is_err());
    }

    fn digests() -> FileDigests {
        FileDigests {
            sha256: "ab".repeat(32),
            registry_checks_sha256: false,
            md5: None,
            blake2_256: None,
            size: 1234,
        }
    }

    #[test]
    fn room_in_the_index_is_checked_with_the_entry_as_it_will_be_written() {
        let filename = DistFilename::parse("hello-1.0-py3-none-any.whl").unwrap();
        let fields = StoredFields::read(&form(&[]), &core("Name: hello\nSummary: hi\n")).unwrap();
        assert!(fields
            .check_room(None, Profile::Pyoci, "acme/hello", &filename, &digests())
            .is_ok());

        // The stand-in entry is never shorter than the one written.
        let written = layout::file_entry(
            Descriptor::new(OCI_MANIFEST_MEDIA_TYPE, Digest::sha256_of(b"m"), 987),
            filename.architecture(),
            fields.facts(&digests(), "2026-01-02T03:04:05.123456Z".into()),
            Some("cd".repeat(32)),
        );
        let written_bytes = serde_json::to_vec(&written).unwrap().len();
        let mut almost_full = layout::version_index(Profile::Pyoci);
        let padding = limits::MAX_INDEX_BYTES - limits::index_bytes(&almost_full) - written_bytes;
        almost_full
            .annotations
            .insert("p".into(), "x".repeat(padding));
        let error = refusal(fields.check_room(
            Some(&almost_full),
            Profile::Pyoci,
            "acme/hello",
            &filename,
            &digests(),
        ));
        assert!(
            error.starts_with("the index of acme/hello:1.0 would be "),
            "{error}"
        );
        almost_full
            .annotations
            .insert("p".into(), "x".repeat(padding - 200));
        assert!(fields
            .check_room(
                Some(&almost_full),
                Profile::Pyoci,
                "acme/hello",
                &filename,
                &digests()
            )
            .is_ok());
    }
}
