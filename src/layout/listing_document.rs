//! The listing document's format (`PYOCI_LISTING_DOCUMENT`): one document per project
//! holding every version's index, so a cold listing reads the tag list, this document's
//! manifest and its blob (3 registry requests) instead of one manifest per version.
//! docs/listing-document.md states the layout and the freshness contract; reading, keeping
//! and checking the document is the store's (`store::listing_document`).
//!
//! The document is a copy, never the truth: the version tags are.

use std::{collections::BTreeMap, collections::HashMap, sync::Arc};

use bytes::Bytes;
use pyoci_oci::{Descriptor, Digest, ImageIndex, ImageManifest};
use serde::{Deserialize, Serialize};

use super::CREATED_ANNOTATION;
use crate::profile::Profile;

/// The tag of the document in the project's repository. Not a PEP 440 version, so
/// listings skip it like any other non-version tag.
pub const TAG: &str = "pyoci-listing";

/// The document's `artifactType`, and the media type of its one layer.
pub const MEDIA_TYPE: &str = "application/vnd.pyoci.listing.v1+json";

/// The largest document read (a 1,000-version project's is about 1 MiB); a larger one is
/// not trusted to be ours and the listing reads the versions one by one.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The document as stored: every version tag and what it held when the document was
/// written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListingDocument {
    /// When the document was last written, RFC 3339.
    pub updated: String,
    /// Version tag to what it held.
    pub versions: BTreeMap<String, VersionEntry>,
}

/// What one version tag held: its index and that index's digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub digest: Digest,
    pub index: ImageIndex,
}

impl ListingDocument {
    /// Reads a document; an error saying why for anything else.
    pub fn parse(bytes: &[u8]) -> Result<ListingDocument, String> {
        serde_json::from_slice(bytes).map_err(|err| format!("not a listing document: {err}"))
    }

    /// The document's bytes, as stored in its blob.
    pub fn to_bytes(&self) -> Result<Bytes, String> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(|err| format!("cannot serialize the listing document: {err}"))
    }

    /// Records what `tag` holds now: an index and its digest, or nothing (the version was
    /// deleted, or holds something that is not a PyOCI index).
    pub fn set(&mut self, tag: &str, held: Option<(ImageIndex, Digest)>) {
        match held {
            Some((index, digest)) => {
                self.versions
                    .insert(tag.to_owned(), VersionEntry { digest, index });
            }
            None => {
                self.versions.remove(tag);
            }
        }
    }

    /// The manifest that holds this document's blob (`blob`): the OCI empty config and
    /// the blob as its one layer, with the `artifactType` unless the registry's profile
    /// refuses custom types.
    pub fn manifest(profile: Profile, blob: Descriptor, created: &str) -> ImageManifest {
        let mut manifest = ImageManifest::new(Descriptor::empty_config(), vec![blob]);
        if profile.writes_artifact_type() {
            manifest.artifact_type = Some(MEDIA_TYPE.to_owned());
        }
        manifest
            .annotations
            .insert(CREATED_ANNOTATION.to_owned(), created.to_owned());
        manifest
    }

    /// The document's blob, if `manifest` is a listing document's manifest: one layer of
    /// [`MEDIA_TYPE`], and our `artifactType` when it has one (conservative registries get
    /// none).
    pub fn blob_of(manifest: &ImageManifest) -> Option<&Descriptor> {
        let ours = manifest
            .artifact_type
            .as_deref()
            .map_or(true, |artifact_type| artifact_type == MEDIA_TYPE);
        match manifest.layers.as_slice() {
            [layer] if ours && layer.media_type == MEDIA_TYPE => Some(layer),
            _ => None,
        }
    }
}

/// A document as listings use it: parsed once, its indexes shared with every page built
/// from it.
#[derive(Debug)]
pub struct Listing {
    versions: HashMap<String, (Digest, Arc<ImageIndex>)>,
    /// About the bytes it holds, for the cache's bound.
    pub weight: usize,
}

impl Listing {
    /// The listing form of a document whose blob took `bytes`.
    pub fn new(document: ListingDocument, bytes: usize) -> Listing {
        let versions = document
            .versions
            .into_iter()
            .map(|(tag, entry)| (tag, (entry.digest, Arc::new(entry.index))))
            .collect();
        Listing {
            versions,
            // Parsed JSON takes a few times its text.
            weight: bytes.saturating_mul(3),
        }
    }

