//! What an index entry says about a stored file, read once for every page and API.

use std::time::SystemTime;

use pyoci_index::{DistributionFile, Yanked};
use pyoci_oci::{Descriptor, ImageIndex};

use crate::{
    layout,
    package::{DistFilename, PackageVersion, ProjectName},
};

/// A file of a version, as its index entry describes it.
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub filename: DistFilename,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub requires_python: Option<String>,
    pub summary: Option<String>,
    /// sha256 of the wheel's METADATA, when PyOCI stored it (PEP 658).
    pub core_metadata_sha256: Option<String>,
    pub yanked: Yanked,
    /// `yyyy-mm-ddThh:mm:ss.ffffffZ`, as the simple API wants it.
    pub upload_time: Option<String>,
    pub project_urls: Option<String>,
}

impl StoredFile {
    /// The file an entry describes; `None` for entries that are not PyOCI files (container
    /// images, attestations, entries without a platform), which listings skip.
    pub fn from_entry(
        name: &ProjectName,
        version: &PackageVersion,
        entry: &Descriptor,
    ) -> Option<StoredFile> {
        let platform = entry.platform.as_ref()?;
        let filename = DistFilename::from_stored(name, version, &platform.architecture).ok()?;
        // Values over their bounds (another tool's index) are left out, so no file can make
        // a page large; a warning names them where the index is read.
        let annotation =
            |key: &str| layout::limits::served_annotation(entry, key).map(str::to_owned);
        Some(StoredFile {
            filename,
            sha256: annotation(layout::SHA256_ANNOTATION),
            size: annotation(layout::SIZE_ANNOTATION).and_then(|size| size.parse().ok()),
            requires_python: annotation(layout::REQUIRES_PYTHON_ANNOTATION)
                .filter(|specifier| !specifier.is_empty()),
            summary: annotation(layout::SUMMARY_ANNOTATION),
            core_metadata_sha256: annotation(layout::CORE_METADATA_ANNOTATION),
            yanked: match annotation(layout::YANKED_ANNOTATION) {
                _ if !entry.annotations.contains_key(layout::YANKED_ANNOTATION) => Yanked::No,
                Some(reason) if !reason.is_empty() => Yanked::WithReason(reason),
                // Yanked, even when the reason is too long to serve.
                _ => Yanked::Yes,
            },
            upload_time: annotation(layout::CREATED_ANNOTATION)
                .as_deref()
                .and_then(upload_time),
            project_urls: annotation(layout::PROJECT_URLS_ANNOTATION),
        })
    }

    /// Every file of an index.
    pub fn all_in(
        name: &ProjectName,
        version: &PackageVersion,
        index: &ImageIndex,
    ) -> Vec<StoredFile> {
        index
            .manifests
            .iter()
            .filter_map(|entry| StoredFile::from_entry(name, version, entry))
            .collect()
    }

    /// The file as a simple-index entry, downloadable at `url`.
    pub fn to_index_file(&self, url: String) -> DistributionFile {
        let mut file = DistributionFile::new(self.filename.to_string(), url);
        file.sha256 = self.sha256.clone();
        file.size = self.size;
        file.requires_python = self.requires_python.clone();
        file.yanked = self.yanked.clone();
        file.upload_time = self.upload_time.clone();
        file.core_metadata_sha256 = self.core_metadata_sha256.clone();
        file
    }
}

/// An RFC 3339 time (the original writes whole seconds) in the simple API's format.
fn upload_time(created: &str) -> Option<String> {
    let time: SystemTime = humantime::parse_rfc3339_weak(created).ok()?;
    Some(humantime::format_rfc3339_micros(time).to_string())
}

/// A version and its files.
pub struct Release {
    pub version: PackageVersion,
    pub files: Vec<StoredFile>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use pyoci_oci::{Digest, Platform};

    use super::*;

