//! The listing document (`PYOCI_LISTING_DOCUMENT`): listings from it, the writers that keep
//! it (`writer`), and the background check that catches writers that do not (what it finds
//! is kept in `store/listing_trust.rs`). The format is
//! [`crate::layout::listing_document`]'s, the contract docs/listing-document.md's.
//!
//! The document is a copy, never the truth: the version tags are. A listing uses the copy
//! only for versions the tag list (read with the caller's credentials) still names, reads the
//! versions the copy lacks one by one, and a background check compares the copy with the
//! tags now and then, so a writer that does not keep the copy (the original PyOCI, oras, a
//! replica with the setting off) cannot make a listing wrong for long.

mod writer;

pub(super) use writer::record_version;

use std::{collections::HashMap, sync::Arc};

use futures_util::{stream, StreamExt, TryStreamExt};
use pyoci_oci::{Descriptor, Digest, ImageIndex, ImageManifest, OciError, TaggedIndex};

use super::{
    reads::{
        approx_bytes, cached_tag, foreign_index, newest_versions, read_indexes as read_each,
        read_tag, tag_list, warn_oversized_annotations, TagContent,
    },
    repository::Repository,
    shared::{Oci, Store},
};
use crate::{
    cache::{Caches, Project, Snapshot, TagTarget},
    error::Error,
    layout::{
        limits::{index_bytes, MAX_INDEX_BYTES},
        listing_document::{Listing, ListingDocument, Located, LEGACY_TAG, MAX_BYTES, TAG},
    },
    package::PackageVersion,
};

/// A listing's version indexes, newest first, as the store reads them one by one, taken from
/// the project's listing document where it has them.
///
/// The tag list (the caller's access check, as without a document) and the document's
/// index are read at once; the document is used only once the tag list was accepted, and
/// only for versions the tag list names. Versions it lacks are read one by one; a missing or
/// unreadable document means every version is. A document in the legacy form is read only
/// when the tag list names its tag and there is none in the current form.
pub(super) async fn read_indexes(
    repository: &Repository,
    read: Snapshot,
) -> Result<Vec<(PackageVersion, Arc<ImageIndex>)>, Error> {
    let Repository {
        store,
        oci,
        path: repo,
        key: project,
        ..
    } = repository;
    let (tags, document) = tokio::join!(
        tag_list(oci, repo),
        find_document(store, oci, repo, project, read),
    );
    let tags = tags?;
    let versions = newest_versions(&tags, store.max_versions);
    let document = match document {
        Lookup::Found(manifest, listing) => Some((manifest, listing)),
        Lookup::Absent if tags.iter().any(|tag| tag == LEGACY_TAG) => {
            find_legacy_document(store, oci, repo, project, read).await
        }
        Lookup::Absent | Lookup::Unusable => None,
    };
    let trusted = document.filter(|(manifest, _)| store.listing_trust.trusts(project, manifest));
    let Some((manifest, listing)) = trusted else {
        return read_each(store, oci, repo, versions, read).await;
    };
    let mut missing = Vec::new();
    let mut served = Vec::new();
    for version in &versions {
        match listing.get(&version.tag()) {
            Some((digest, _)) => served.push((version.clone(), digest.clone())),
            None => missing.push(version.clone()),
        }
    }
    tracing::debug!(
        %repo,
        from_document = served.len(),
        from_tags = missing.len(),
        "listing from the listing document"
    );
    let mut one_by_one: HashMap<PackageVersion, Arc<ImageIndex>> =
        read_each(store, oci, repo, missing, read)
            .await?
            .into_iter()
            .collect();
    let indexes = versions
        .into_iter()
        .filter_map(|version| {
            if let Some((_, index)) = listing.get(&version.tag()) {
                // Listings skip tags that hold something else, with or without a document.
                return foreign_index(index)
                    .is_none()
                    .then(|| (version, index.clone()));
            }
            let index = one_by_one.remove(&version)?;
            Some((version, index))
        })
        .collect();
    if !served.is_empty() {
        check_in_background(store, oci, repo, project.clone(), manifest, served);
    }
    Ok(indexes)
}

/// What a listing found under the document's tag.
enum Lookup {
    /// The document, and the digest of the index (or legacy manifest) that holds it.
    Found(Digest, Arc<Listing>),
    /// No document there.
    Absent,
    /// Something there that cannot be used (logged): the listing reads every version.
    Unusable,
}

