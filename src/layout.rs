//! The OCI layout of a PyOCI package, shared with the original PyOCI (docs/oci-layout.md):
//! one image index per version, tagged with the version, holding one entry per file; one
//! image manifest per file with the file as its single layer.

use std::collections::BTreeMap;

use pyoci_oci::{Descriptor, Digest, ImageIndex, ImageManifest, Platform};

/// Media type of the file layer, and the artifact type of PyOCI manifests and indexes.
pub const PACKAGE_MEDIA_TYPE: &str = "application/pyoci.package.v1";
/// Index-entry annotation: the file's sha256 (hex), so a listing needs no extra request.
pub const SHA256_ANNOTATION: &str = "com.pyoci.sha256_digest";
/// Index-entry annotation: the project URLs as a JSON object.
pub const PROJECT_URLS_ANNOTATION: &str = "com.pyoci.project_urls";
/// Standard OCI annotation for the creation time.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// Every index entry of a file claims this OS.
const FILE_OS: &str = "any";

/// A new, empty index for a version.
pub fn version_index() -> ImageIndex {
    let mut index = ImageIndex::new(Vec::new());
    index.artifact_type = Some(PACKAGE_MEDIA_TYPE.to_owned());
    index
}

/// The manifest of one file: the empty config and the file as its only layer; `labels`
/// (from `PyOCI :: Label ::` classifiers) become its annotations.
pub fn file_manifest(
    file: Digest,
    size: u64,
    created: &str,
    labels: BTreeMap<String, String>,
) -> ImageManifest {
    let layer = Descriptor::new(PACKAGE_MEDIA_TYPE, file, size);
    let mut manifest = ImageManifest::new(Descriptor::empty_config(), vec![layer]);
    manifest.artifact_type = Some(PACKAGE_MEDIA_TYPE.to_owned());
    manifest.annotations = labels;
    manifest
        .annotations
        .insert(CREATED_ANNOTATION.to_owned(), created.to_owned());
    manifest
}

/// The index entry of a file: its manifest, with the architecture and the annotations a
/// listing reads.
pub fn file_entry(
    mut manifest: Descriptor,
    architecture: &str,
    sha256: &str,
    created: &str,
    project_urls: Option<String>,
) -> Descriptor {
    manifest.platform = Some(Platform::new(architecture, FILE_OS));
    let annotations = &mut manifest.annotations;
    annotations.insert(CREATED_ANNOTATION.to_owned(), created.to_owned());
    annotations.insert(SHA256_ANNOTATION.to_owned(), sha256.to_owned());
    if let Some(urls) = project_urls {
        annotations.insert(PROJECT_URLS_ANNOTATION.to_owned(), urls);
    }
    manifest
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