    fn entry(architecture: &str, annotations: &[(&str, &str)]) -> Descriptor {
        let mut entry = Descriptor::new(
            "application/vnd.oci.image.manifest.v1+json",
            Digest::sha256_of(b"manifest"),
            100,
        );
        entry.platform = Some(Platform::new(architecture, "any"));
        entry.annotations = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>();
        entry
    }

    #[test]
    fn reads_what_the_original_and_pyoci_write() {
        let name = ProjectName::parse("hello-world").unwrap();
        let version = PackageVersion::parse("1.0").unwrap();
        let original = entry(
            ".tar.gz",
            &[
                ("com.pyoci.sha256_digest", "abc"),
                ("org.opencontainers.image.created", "2024-11-20T20:23:36Z"),
            ],
        );
        let file = StoredFile::from_entry(&name, &version, &original).unwrap();
        assert_eq!(file.filename.to_string(), "hello_world-1.0.tar.gz");
        assert_eq!(file.sha256.as_deref(), Some("abc"));
        assert_eq!(file.size, None);
        assert_eq!(file.yanked, Yanked::No);
        assert_eq!(
            file.upload_time.as_deref(),
            Some("2024-11-20T20:23:36.000000Z")
        );

        let ours = entry(
            "py3-none-any.whl",
            &[
                ("com.pyoci.size", "1234"),
                ("com.pyoci.requires_python", ">=3.8"),
                ("com.pyoci.yanked", "broken build"),
                (
                    "org.opencontainers.image.created",
                    "2026-01-02T03:04:05.123456Z",
                ),
            ],
        );
        let file = StoredFile::from_entry(&name, &version, &ours).unwrap();
        assert_eq!(file.size, Some(1234));
        assert_eq!(file.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(file.yanked, Yanked::WithReason("broken build".into()));
        assert_eq!(
            file.upload_time.as_deref(),
            Some("2026-01-02T03:04:05.123456Z")
        );
        let yanked = entry(".tar.gz", &[("com.pyoci.yanked", "")]);
        assert_eq!(
            StoredFile::from_entry(&name, &version, &yanked)
                .unwrap()
                .yanked,
            Yanked::Yes
        );
    }

    #[test]
    fn leaves_out_values_over_their_bounds() {
        let name = ProjectName::parse("hello").unwrap();
        let version = PackageVersion::parse("1.0").unwrap();
        let huge = "x".repeat(3 * 1024 * 1024);
        let file = StoredFile::from_entry(
            &name,
            &version,
            &entry(
                "py3-none-any.whl",
                &[
                    ("com.pyoci.requires_python", huge.as_str()),
                    ("com.pyoci.summary", huge.as_str()),
                    ("com.pyoci.project_urls", huge.as_str()),
                    ("com.pyoci.yanked", huge.as_str()),
                    ("com.pyoci.sha256_digest", huge.as_str()),
                    ("com.pyoci.core_metadata_sha256", huge.as_str()),
                    ("com.pyoci.size", huge.as_str()),
                    ("org.opencontainers.image.created", huge.as_str()),
                ],
            ),
        )
        .unwrap();
        assert_eq!(file.requires_python, None);
        assert_eq!(file.summary, None);
        assert_eq!(file.project_urls, None);
        assert_eq!(file.sha256, None);
        assert_eq!(file.core_metadata_sha256, None);
        assert_eq!(file.size, None);
        assert_eq!(file.upload_time, None);
        assert_eq!(file.yanked, Yanked::Yes, "still yanked, without the reason");
        let long_name = entry(&format!("py3-none-{}.whl", "x".repeat(300)), &[]);
        assert!(StoredFile::from_entry(&name, &version, &long_name).is_none());
    }

    #[test]
    fn skips_entries_that_are_not_files() {
        let name = ProjectName::parse("hello").unwrap();
        let version = PackageVersion::parse("1.0").unwrap();
        assert!(StoredFile::from_entry(&name, &version, &entry("amd64", &[])).is_none());
        let mut no_platform = entry(".tar.gz", &[]);
        no_platform.platform = None;
        assert!(StoredFile::from_entry(&name, &version, &no_platform).is_none());
    }
}
