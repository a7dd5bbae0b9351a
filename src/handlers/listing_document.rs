//! Listings from a project's listing document, the writers that keep it, and the background
//! check that catches writers that do not (`PYOCI_LISTING_DOCUMENT`; the format is in
//! [`crate::listing_document`], the contract in docs/listing-document.md).

use std::{collections::HashMap, sync::Arc, time::SystemTime};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use pyoci_oci::{Descriptor, Digest, ImageIndex, ImageManifest, OciError, Precondition};
use pyoci_token_exchange::AuthorizeForWrite;

use super::{cached_tag, foreign_index, read_indexes, read_tag, versions, Oci, TagContent};
use crate::{
    app::App,
    cache::{Project, Snapshot, TagTarget},
    error::Error,
    layout::limits::{index_bytes, MAX_INDEX_BYTES},
    listing_document::{Listing, ListingDocument, MAX_BYTES, MEDIA_TYPE, TAG},
    package::PackageVersion,
    profile::Profile,
};

/// How often a document update reads and writes again after the registry refused its write
/// as based on a stale read (412), or after falling back to the conservative profile.
const MAX_WRITE_ATTEMPTS: usize = 3;

/// A listing's version indexes, newest first, as [`read_indexes`] gives them, taken from the
/// project's listing document where it has them.
///
/// The tag list (the caller's access check, as without a document) and the document's
/// manifest are read at once; the document is used only once the tag list was accepted, and
/// only for versions the tag list names. Versions it lacks are read one by one; a missing or
/// unreadable document means every version is.
pub(super) async fn read_indexes_with_document(
    app: &App,
    oci: &Oci,
    repo: &str,
    read: Snapshot,
) -> Result<Vec<(PackageVersion, Arc<ImageIndex>)>, Error> {
    let project = Project::new(oci.registry(), repo);
    let (versions, document) = tokio::join!(
        versions(oci, repo, app.config.max_versions),
        find_document(app, oci, repo, &project, read),
    );
    let versions = versions?;
    let trusted = document.filter(|(manifest, _)| app.listing_trust.trusts(&project, manifest));
    let Some((manifest, listing)) = trusted else {
        return read_indexes(app, oci, repo, versions, read).await;
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
        read_indexes(app, oci, repo, missing, read)
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
        check_in_background(app, oci, repo, project, manifest, served);
    }
    Ok(indexes)
}

/// The project's listing document and its manifest's digest, from the caches when its tag
/// was read less than a TTL ago; `None` when there is none or it cannot be read (a listing
/// never fails for its document).
async fn find_document(
    app: &App,
    oci: &Oci,
    repo: &str,
    project: &Project,
    read: Snapshot,
) -> Option<(Digest, Arc<Listing>)> {
    let caches = &app.caches;
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
            super::warn_oversized_annotations(repo, tag, &held.index);
        }
        within
    });
    let listing = Arc::new(Listing::new(document, bytes));
    // Content-addressed: whoever reads these versions' tags later may use them by digest.
    for (_, (digest, index)) in listing.entries() {
        caches.store_document(project, digest, index.clone(), super::approx_bytes(index));
    }
    caches.store_listing(project, &digest, listing.clone());
    caches.store_tag(project, TAG, read, TagTarget::Index(digest.clone()));
    Some((digest, listing))
}