    /// What the document says `tag` held.
    pub fn get(&self, tag: &str) -> Option<&(Digest, Arc<ImageIndex>)> {
        self.versions.get(tag)
    }

    /// Every version tag the document names, with its digest.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &(Digest, Arc<ImageIndex>))> {
        self.versions.iter()
    }
}

#[cfg(test)]
mod tests {
    use pyoci_oci::{Platform, OCI_MANIFEST_MEDIA_TYPE};

    use super::*;

    fn version_index(file: &str) -> (ImageIndex, Digest) {
        let mut entry = Descriptor::new(OCI_MANIFEST_MEDIA_TYPE, Digest::sha256_of(b"m"), 10);
        entry.platform = Some(Platform::new(file, "any"));
        entry
            .annotations
            .insert(super::super::SHA256_ANNOTATION.to_owned(), "ab".repeat(32));
        let index = ImageIndex::new(vec![entry]);
        let digest = Digest::sha256_of(&serde_json::to_vec(&index).unwrap());
        (index, digest)
    }

    #[test]
    fn a_document_round_trips_and_tracks_set_and_removed_versions() {
        let mut document = ListingDocument {
            updated: "2026-11-28T10:00:00Z".into(),
            ..ListingDocument::default()
        };
        document.set("1.0", Some(version_index(".tar.gz")));
        document.set("2.0", Some(version_index("py3-none-any.whl")));
        let bytes = document.to_bytes().unwrap();
        let read = ListingDocument::parse(&bytes).unwrap();
        assert_eq!(read, document);
        // The layout docs/listing-document.md shows.
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["updated"], "2026-11-28T10:00:00Z");
        assert!(json["versions"]["1.0"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(
            json["versions"]["2.0"]["index"]["manifests"][0]["platform"]["architecture"],
            "py3-none-any.whl"
        );

        let mut changed = read;
        changed.set("1.0", None);
        assert_eq!(
            changed.versions.keys().collect::<Vec<_>>(),
            ["2.0"],
            "a deleted version leaves the document"
        );
        let listing = Listing::new(changed, bytes.len());
        assert!(listing.get("1.0").is_none());
        let (digest, index) = listing.get("2.0").unwrap();
        assert_eq!(digest, &document.versions["2.0"].digest);
        assert_eq!(**index, document.versions["2.0"].index);
    }

    #[test]
    fn a_malformed_document_is_refused_with_a_reason() {
        for malformed in [
            &b"not json"[..],
            b"{}",
            br#"{"updated": "x", "versions": {"1.0": {"digest": "md5:abc", "index": {}}}}"#,
            br#"{"updated": "x", "versions": {"1.0": {"digest": "sha256:0123"}}}"#,
            br#"{"updated": "x", "versions": []}"#,
        ] {
            let error = ListingDocument::parse(malformed).unwrap_err();
            assert!(error.starts_with("not a listing document"), "{error}");
        }
    }

    #[test]
    fn only_a_manifest_with_one_listing_layer_is_a_document() {
        let (_, digest) = version_index(".tar.gz");
        let blob = Descriptor::new(MEDIA_TYPE, digest, 100);
        for profile in [Profile::Pyoci, Profile::Conservative] {
            let manifest = ListingDocument::manifest(profile, blob.clone(), "now");
            assert_eq!(ListingDocument::blob_of(&manifest), Some(&blob));
            assert_eq!(
                manifest.artifact_type.is_some(),
                profile == Profile::Pyoci,
                "conservative registries get no artifactType"
            );
        }
        let mut foreign = ListingDocument::manifest(Profile::Pyoci, blob.clone(), "now");
        foreign.artifact_type = Some("application/vnd.example".into());
        assert!(ListingDocument::blob_of(&foreign).is_none());
        let mut two_layers = ListingDocument::manifest(Profile::Pyoci, blob.clone(), "now");
        two_layers.layers.push(blob.clone());
        assert!(ListingDocument::blob_of(&two_layers).is_none());
        let mut other_layer = ListingDocument::manifest(Profile::Pyoci, blob, "now");
        other_layer.layers[0].media_type = "application/octet-stream".into();
        assert!(ListingDocument::blob_of(&other_layer).is_none());
    }
}
