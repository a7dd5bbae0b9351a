//! The OCI layout of a PyOCI package, shared with the original PyOCI (docs/oci-layout.md):
//! one image index per version, tagged with the version, holding one entry per file; one
//! image manifest per file with the file as its single layer.

pub mod limits;
pub mod listing_document;

use std::collections::BTreeMap;

use pyoci_oci::{Descriptor, Digest, ImageIndex, ImageManifest, Platform};

use crate::profile::Profile;

/// Media type of the file layer, and the artifact type of PyOCI manifests and indexes.
pub const PACKAGE_MEDIA_TYPE: &str = "application/pyoci.package.v1";
/// Index-entry annotation: the file's sha256 (hex), so a listing needs no extra request.
pub const SHA256_ANNOTATION: &str = "com.pyoci.sha256_digest";
/// Index-entry annotation: the project URLs as a JSON object.
pub const PROJECT_URLS_ANNOTATION: &str = "com.pyoci.project_urls";
/// Standard OCI annotation for the creation time.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

// PyOCI's additions, on index entries where the original PyOCI does not look, so a listing
// has every fact of a file without an extra request per file.

/// The file's size in bytes (the entry's own `size` is its manifest's).
pub const SIZE_ANNOTATION: &str = "com.pyoci.size";
/// The file's `Requires-Python`.
pub const REQUIRES_PYTHON_ANNOTATION: &str = "com.pyoci.requires_python";
/// The file's core-metadata summary, for the JSON API.
pub const SUMMARY_ANNOTATION: &str = "com.pyoci.summary";
/// Present when the file is yanked (PEP 592); its value is the reason, possibly empty.
pub const YANKED_ANNOTATION: &str = "com.pyoci.yanked";
/// The sha256 (hex) of the wheel's METADATA, stored as the file manifest's config blob
/// (PEP 658: served at `<file>.metadata`).
pub const CORE_METADATA_ANNOTATION: &str = "com.pyoci.core_metadata_sha256";
/// Media type of the config blob that holds a wheel's METADATA.
pub const CORE_METADATA_MEDIA_TYPE: &str = "application/vnd.pyoci.core-metadata.v1";
/// Every index entry of a file claims this OS.
const FILE_OS: &str = "any";

/// A new, empty index for a version.
pub fn version_index(profile: Profile) -> ImageIndex {
    let mut index = ImageIndex::new(Vec::new());
    if profile.writes_artifact_type() {
        index.artifact_type = Some(PACKAGE_MEDIA_TYPE.to_owned());
    }
    index
}

/// The manifest of one file: `config` (the empty config, or the wheel's METADATA) and the
/// file as its only layer; `labels` (from `PyOCI :: Label ::` classifiers) become its
/// annotations.
pub fn file_manifest(
    profile: Profile,
    config: Descriptor,
    file: Digest,
    size: u64,
    created: &str,
    labels: BTreeMap<String, String>,
) -> ImageManifest {
    let layer = Descriptor::new(PACKAGE_MEDIA_TYPE, file, size);
    let mut manifest = ImageManifest::new(config, vec![layer]);
    if profile.writes_artifact_type() {
        manifest.artifact_type = Some(PACKAGE_MEDIA_TYPE.to_owned());
    }
    manifest.annotations = labels;
    manifest
        .annotations
        .insert(CREATED_ANNOTATION.to_owned(), created.to_owned());
    manifest
}

/// What a listing needs to know about a file, stored on its index entry.
pub struct FileFacts {
    pub sha256: String,
    pub size: u64,
    /// RFC 3339.
    pub created: String,
    /// A JSON object of label to URL.
    pub project_urls: Option<String>,
    pub requires_python: Option<String>,
    pub summary: Option<String>,
}

/// The index entry of a file: its manifest, with the architecture and the annotations a
/// listing reads. `core_metadata_sha256` names the METADATA stored as the manifest's config,
/// when the registry's profile let it be stored.
pub fn file_entry(
    mut manifest: Descriptor,
    architecture: &str,
    facts: FileFacts,
    core_metadata_sha256: Option<String>,
) -> Descriptor {
    manifest.platform = Some(Platform::new(architecture, FILE_OS));
    let annotations = &mut manifest.annotations;
    annotations.insert(CREATED_ANNOTATION.to_owned(), facts.created);
    annotations.insert(SHA256_ANNOTATION.to_owned(), facts.sha256);
    annotations.insert(SIZE_ANNOTATION.to_owned(), facts.size.to_string());
    let optional = [
        (PROJECT_URLS_ANNOTATION, facts.project_urls),
        (REQUIRES_PYTHON_ANNOTATION, facts.requires_python),
        (SUMMARY_ANNOTATION, facts.summary),
        (CORE_METADATA_ANNOTATION, core_metadata_sha256),
    ];
    for (key, value) in optional {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            annotations.insert(key.to_owned(), value);
        }
    }
    manifest
}

/// Adds a file's entry to a version's index, whose own creation time becomes the file's.
pub fn add_file(index: &mut ImageIndex, entry: Descriptor) {
    if let Some(created) = entry.annotations.get(CREATED_ANNOTATION) {
        index
            .annotations
            .insert(CREATED_ANNOTATION.to_owned(), created.clone());
    }
    index.manifests.push(entry);
}

/// The sha256 an entry records for its file (empty when it records none).
pub fn stored_sha256(entry: &Descriptor) -> String {
    entry
        .annotations
        .get(SHA256_ANNOTATION)
        .cloned()
        .unwrap_or_default()
}

/// Whether an index entry's architecture names a file: `.tar.gz` or a wheel's tags
/// (`py3-none-any.whl`), as opposed to an image platform (`amd64`).
pub fn is_file_architecture(architecture: &str) -> bool {
    architecture == ".tar.gz" || architecture.ends_with(".whl")
}

/// The entry of the file with this architecture.
pub fn find_file<'a>(index: &'a ImageIndex, architecture: &str) -> Option<&'a Descriptor> {
    index.manifests.iter().find(|entry| {
        entry
            .platform
            .as_ref()
            .is_some_and(|platform| platform.architecture == architecture)
    })
}
