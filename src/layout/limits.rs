//! Bounds on every text PyOCI stores in a version's index or a file's manifest and serves
//! from them, so one file adds at most a few KiB to any page whatever its metadata says
//! (a 4 KB wheel with a 3.7 MiB `Requires-Python` used to add 3.7 MiB to every page).
//!
//! Writes refuse a value over its bound with a 400 naming the field and the bound, before
//! anything is stored. Reads leave an annotation over its bound out (an index written by
//! another tool), and skip a version whose index is over [`MAX_INDEX_BYTES`].

use pyoci_oci::{Descriptor, ImageIndex};

use super::{
    CORE_METADATA_ANNOTATION, CREATED_ANNOTATION, PROJECT_URLS_ANNOTATION,
    REQUIRES_PYTHON_ANNOTATION, SHA256_ANNOTATION, SIZE_ANNOTATION, SUMMARY_ANNOTATION,
    YANKED_ANNOTATION,
};
use crate::{error::Error, package::PackageVersion};

/// The largest version index PyOCI reads or writes, as JSON. A real release's index takes
/// about 1 KB per file, so this holds about 1,000 files; the most wheels one release of a
/// PyPI project ships is a few hundred.
pub const MAX_INDEX_BYTES: usize = 1024 * 1024;

/// How many `PyOCI :: Label ::` classifiers one upload may carry.
pub const MAX_LABELS: usize = 32;

/// How a bound counts a value's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// UTF-8 bytes.
    Bytes,
    /// Unicode scalar values, as PyPI counts.
    Characters,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Characters => "characters",
        }
    }
}

/// The bound on one stored text.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// The field as the uploader knows it.
    pub field: &'static str,
    pub max: usize,
    pub unit: Unit,
}

/// `Requires-Python`. PyPI sets no length, only that it parses; real ones are under 100
/// bytes.
pub const REQUIRES_PYTHON: Limit = Limit {
    field: "Requires-Python",
    max: 512,
    unit: Unit::Bytes,
};
/// `Summary`: PyPI's own bound.
pub const SUMMARY: Limit = Limit {
    field: "Summary",
    max: 512,
    unit: Unit::Characters,
};
/// A `project_urls` label: PyPI's own bound.
pub const PROJECT_URL_LABEL: Limit = Limit {
    field: "a project_urls label",
    max: 32,
    unit: Unit::Characters,
};
/// One `project_urls` URL: the longest URL browsers and sitemaps are known to handle.
pub const PROJECT_URL: Limit = Limit {
    field: "a project_urls URL",
    max: 2048,
    unit: Unit::Bytes,
};
/// Every `project_urls` entry together, as the JSON object stored.
pub const PROJECT_URLS: Limit = Limit {
    field: "project_urls (all of them, as stored)",
    max: 8192,
    unit: Unit::Bytes,
};
/// A yank reason (PEP 592). PyPI sets no length; a reason is a sentence.
pub const YANK_REASON: Limit = Limit {
    field: "the yank reason",
    max: 1024,
    unit: Unit::Bytes,
};
/// The key of a `PyOCI :: Label :: <key> :: <value>` classifier (an OCI annotation key,
/// such as `org.opencontainers.image.source`).
pub const LABEL_KEY: Limit = Limit {
    field: "a `PyOCI :: Label ::` key",
    max: 128,
    unit: Unit::Bytes,
};
/// The value of a `PyOCI :: Label ::` classifier.
pub const LABEL_VALUE: Limit = Limit {
    field: "a `PyOCI :: Label ::` value",
    max: 2048,
    unit: Unit::Bytes,
};

// What PyOCI itself writes, bounded for reading what other tools wrote.
const SHA256_HEX: Limit = Limit {
    field: "a sha256",
    max: 64,
    unit: Unit::Bytes,
};
const SIZE: Limit = Limit {
    field: "a size",
    max: 20,
    unit: Unit::Bytes,
};
const CREATED: Limit = Limit {
    field: "an upload time",
    max: 64,
    unit: Unit::Bytes,
};

impl Limit {
    /// The value's length in this bound's unit.
    pub fn length(&self, value: &str) -> usize {
        match self.unit {
            Unit::Bytes => value.len(),
            Unit::Characters => value.chars().count(),
        }
    }

    /// Whether `value` is within the bound. Cheap for huge values: no character takes
    /// more than 4 bytes, so those are not counted.
    pub fn fits(&self, value: &str) -> bool {
        value.len() <= self.max
            || (self.unit == Unit::Characters
                && value.len() <= 4 * self.max
                && value.chars().count() <= self.max)
    }

    /// A 400 naming the field and its bound when `value` is over it.
    pub fn check(&self, value: &str) -> Result<(), Error> {
        if self.fits(value) {
            return Ok(());
        }
        let unit = self.unit.name();
        Err(Error::BadRequest(format!(
            "{} is {} {unit} long; PyOCI stores at most {} {unit}. Nothing was stored",
            self.field,
            self.length(value),
            self.max
        )))
    }
}

/// The bound of an index-entry annotation PyOCI serves; `None` for one it never reads.
fn annotation_limit(key: &str) -> Option<Limit> {
    Some(match key {
        SHA256_ANNOTATION | CORE_METADATA_ANNOTATION => SHA256_HEX,
        SIZE_ANNOTATION => SIZE,
        CREATED_ANNOTATION => CREATED,
        REQUIRES_PYTHON_ANNOTATION => REQUIRES_PYTHON,
        SUMMARY_ANNOTATION => SUMMARY,
        PROJECT_URLS_ANNOTATION => PROJECT_URLS,
        YANKED_ANNOTATION => YANK_REASON,
        _ => return None,
    })
}

