//! The OCI image-spec documents PyOCI reads and writes.
//!
//! Every struct keeps the fields it does not know in `extra`, so an index written by another
//! tool survives a read-modify-write unchanged.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Digest;

/// Media type of an OCI image index.
pub const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an OCI image manifest.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the empty config blob (`{}`), used when a manifest needs no config.
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Digest of the empty config blob.
pub const EMPTY_CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// Content of the empty config blob.
pub const EMPTY_CONFIG_BYTES: &[u8] = b"{}";

fn oci_index_media_type() -> String {
    OCI_INDEX_MEDIA_TYPE.to_owned()
}

fn oci_manifest_media_type() -> String {
    OCI_MANIFEST_MEDIA_TYPE.to_owned()
}

/// A reference to content by media type, digest and size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size of the referenced content in bytes.
    pub size: u64,
    /// The platform; PyOCI stores the file's "architecture" (`.tar.gz`, `py3-none-any.whl`) here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations (`com.pyoci.sha256_digest`, `org.opencontainers.image.created`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The artifact type of the referenced manifest, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Fields this crate does not know, kept so they are written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Descriptor {
    /// A descriptor with only media type, digest and size set.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
            extra: Map::new(),
        }
    }

    /// The descriptor of the empty config blob ([`EMPTY_CONFIG_BYTES`]).
    pub fn empty_config() -> Descriptor {
        Descriptor::new(
            EMPTY_CONFIG_MEDIA_TYPE,
            Digest::sha256_of(EMPTY_CONFIG_BYTES),
            EMPTY_CONFIG_BYTES.len() as u64,
        )
    }
}

/// The platform of an index entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture; for PyOCI, the file's suffix (`.tar.gz`, `py3-none-any.whl`).
    pub architecture: String,
    /// Operating system; PyOCI writes `any`.
    pub os: String,
    /// Operating system version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required operating system features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Fields this crate does not know, kept so they are written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Platform {
    /// A platform with only architecture and OS set.
    pub fn new(architecture: impl Into<String>, os: impl Into<String>) -> Platform {
        Platform {
            architecture: architecture.into(),
            os: os.into(),
            os_version: None,
            os_features: None,
            variant: None,
            extra: Map::new(),
        }
    }
}

/// An OCI image index: PyOCI's document for one package version, tagged with the version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// [`OCI_INDEX_MEDIA_TYPE`]; filled in when a document omits it.
    #[serde(default = "oci_index_media_type")]
    pub media_type: String,
    /// PyOCI writes `application/pyoci.package.v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// One entry per file of the version.
    pub manifests: Vec<Descriptor>,
    /// Index annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields this crate does not know, kept so they are written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageIndex {
    /// An index (schema 2, OCI media type) holding `manifests`.
    pub fn new(manifests: Vec<Descriptor>) -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: oci_index_media_type(),
            artifact_type: None,
            manifests,
            annotations: BTreeMap::new(),
            extra: Map::new(),
        }
    }
}

/// An OCI image manifest: PyOCI's document for one file, pushed by digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`OCI_MANIFEST_MEDIA_TYPE`]; filled in when a document omits it.
    #[serde(default = "oci_manifest_media_type")]
    pub media_type: String,
    /// PyOCI writes `application/pyoci.package.v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob; PyOCI uses [`Descriptor::empty_config`] unless it stores metadata there.
    pub config: Descriptor,
    /// The layers; a PyOCI file manifest has exactly one, the package file.
    pub layers: Vec<Descriptor>,
    /// Manifest annotations (creation time, labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields this crate does not know, kept so they are written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageManifest {
    /// A manifest (schema 2, OCI media type) with `config` and `layers`.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> ImageManifest {
        ImageManifest {
            schema_version: 2,
            media_type: oci_manifest_media_type(),
            artifact_type: None,
            config,
            layers,
            annotations: BTreeMap::new(),
            extra: Map::new(),
        }
    }
}