/// The document `manifest` holds, its blob checked against its digest, and its size in
/// bytes; why not, when the manifest is no listing document's or its blob is unreadable.
async fn read_document(
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
    app: &App,
    oci: &Oci,
    repo: &str,
    project: Project,
    manifest: Digest,
    served: Vec<(PackageVersion, Digest)>,
) {
    let trust = &app.listing_trust;
    let Some(turn) = trust.checker_turn(project.clone()) else {
        return;
    };
    if !trust.check_due(&project, app.caches.fingerprint(oci.credentials())) {
        return;
    }
    let (trust, caches) = (Arc::clone(&app.listing_trust), Arc::clone(&app.caches));
    let concurrency = app.listing_concurrency();
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

/// After a change to `version` through this process: records what its tag holds now in the
/// project's listing document, taking turns with the other writers of that document in
/// this process. Never fails the caller's write (the file is stored whatever happens here):
/// a document that could not be updated is deleted so nobody trusts it, and when even that
/// fails, this process stops trusting it.
pub(super) async fn record_version(app: &App, oci: &Oci, repo: &str, version: &PackageVersion) {
    if !app.config.listing_document {
        return;
    }
    let project = Project::new(oci.registry(), repo);
    let _turn = app.listing_trust.writer_turn(project.clone()).await;
    let oci = oci
        .clone()
        .bypassing_caches()
        .with_extension(AuthorizeForWrite);
    let Err(err) = update(app, &oci, repo, &project, version).await else {
        return;
    };
    tracing::warn!(
        %repo,
        %version,
        error = %err,
        "updating the listing document failed (the change itself is stored): deleting the \
         document so no listing trusts it"
    );
    if let Err(err) = discard(&oci, repo).await {
        tracing::warn!(
            %repo,
            error = %err,
            "the stale listing document could not be deleted: this process lists every \
             version of the project until it writes the document again"
        );
        app.listing_trust.untrust(&project);
    }
}

/// Reads the document, records `version` in it (or builds it afresh from every tag when
/// there is none, or this process does not trust it) and writes it back.
async fn update(
    app: &App,
    oci: &Oci,
    repo: &str,
    project: &Project,
    version: &PackageVersion,
) -> Result<(), Error> {
    let mut profile = app.profile(oci.registry());
    let mut last_error = None;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = current_document(oci, repo).await?;
        let read_digest = current.as_ref().map(|(digest, _)| digest.clone());
        let trusted = current
            .and_then(|(digest, document)| document.map(|document| (digest, document)))
            .filter(|(digest, _)| !app.listing_trust.needs_rebuild(project, Some(digest)));
        let (mut document, rebuilt) = match trusted {
            Some((_, mut document)) => {
                document.set(&version.tag(), held(oci, repo, version).await?);
                (document, false)
            }
            None => (full_read(app, oci, repo).await?, true),
        };
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        document.updated = now.clone();
        let precondition = match read_digest {
            Some(digest) => Precondition::Matches(digest),
            None => Precondition::Absent,
        };
        match write(oci, repo, &document, profile, &now, precondition).await {
            Ok(()) => {
                if rebuilt {
                    app.listing_trust.trust_again(project);
                }
                return Ok(());
            }
            Err(err) if err.is_precondition_failed() => last_error = Some(err),
            Err(err) if app.fall_back_to_conservative(oci.registry(), profile, &err) => {
                profile = Profile::Conservative;
                last_error = Some(err);
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(last_error.map_or_else(
        || Error::Busy("the listing document kept changing".into()),
        Error::from,
    ))
}

/// The document's manifest digest and the document, read past every cache; the document is
/// `None` when the tag holds something unreadable (it is then written afresh).
async fn current_document(
    oci: &Oci,
    repo: &str,
) -> Result<Option<(Digest, Option<ListingDocument>)>, Error> {
    let (manifest, digest) = match oci.get_image_manifest(repo, TAG).await {
        Ok(found) => found,
        Err(OciError::NotFound { .. }) => return Ok(None),
        Err(OciError::InvalidResponse(reason)) => {
            tracing::warn!(%repo, %reason, "the listing document is unreadable: writing it afresh");
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    Ok(Some((
        digest,
        match read_document(oci, repo, &manifest).await {
            Ok((document, _)) => Some(document),
            Err(reason) => {
                tracing::warn!(%repo, %reason, "the listing document is unreadable: writing it afresh");
                None
            }
        },
    )))
}

/// What `version`'s tag holds now, as the document records it.
async fn held(
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
) -> Result<Option<(ImageIndex, Digest)>, Error> {
    Ok(match read_tag(oci, repo, version).await? {
        TagContent::Index(index, digest) => Some((index, digest)),
        TagContent::Absent | TagContent::Foreign(_) | TagContent::TooLarge => None,
    })
}

/// A document of every version tag of the project as the registry holds them now.
async fn full_read(app: &App, oci: &Oci, repo: &str) -> Result<ListingDocument, Error> {
    let versions = versions(oci, repo, 0).await?;
    let held: Vec<_> = stream::iter(versions)
        .map(|version| async move {
            let held = held(oci, repo, &version).await?;
            Ok::<_, Error>((version.tag(), held))
        })
        .buffer_unordered(app.listing_concurrency())
        .try_collect()
        .await?;
    let mut document = ListingDocument::default();
    for (tag, held) in held {
        document.set(&tag, held);
    }
    Ok(document)
}

/// Pushes the document's blob and the empty config, then its manifest under [`TAG`].
async fn write(
    oci: &Oci,
    repo: &str,
    document: &ListingDocument,
    profile: Profile,
    now: &str,
    precondition: Precondition,
) -> Result<(), OciError> {
    let bytes = document.to_bytes().map_err(OciError::InvalidInput)?;
    let blob = Descriptor::new(MEDIA_TYPE, Digest::sha256_of(&bytes), bytes.len() as u64);
    let config = Descriptor::empty_config();
    tokio::try_join!(
        oci.push_blob(repo, &blob.digest, bytes),
        oci.push_blob(
            repo,
            &config.digest,
            Bytes::from_static(pyoci_oci::EMPTY_CONFIG_BYTES)
        ),
    )?;
    let manifest = ListingDocument::manifest(profile, blob, now);
    let bytes = serde_json::to_vec(&manifest)
        .map(Bytes::from)
        .map_err(|err| OciError::InvalidInput(format!("cannot serialize a manifest: {err}")))?;
    oci.put_manifest_if(repo, TAG, &manifest.media_type, bytes, precondition)
        .await?;
    Ok(())
}

/// Deletes whatever document the tag holds now, so no listing trusts a stale one.
async fn discard(oci: &Oci, repo: &str) -> Result<(), OciError> {
    let digest = match oci.get_image_manifest(repo, TAG).await {
        Ok((_, digest)) => digest,
        Err(OciError::NotFound { .. }) => return Ok(()),
        Err(err) => return Err(err),
    };
    match oci.delete_manifest(repo, &digest).await {
        Ok(()) | Err(OciError::NotFound { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}