/// The project's listing document under [`TAG`] and its index's digest, from the caches
/// when its tag was read less than a TTL ago. A listing never fails for its document.
async fn find_document(
    store: &Store,
    oci: &Oci,
    repo: &str,
    project: &Project,
    read: Snapshot,
) -> Lookup {
    let caches = &*store.caches;
    let use_caches = !oci.bypasses_caches();
    match cached_tag(caches, oci, project, TAG, read) {
        Some(TagTarget::Skipped) => return Lookup::Absent,
        Some(TagTarget::Index(index)) => {
            if let Some(listing) = caches.listing(project, &index) {
                return Lookup::Found(index, listing);
            }
        }
        None => {}
    }
    let (index, digest) = match oci.get_tagged_index(repo, TAG).await {
        Ok(TaggedIndex::Index(index, digest)) => (index, digest),
        Ok(TaggedIndex::Other { media_type }) => {
            tracing::warn!(%repo, %media_type, "ignoring what {TAG} holds (not a listing document): listing every version");
            return Lookup::Unusable;
        }
        Ok(TaggedIndex::TooLarge { limit }) => {
            tracing::warn!(%repo, "ignoring {TAG}: larger than {limit} bytes; listing every version");
            return Lookup::Unusable;
        }
        Err(OciError::NotFound { .. }) => {
            caches.store_tag(project, TAG, read, TagTarget::Skipped);
            return Lookup::Absent;
        }
        Err(err) => {
            tracing::debug!(%repo, error = %err, "the listing document could not be read: listing every version");
            return Lookup::Unusable;
        }
    };
    if let Some(listing) = use_caches
        .then(|| caches.listing(project, &digest))
        .flatten()
    {
        caches.store_tag(project, TAG, read, TagTarget::Index(digest.clone()));
        return Lookup::Found(digest, listing);
    }
    let (document, bytes) = match read_document_of_index(oci, repo, &index).await {
        Ok(found) => found,
        Err(reason) => {
            tracing::warn!(%repo, %reason, "ignoring the listing document: listing every version");
            return Lookup::Unusable;
        }
    };
    let listing = remember(caches, repo, project, &digest, document, bytes);
    caches.store_tag(project, TAG, read, TagTarget::Index(digest.clone()));
    Lookup::Found(digest, listing)
}

/// The project's listing document in the legacy form (an image manifest tagged
/// [`LEGACY_TAG`]) and its manifest's digest, from the caches when its tag was read less
/// than a TTL ago; `None` when there is none or it cannot be read.
async fn find_legacy_document(
    store: &Store,
    oci: &Oci,
    repo: &str,
    project: &Project,
    read: Snapshot,
) -> Option<(Digest, Arc<Listing>)> {
    let caches = &*store.caches;
    let use_caches = !oci.bypasses_caches();
    match cached_tag(caches, oci, project, LEGACY_TAG, read) {
        Some(TagTarget::Skipped) => return None,
        Some(TagTarget::Index(manifest)) => {
            if let Some(listing) = caches.listing(project, &manifest) {
                return Some((manifest, listing));
            }
        }
        None => {}
    }
    let (manifest, digest) = match oci.get_image_manifest(repo, LEGACY_TAG).await {
        Ok(found) => found,
        Err(OciError::NotFound { .. }) => {
            caches.store_tag(project, LEGACY_TAG, read, TagTarget::Skipped);
            return None;
        }
        Err(err) => {
            tracing::debug!(%repo, error = %err, "the legacy listing document could not be read: listing every version");
            return None;
        }
    };
    if let Some(listing) = use_caches
        .then(|| caches.listing(project, &digest))
        .flatten()
    {
        caches.store_tag(project, LEGACY_TAG, read, TagTarget::Index(digest.clone()));
        return Some((digest, listing));
    }
    let (document, bytes) = match read_legacy_document(oci, repo, &manifest).await {
        Ok(found) => found,
        Err(reason) => {
            tracing::warn!(%repo, %reason, "ignoring the legacy listing document: listing every version");
            return None;
        }
    };
    let listing = remember(caches, repo, project, &digest, document, bytes);
    caches.store_tag(project, LEGACY_TAG, read, TagTarget::Index(digest.clone()));
    Some((digest, listing))
}

/// Keeps a document just read (held by the manifest or index `digest`) for listings, and
/// its version indexes by digest; returns it as listings use it.
fn remember(
    caches: &Caches,
    repo: &str,
    project: &Project,
    digest: &Digest,
    mut document: ListingDocument,
    bytes: usize,
) -> Arc<Listing> {
    // Held to the bounds of a tag read: another writer may have recorded anything. A version
    // left out is read from its tag, which skips it.
    document.versions.retain(|tag, held| {
        let within = index_bytes(&held.index) <= MAX_INDEX_BYTES;
        if within {
            warn_oversized_annotations(repo, tag, &held.index);
        }
        within
    });
    let listing = Arc::new(Listing::new(document, bytes));
    // Content-addressed: whoever reads these versions' tags later may use them by digest.
    for (_, (digest, index)) in listing.entries() {
        caches.store_document(project, digest, index.clone(), approx_bytes(index));
    }
    caches.store_listing(project, digest, listing.clone());
    listing
}

