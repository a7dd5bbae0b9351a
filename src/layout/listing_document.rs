//! The listing document's format (`PYOCI_LISTING_DOCUMENT`): one document per project
//! holding every version's index, so a cold listing reads the tag list and this document's
//! index (2 registry requests, at once) instead of one manifest per version.
//! docs/listing-document.md states the layout, why the original PyOCI tolerates it, and the
//! freshness contract; reading, keeping and checking the document is the store's
//! (`store::listing_document`).
//!
//! The document is a copy, never the truth: the version tags are.
//!
//! The original PyOCI reads every tag it lists as an image index of artifact type
//! `application/pyoci.package.v1` and makes a file of each entry of its `manifests`, failing
//! the whole listing on anything else. So the document's tag holds such an index with no
//! entries (the original finds no files there, and no error), and the document itself rides
//! in that index's annotations, or, when too large for a manifest, in a blob the index names.

use std::{collections::BTreeMap, collections::HashMap, sync::Arc};

use bytes::Bytes;
use pyoci_oci::{Descriptor, Digest, ImageIndex, ImageManifest};
use serde::{Deserialize, Serialize};

use super::{CREATED_ANNOTATION, PACKAGE_MEDIA_TYPE};
use crate::profile::Profile;

/// The tag of the document in the project's repository.
///
/// It sorts (bytewise, as the original PyOCI's sorted tag set does) before every version
/// tag but `0` and `0-<local label>`: version tags start with a digit, and after `0` a
/// version has `.`, a digit or a letter, all after `-`. The original's JSON route (its
/// `list_package_json`) takes the files of the last tag in that order and fails when it has
/// none, so the document must never be the last tag; writers leave it out of a project
/// whose version tags all sort before it. Not a version either: `0+pyoci-listing`
/// normalizes to `0+pyoci.listing`, whose tag is not this one, so PyOCI skips it like any
/// tag that is not a version, and PEP 440 parsers (Renovate reading the original's JSON)
/// refuse `0-pyoci-listing`.
pub const TAG: &str = "0-pyoci-listing";

/// Where documents were kept before (an image manifest with the document as its layer).
/// The original PyOCI cannot list a repository holding it, so writers replace it with the
/// document under [`TAG`] and delete it; listings still read it where it is the only one.
pub const LEGACY_TAG: &str = "pyoci-listing";

/// The media type of the document's blob (and the legacy manifest's `artifactType`).
pub const MEDIA_TYPE: &str = "application/vnd.pyoci.listing.v1+json";

/// The annotation of the document's index holding the whole document, as JSON text.
pub const INLINE_ANNOTATION: &str = "com.pyoci.listing.v1";

/// The annotation of the document's index naming the blob that holds the document (a
/// descriptor, as JSON), when the document is too large to inline.
pub const BLOB_ANNOTATION: &str = "com.pyoci.listing.v1.blob";

/// The largest document index written with the document inline. Registries refuse
/// manifests over 4 MiB (distribution, zot, Docker Hub, ECR, ACR); this keeps 1 MiB spare.
/// A 1,000-version project's document is about 1 MiB.
pub const MAX_INLINE_BYTES: usize = 3 * 1024 * 1024;

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

    /// Whether some version tag sorts after [`TAG`], as the original PyOCI's JSON route
    /// needs of the last tag (see [`TAG`]). Writers keep no document otherwise.
    pub fn leaves_a_version_last(&self) -> bool {
        self.versions.keys().any(|tag| tag.as_str() > TAG)
    }

    /// The index to tag [`TAG`] with, holding this document inline.
    pub fn inline_index(&self, profile: Profile, created: &str) -> Result<ImageIndex, String> {
        let text = serde_json::to_string(self)
            .map_err(|err| format!("cannot serialize the listing document: {err}"))?;
        Ok(document_index(profile, created, INLINE_ANNOTATION, text))
    }

    /// The index to tag [`TAG`] with, naming `blob` (pushed before, holding this document).
    pub fn blob_index(
        profile: Profile,
        blob: &Descriptor,
        created: &str,
    ) -> Result<ImageIndex, String> {
        let named = serde_json::to_string(blob)
            .map_err(|err| format!("cannot serialize a descriptor: {err}"))?;
        Ok(document_index(profile, created, BLOB_ANNOTATION, named))
    }

    /// Where the document of `index` (read from [`TAG`]) is; why not, when the index is not
    /// a listing document's: it lists manifests, has another artifact type, or carries
    /// neither or both of the annotations.
    pub fn locate(index: &ImageIndex) -> Result<Located, String> {
        if !index.manifests.is_empty() {
            return Err(format!("{TAG} lists manifests: not a listing document"));
        }
        if let Some(artifact_type) = &index.artifact_type {
            if artifact_type != PACKAGE_MEDIA_TYPE {
                return Err(format!(
                    "{TAG} is an index of artifact type {artifact_type:?}: not a listing document"
                ));
            }
        }
        match (
            index.annotations.get(INLINE_ANNOTATION),
            index.annotations.get(BLOB_ANNOTATION),
        ) {
            (Some(text), None) => Ok(Located::Inline(
                ListingDocument::parse(text.as_bytes())?,
                text.len(),
            )),
            (None, Some(named)) => {
                let blob: Descriptor = serde_json::from_str(named)
                    .map_err(|err| format!("{BLOB_ANNOTATION} is not a descriptor: {err}"))?;
                if blob.media_type != MEDIA_TYPE {
                    return Err(format!(
                        "{BLOB_ANNOTATION} names a blob of media type {:?}",
                        blob.media_type
                    ));
                }
                Ok(Located::Blob(Box::new(blob)))
            }
            _ => Err(format!(
                "{TAG} carries neither {INLINE_ANNOTATION} nor {BLOB_ANNOTATION}, or both: not a \
                 listing document"
            )),
        }
    }

    /// An image manifest with the document's blob (`blob`) as its one layer: the OCI empty
    /// config, and the `artifactType` unless the registry's profile refuses custom types.
    /// Pushed by digest beside a blob-form document index, so that a garbage collection
    /// that keeps what manifests reference keeps the blob; and the legacy form, tagged
    /// [`LEGACY_TAG`].
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

    /// The document's blob, if `manifest` is a legacy listing document's manifest: one
    /// layer of [`MEDIA_TYPE`], and our `artifactType` when it has one (conservative
    /// registries get none).
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