/// The annotation `key` of `entry` as PyOCI may serve it: `None` when absent or over its
/// bound.
pub fn served_annotation<'a>(entry: &'a Descriptor, key: &str) -> Option<&'a str> {
    let value = entry.annotations.get(key)?;
    annotation_limit(key)
        .map_or(true, |limit| limit.fits(value))
        .then_some(value.as_str())
}

/// Every annotation of `index`'s entries that is over its bound, described for a log line
/// (`py3-none-any.whl com.pyoci.requires_python: 3879731 bytes, at most 512`).
pub fn oversized_annotations(index: &ImageIndex) -> Vec<String> {
    let mut found = Vec::new();
    for entry in &index.manifests {
        let file = entry
            .platform
            .as_ref()
            .map_or("(no platform)", |platform| platform.architecture.as_str());
        for (key, value) in &entry.annotations {
            let Some(limit) = annotation_limit(key).filter(|limit| !limit.fits(value)) else {
                continue;
            };
            found.push(format!(
                "{} {key}: {} bytes, at most {} {}",
                file.chars().take(80).collect::<String>(),
                value.len(),
                limit.max,
                limit.unit.name()
            ));
        }
    }
    found
}

/// The bytes `index` takes as JSON, as PyOCI writes it, without building that JSON.
pub fn index_bytes(index: &ImageIndex) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serializing an index into a sink that never fails cannot fail; were it to, the count
    // would only be short, and the registry still refuses manifests over 4 MiB.
    let _ = serde_json::to_writer(&mut counter, index);
    counter.0
}

/// A 400 when `index`, about to be written as the index of `repo`:`version`, would be over
/// [`MAX_INDEX_BYTES`].
pub fn check_index(index: &ImageIndex, repo: &str, version: &PackageVersion) -> Result<(), Error> {
    let bytes = index_bytes(index);
    if bytes <= MAX_INDEX_BYTES {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "the index of {repo}:{} would be {bytes} bytes; PyOCI keeps a version's index \
         (every file's entry, with its Requires-Python, summary, project URLs and yank \
         reason) within {MAX_INDEX_BYTES} bytes; the version is unchanged",
        version.tag()
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use pyoci_oci::{Digest, Platform};

    use super::*;

    #[test]
    fn bounds_count_in_their_unit_and_name_the_field() {
        assert!(REQUIRES_PYTHON.fits(&">".repeat(512)));
        let error = REQUIRES_PYTHON.check(&">".repeat(513)).unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(
            error.to_string(),
            "Requires-Python is 513 bytes long; PyOCI stores at most 512 bytes. Nothing was \
             stored"
        );
        // 512 characters of 2 bytes each fit PyPI's character count.
        assert!(SUMMARY.check(&"é".repeat(512)).is_ok());
        let error = SUMMARY.check(&"é".repeat(513)).unwrap_err().to_string();
        assert!(
            error.starts_with("Summary is 513 characters long; PyOCI stores at most 512"),
            "{error}"
        );
        assert!(!SUMMARY.fits(&"x".repeat(3 * 1024 * 1024)));
    }

    fn entry(architecture: &str, annotations: &[(&str, String)]) -> Descriptor {
        let mut entry = Descriptor::new(
            "application/vnd.oci.image.manifest.v1+json",
            Digest::sha256_of(architecture.as_bytes()),
            100,
        );
        entry.platform = Some(Platform::new(architecture, "any"));
        entry.annotations = annotations
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect::<BTreeMap<_, _>>();
        entry
    }

    #[test]
    fn annotations_over_their_bound_are_not_served_and_are_reported() {
        let huge = ">=3.8".repeat(700_000);
        let entry = entry(
            "py3-none-any.whl",
            &[
                (REQUIRES_PYTHON_ANNOTATION, huge.clone()),
                (SUMMARY_ANNOTATION, "fine".into()),
                ("org.example.unbounded", "x".repeat(10_000)),
            ],
        );
        assert_eq!(served_annotation(&entry, REQUIRES_PYTHON_ANNOTATION), None);
        assert_eq!(served_annotation(&entry, SUMMARY_ANNOTATION), Some("fine"));
        assert!(served_annotation(&entry, "org.example.unbounded").is_some());
        let index = ImageIndex::new(vec![entry]);
        assert_eq!(
            oversized_annotations(&index),
            [format!(
                "py3-none-any.whl com.pyoci.requires_python: {} bytes, at most 512 bytes",
                huge.len()
            )]
        );
    }

    #[test]
    fn an_index_is_measured_as_written_and_bounded() {
        let version = PackageVersion::parse("1.0").unwrap();
        let mut index = ImageIndex::new(vec![entry(".tar.gz", &[])]);
        assert_eq!(
            index_bytes(&index),
            serde_json::to_vec(&index).unwrap().len()
        );
        assert!(check_index(&index, "acme/hello", &version).is_ok());
        index
            .annotations
            .insert("org.example.padding".into(), "x".repeat(MAX_INDEX_BYTES));
        let error = check_index(&index, "acme/hello", &version)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("the index of acme/hello:1.0 would be ")
                && error.contains("within 1048576 bytes"),
            "{error}"
        );
    }
}