/// The document the index under [`TAG`] holds, inline or in the blob it names (checked
/// against its digest), and its size in bytes; why not, when the index is no listing
/// document's or its blob is unreadable.
pub(super) async fn read_document_of_index(
    oci: &Oci,
    repo: &str,
    index: &ImageIndex,
) -> Result<(ListingDocument, usize), String> {
    match ListingDocument::locate(index)? {
        Located::Inline(document, bytes) => Ok((document, bytes)),
        Located::Blob(blob) => read_blob(oci, repo, &blob).await,
    }
}

/// The document a legacy manifest (tagged [`LEGACY_TAG`]) holds, and its size in bytes; why
/// not, when the manifest is no listing document's or its blob is unreadable.
async fn read_legacy_document(
    oci: &Oci,
    repo: &str,
    manifest: &ImageManifest,
) -> Result<(ListingDocument, usize), String> {
    let Some(blob) = ListingDocument::blob_of(manifest) else {
        return Err(format!("{repo}:{LEGACY_TAG} is not a listing document"));
    };
    read_blob(oci, repo, blob).await
}

/// The document in `blob`, checked against its digest, and its size in bytes.
async fn read_blob(
    oci: &Oci,
    repo: &str,
    blob: &Descriptor,
) -> Result<(ListingDocument, usize), String> {
    if blob.size > MAX_BYTES as u64 {
        return Err(format!(
            "the listing document is {} bytes, more than the {MAX_BYTES} read",
            blob.size
        ));
    }
    let response = oci
        .get_blob(repo, &blob.digest)
        .await
        .map_err(|err| err.to_string())?;
    let bytes = pyoci_oci::read_body(response.into_body(), MAX_BYTES, "listing document")
        .await
        .map_err(|err| err.to_string())?;
    if Digest::sha256_of(&bytes) != blob.digest {
        return Err(format!(
            "the listing document's blob does not match its digest {}",
            blob.digest
        ));
    }
    Ok((ListingDocument::parse(&bytes)?, bytes.len()))
}

/// Compares the document with the version tags it was used for, in the background, as the
/// caller whose listing used it: at once the first time, then at most once per
/// `PYOCI_LISTING_CHECK_SECS` per project and caller, one check per project at a time. A
/// writer that does not keep the document (the original PyOCI, oras, a replica with the
/// setting off) changes tags behind it; on a difference the document is distrusted in this
/// process until it changes, and the project's cached pages are dropped.
fn check_in_background(
    store: &Store,
    oci: &Oci,
    repo: &str,
    project: Project,
    manifest: Digest,
    served: Vec<(PackageVersion, Digest)>,
) {
    let trust = &store.listing_trust;
    let Some(turn) = trust.checker_turn(project.clone()) else {
        return;
    };
    if !trust.check_due(&project, store.caches.fingerprint(oci.credentials())) {
        return;
    }
    let (trust, caches) = (Arc::clone(&store.listing_trust), Arc::clone(&store.caches));
    let concurrency = store.listing_concurrency;
    let oci = oci.clone().bypassing_caches();
    let repo = repo.to_owned();
    tokio::spawn(async move {
        let _turn = turn;
        let compared: Result<Vec<Option<String>>, Error> = stream::iter(served)
            .map(|(version, digest)| {
                let (oci, repo) = (&oci, repo.as_str());
                async move {
                    Ok::<_, Error>(match read_tag(oci, repo, &version).await? {
                        TagContent::Index(_, now) if now == digest => None,
                        // Deleted since: the listing's tag list leaves it out already.
                        TagContent::Absent => None,
                        _ => Some(version.to_string()),
                    })
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await;
        let changed: Vec<String> = match compared {
            Ok(changed) => changed.into_iter().flatten().collect(),
            Err(err) => {
                tracing::debug!(%repo, error = %err, "checking the listing document failed");
                return;
            }
        };
        if changed.is_empty() {
            tracing::debug!(%repo, "the listing document agrees with the version tags");
            return;
        }
        tracing::warn!(
            %repo,
            versions = ?changed,
            "the listing document disagrees with the version tags (changed by a writer that \
             does not keep it): listing every version from its tag until the document changes"
        );
        trust.distrust(&project, &manifest);
        caches.invalidate(&project);
    });
}