/// A manifest as the registry served it: the exact bytes, their media type and digest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// From `Content-Type`, or from the document's `mediaType` when the header is generic.
    pub media_type: String,
    /// From `Docker-Content-Digest`, or computed from the bytes.
    pub digest: Digest,
    /// The document as served.
    pub bytes: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index of oci-layout.md, with fields this crate does not know added at each level.
    const LAYOUT_INDEX: &str = r#"{
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.index.v1+json",
      "artifactType": "application/pyoci.package.v1",
      "manifests": [
        {
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
          "size": 496,
          "platform": { "architecture": ".tar.gz", "os": "any", "x-platform-extra": [1, 2] },
          "annotations": {
            "org.opencontainers.image.created": "2024-11-20T20:23:36Z",
            "com.pyoci.sha256_digest": "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
            "com.pyoci.project_urls": "{\"Homepage\":\"https://example.org\"}"
          },
          "urls": ["https://example.org/blob"],
          "data": "e30="
        }
      ],
      "annotations": { "org.opencontainers.image.created": "2024-11-20T20:23:36Z" },
      "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7 },
      "x-vendor": { "nested": true }
    }"#;

    #[test]
    fn layout_index_round_trips_with_unknown_fields() {
        let index: ImageIndex = serde_json::from_str(LAYOUT_INDEX).unwrap();
        assert_eq!(index.schema_version, 2);
        assert_eq!(index.media_type, OCI_INDEX_MEDIA_TYPE);
        assert_eq!(
            index.artifact_type.as_deref(),
            Some("application/pyoci.package.v1")
        );
        let [entry] = index.manifests.as_slice() else {
            panic!("expected one entry, got {:?}", index.manifests)
        };
        assert_eq!(entry.size, 496);
        let platform = entry.platform.as_ref().unwrap();
        assert_eq!(platform.architecture, ".tar.gz");
        assert_eq!(platform.os, "any");
        assert_eq!(
            entry.annotations["com.pyoci.sha256_digest"],
            "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
        );
        assert!(entry.extra.contains_key("urls") && entry.extra.contains_key("data"));
        assert!(index.extra.contains_key("subject") && index.extra.contains_key("x-vendor"));

        let written = serde_json::to_value(&index).unwrap();
        let original: Value = serde_json::from_str(LAYOUT_INDEX).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn layout_manifest_round_trips() {
        let text = r#"{
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "artifactType": "application/pyoci.package.v1",
          "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2 },
          "layers": [ { "mediaType": "application/pyoci.package.v1", "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "size": 22 } ],
          "annotations": { "org.opencontainers.image.created": "2024-11-20T20:23:36Z", "org.opencontainers.image.source": "https://github.com/acme/x" }
        }"#;
        let manifest: ImageManifest = serde_json::from_str(text).unwrap();
        assert_eq!(manifest.config, Descriptor::empty_config());
        assert_eq!(manifest.layers[0].size, 22);
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&manifest).unwrap(), original);
    }

    #[test]
    fn empty_fields_are_omitted_and_media_type_defaults() {
        let index = ImageIndex::new(vec![Descriptor::empty_config()]);
        let json = serde_json::to_value(&index).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX_MEDIA_TYPE,
                "manifests": [{
                    "mediaType": EMPTY_CONFIG_MEDIA_TYPE,
                    "digest": EMPTY_CONFIG_DIGEST,
                    "size": 2
                }]
            })
        );
        let without_media_type: ImageIndex =
            serde_json::from_str(r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
        assert_eq!(without_media_type.media_type, OCI_INDEX_MEDIA_TYPE);
    }

    #[test]
    fn a_manifest_is_not_an_index() {
        let manifest = ImageManifest::new(Descriptor::empty_config(), vec![]);
        let json = serde_json::to_vec(&manifest).unwrap();
        assert!(serde_json::from_slice::<ImageIndex>(&json).is_err());
    }
}