/// Where a document index says its document is.
#[derive(Debug, PartialEq)]
pub enum Located {
    /// In the index itself: the document, and the size of its text in bytes.
    Inline(ListingDocument, usize),
    /// In this blob (boxed: a descriptor is several times a document's handle).
    Blob(Box<Descriptor>),
}

/// An index the original PyOCI lists as a version without files: its artifact type (unless
/// the profile refuses custom types; the original lists nothing on such a registry anyway),
/// no manifests, and the document (or where it is) in `annotation`.
fn document_index(profile: Profile, created: &str, annotation: &str, value: String) -> ImageIndex {
    let mut index = ImageIndex::new(Vec::new());
    if profile.writes_artifact_type() {
        index.artifact_type = Some(PACKAGE_MEDIA_TYPE.to_owned());
    }
    index
        .annotations
        .insert(CREATED_ANNOTATION.to_owned(), created.to_owned());
    index.annotations.insert(annotation.to_owned(), value);
    index
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
    fn the_document_index_holds_the_document_inline_or_names_its_blob_and_nothing_else() {
        let mut document = ListingDocument {
            updated: "2026-11-28T10:00:00Z".into(),
            ..ListingDocument::default()
        };
        document.set("1.0", Some(version_index(".tar.gz")));
        let inline = document.inline_index(Profile::Pyoci, "now").unwrap();
        assert!(inline.manifests.is_empty());
        assert_eq!(inline.artifact_type.as_deref(), Some(PACKAGE_MEDIA_TYPE));
        let bytes = document.to_bytes().unwrap();
        assert_eq!(
            ListingDocument::locate(&inline).unwrap(),
            Located::Inline(document.clone(), bytes.len())
        );
        let blob = Descriptor::new(MEDIA_TYPE, Digest::sha256_of(&bytes), bytes.len() as u64);
        let named = ListingDocument::blob_index(Profile::Conservative, &blob, "now").unwrap();
        assert_eq!(
            named.artifact_type, None,
            "conservative registries get none"
        );
        assert_eq!(
            ListingDocument::locate(&named).unwrap(),
            Located::Blob(Box::new(blob.clone()))
        );

        let (version, _) = version_index(".tar.gz");
        let mut both = inline.clone();
        both.annotations.insert(
            BLOB_ANNOTATION.into(),
            named.annotations[BLOB_ANNOTATION].clone(),
        );
        let mut foreign = inline.clone();
        foreign.artifact_type = Some("application/vnd.example".into());
        let mut other_blob = named.clone();
        other_blob.annotations.insert(
            BLOB_ANNOTATION.into(),
            serde_json::to_string(&Descriptor::new("text/plain", blob.digest, 1)).unwrap(),
        );
        for not_ours in [
            version,
            both,
            foreign,
            other_blob,
            ImageIndex::new(Vec::new()),
        ] {
            assert!(ListingDocument::locate(&not_ours).is_err(), "{not_ours:?}");
        }
    }

    #[test]
    fn the_tag_is_no_version_and_sorts_before_every_version_but_zero() {
        use crate::package::PackageVersion;
        assert!(PackageVersion::from_tag(TAG).is_none());
        assert!(PackageVersion::from_tag(LEGACY_TAG).is_none());
        for version in ["0.1", "0a1", "0.dev0", "0.post1", "1.0", "10!1.0", "2024.1"] {
            let tag = PackageVersion::parse(version).map_or(version.to_owned(), |v| v.tag());
            assert!(TAG < tag.as_str(), "{tag}");
        }
        let zero = PackageVersion::parse("0").unwrap().tag();
        assert!(zero.as_str() < TAG);
        let mut document = ListingDocument::default();
        document.set(&zero, Some(version_index(".tar.gz")));
        assert!(!document.leaves_a_version_last());
        document.set("0.1", Some(version_index(".tar.gz")));
        assert!(document.leaves_a_version_last());
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
