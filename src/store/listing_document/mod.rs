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
use pyoci_oci::{Digest, ImageIndex, ImageManifest, OciError};

use super::{
    reads::{
        approx_bytes, cached_tag, foreign_index, read_indexes as read_each, read_tag, versions,
        warn_oversized_annotations, TagContent,
    },
    repository::Repository,
    shared::{Oci, Store},
};
use crate::{
    cache::{Project, Snapshot, TagTarget},
    error::Error,
    layout::{
        limits::{index_bytes, MAX_INDEX_BYTES},
        listing_document::{Listing, ListingDocument, MAX_BYTES, TAG},
    },
    package::PackageVersion,
};

/// A listing's version indexes, newest first, as the store reads them one by one, taken from
/// the project's listing document where it has them.
///
/// The tag list (the caller's access check, as without a document) and the document's
/// manifest are read at once; the document is used only once the tag list was accepted, and
/// only for versions the tag list names. Versions it lacks are read one by one; a missing or
/// unreadable document means every version is.
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
    let (versions, document) = tokio::join!(
        versions(oci, repo, store.max_versions),
        find_document(store, oci, repo, project, read),
    );
    let versions = versions?;
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

/// The project's listing document and its manifest's digest, from the caches when its tag
/// was read less than a TTL ago; `None` when there is none or it cannot be read (a listing
/// never fails for its document).
async fn find_document(
    store: &Store,
    oci: &Oci,
    repo: &str,
    project: &Project,
    read: Snapshot,
) -> Option<(Digest, Arc<Listing>)> {
    let caches = &*store.caches;
    let use_caches = !oci.bypasses_caches();
    match cached_tag(caches, oci, project, TAG, read) {
        Some(TagTarget::Skipped) => return None,
        Some(TagTarget::Index(manifest)) => {
            if let Some(listing) = caches.listing(project, &manifest) {
                return Some((manifest, listing));
            }
        }
        None => {}
    }
    let (manifest, digest) = match oci.get_image_manifest(repo, TAG).await {
        Ok(found) => found,
        Err(OciError::NotFound { .. }) => {
            caches.store_tag(project, TAG, read, TagTarget::Skipped);
            return None;
        }
        Err(err) => {
            tracing::debug!(%repo, error = %err, "the listing document could not be read: listing every version");
            return None;
        }
    };
    if let Some(listing) = use_caches
        .then(|| caches.listing(project, &digest))
        .flatten()
    {
        caches.store_tag(project, TAG, read, TagTarget::Index(digest.clone()));
        return Some((digest, listing));
    }
    let (mut document, bytes) = match read_document(oci, repo, &manifest).await {
        Ok(found) => found,
        Err(reason) => {
            tracing::warn!(%repo, %reason, "ignoring the listing document: listing every version");
            return None;
        }
    };
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
    caches.store_listing(project, &digest, listing.clone());
    caches.store_tag(project, TAG, read, TagTarget::Index(digest.clone()));
    Some((digest, listing))
}

/// The document `manifest` holds, its blob checked against its digest, and its size in
/// bytes; why not, when the manifest is no listing document's or its blob is unreadable.
pub(super) async fn read_document(
    oci: &Oci,
    repo: &str,
    manifest: &ImageManifest,
) -> Result<(ListingDocument, usize), String> {
    let Some(blob) = ListingDocument::blob_of(manifest) else {
        return Err(format!("{repo}:{TAG} is not a listing document"));
    };
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
