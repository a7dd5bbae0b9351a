//! Keeping the listing document right after a change through this process: the version's
//! new index recorded in it, or the document rebuilt from every tag when this process does
//! not trust it, or deleted when neither can be done.

use std::time::SystemTime;

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use pyoci_oci::{
    Descriptor, Digest, ImageIndex, OciError, Precondition, TaggedIndex, OCI_INDEX_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
};
use pyoci_token_exchange::AuthorizeForWrite;

use super::{
    super::{
        reads::{read_tag, versions, TagContent},
        repository::Repository,
        shared::{Oci, Store},
    },
    read_document_of_index,
};
use crate::{
    cache::Project,
    error::Error,
    layout::{
        limits::index_bytes,
        listing_document::{ListingDocument, LEGACY_TAG, MAX_INLINE_BYTES, MEDIA_TYPE, TAG},
    },
    package::PackageVersion,
    profile::Profile,
};

/// How often a document update reads and writes again after the registry refused its write
/// as based on a stale read (412), or after falling back to the conservative profile.
const MAX_WRITE_ATTEMPTS: usize = 3;

/// After a change to `version` through this process: records what its tag holds now in the
/// project's listing document, taking turns with the other writers of that document in
/// this process. Never fails the caller's write (the file is stored whatever happens here):
/// a document that could not be updated is deleted so nobody trusts it, and when even that
/// fails, this process stops trusting it.
pub(in crate::store) async fn record_version(repository: &Repository, version: &PackageVersion) {
    let Repository {
        store,
        oci,
        path: repo,
        key: project,
        ..
    } = repository;
    if !store.listing_document {
        return;
    }
    let _turn = store.listing_trust.writer_turn(project.clone()).await;
    let oci = oci
        .clone()
        .bypassing_caches()
        .with_extension(AuthorizeForWrite);
    let Err(err) = update(store, &oci, repo, project, version).await else {
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
        store.listing_trust.untrust(project);
    }
}

/// Reads the document, records `version` in it (or builds it afresh from every tag when
/// there is none, or this process does not trust it) and writes it back. A project whose
/// version tags all sort before the document's tag keeps no document (see [`TAG`]).
async fn update(
    store: &Store,
    oci: &Oci,
    repo: &str,
    project: &Project,
    version: &PackageVersion,
) -> Result<(), Error> {
    let mut profile = store.rules.profile(oci.registry());
    let mut inline = true;
    let mut last_error = None;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = current_document(oci, repo).await?;
        let precondition = current.precondition();
        let trusted = current.document.filter(|_| {
            !store
                .listing_trust
                .needs_rebuild(project, current.digest.as_ref())
        });
        let (mut document, rebuilt) = match trusted {
            Some(mut document) => {
                document.set(&version.tag(), held(oci, repo, version).await?);
                (document, false)
            }
            None => (full_read(store, oci, repo).await?, true),
        };
        if !document.leaves_a_version_last() {
            tracing::debug!(%repo, "no version tag sorts after {TAG}: keeping no listing document");
            discard(oci, repo).await?;
            return Ok(());
        }
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        document.updated = now.clone();
        let written = write(oci, repo, &document, profile, &now, inline, precondition).await;
        match written {
            Ok(digest) => {
                if rebuilt {
                    store.listing_trust.trust_again(project);
                }
                let superseded = current.digest.filter(|previous| *previous != digest);
                clean_up(oci, repo, superseded, current.legacy_possible).await;
                return Ok(());
            }
            Err(err) if err.is_precondition_failed() => last_error = Some(err),
            // Too large for this registry's manifests, whatever it says: the blob form's
            // index is small. Tried before anything else is concluded from the refusal.
            Err(err @ OciError::Rejected { .. }) if inline => {
                tracing::debug!(%repo, error = %err, "the registry refused the listing document inline: writing it as a blob");
                inline = false;
                last_error = Some(err);
            }
            Err(err)
                if store
                    .rules
                    .fall_back_to_conservative(oci.registry(), profile, &err) =>
            {
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

/// The document under [`TAG`] as a writer finds it, read past every cache.
struct Current {
    /// The digest of what the tag holds, if anything.
    digest: Option<Digest>,
    /// The document, when the tag holds a readable one.
    document: Option<ListingDocument>,
    /// Whether a legacy document may be left to delete: the tag held nothing, so this
    /// write may be the first in the current form.
    legacy_possible: bool,
}

impl Current {
    /// The write is conditioned on the tag holding what was read.
    fn precondition(&self) -> Precondition {
        match &self.digest {
            Some(digest) => Precondition::Matches(digest.clone()),
            None if self.legacy_possible => Precondition::Absent,
            // Something the read could not name: written over unconditionally.
            None => Precondition::None,
        }
    }
}

/// What [`TAG`] holds now: a document is `None` when the tag holds something unreadable
/// (it is then written afresh).
async fn current_document(oci: &Oci, repo: &str) -> Result<Current, Error> {
    let unreadable = |reason: &dyn std::fmt::Display, digest: Option<Digest>| {
        tracing::warn!(%repo, %reason, "the listing document is unreadable: writing it afresh");
        Current {
            digest,
            document: None,
            legacy_possible: false,
        }
    };
    let (index, digest) = match oci.get_tagged_index(repo, TAG).await {
        Ok(TaggedIndex::Index(index, digest)) => (index, digest),
        Ok(TaggedIndex::Other { media_type }) => {
            return Ok(unreadable(&format!("{TAG} holds a {media_type}"), None))
        }
        Ok(TaggedIndex::TooLarge { limit }) => {
            return Ok(unreadable(&format!("{TAG} is over {limit} bytes"), None))
        }
        Err(OciError::NotFound { .. }) => {
            return Ok(Current {
                digest: None,
                document: None,
                legacy_possible: true,
            })
        }
        Err(OciError::InvalidResponse(reason)) => return Ok(unreadable(&reason, None)),
        Err(err) => return Err(err.into()),
    };
    Ok(match read_document_of_index(oci, repo, &index).await {
        Ok((document, _)) => Current {
            digest: Some(digest),
            document: Some(document),
            legacy_possible: false,
        },
        Err(reason) => unreadable(&reason, Some(digest)),
    })
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
async fn full_read(store: &Store, oci: &Oci, repo: &str) -> Result<ListingDocument, Error> {
    let versions = versions(oci, repo, 0).await?;
    let held: Vec<_> = stream::iter(versions)
        .map(|version| async move {
            let held = held(oci, repo, &version).await?;
            Ok::<_, Error>((version.tag(), held))
        })
        .buffer_unordered(store.listing_concurrency)
        .try_collect()
        .await?;
    let mut document = ListingDocument::default();
    for (tag, held) in held {
        document.set(&tag, held);
    }
    Ok(document)
}

/// Writes the document's index under [`TAG`]: the document inline when `inline` and the
/// index stays within [`MAX_INLINE_BYTES`], else its blob first (with the image manifest
/// that keeps it through garbage collection, pushed by digest) and an index naming it.
/// Returns the index's digest.
async fn write(
    oci: &Oci,
    repo: &str,
    document: &ListingDocument,
    profile: Profile,
    now: &str,
    inline: bool,
    precondition: Precondition,
) -> Result<Digest, OciError> {
    let invalid = OciError::InvalidInput;
    let inline_index = inline
        .then(|| document.inline_index(profile, now))
        .transpose()
        .map_err(invalid)?
        .filter(|index| index_bytes(index) <= MAX_INLINE_BYTES);
    let index = match inline_index {
        Some(index) => index,
        None => {
            let blob = push_blob_form(oci, repo, document, profile, now).await?;
            ListingDocument::blob_index(profile, &blob, now).map_err(invalid)?
        }
    };
    oci.put_index_if(repo, TAG, &index, precondition).await
}

/// Pushes the document as a blob, the empty config, and the image manifest holding the
/// blob (by digest: a registry's garbage collection keeps what a manifest references; see
/// docs/listing-document.md for the one that drops untagged manifests). The blob's
/// descriptor.
async fn push_blob_form(
    oci: &Oci,
    repo: &str,
    document: &ListingDocument,
    profile: Profile,
    now: &str,
) -> Result<Descriptor, OciError> {
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
    let holder = ListingDocument::manifest(profile, blob.clone(), now);
    oci.put_image_manifest(repo, &holder).await?;
    Ok(blob)
}

/// After a document was written: deletes the index it replaced (so old documents do not
/// pile up in registries that keep untagged manifests), and, on a first write in the
/// current form, the legacy document (so the original PyOCI can list the project again).
/// Best effort: a registry that allows no deletes keeps them, which costs only storage.
async fn clean_up(oci: &Oci, repo: &str, superseded: Option<Digest>, legacy_possible: bool) {
    if let Some(digest) = superseded {
        if let Err(err) = oci.delete_manifest(repo, &digest).await {
            tracing::debug!(%repo, %digest, error = %err, "the replaced listing document stays");
        }
    }
    if legacy_possible {
        if let Err(err) = delete_tagged(oci, repo, LEGACY_TAG).await {
            tracing::warn!(
                %repo,
                error = %err,
                "the legacy listing document ({LEGACY_TAG}) could not be deleted: the original \
                 PyOCI cannot list this project until it is"
            );
        }
    }
}

/// Deletes whatever document the tag holds now (and a legacy one), so no listing trusts a
/// stale one.
async fn discard(oci: &Oci, repo: &str) -> Result<(), OciError> {
    delete_tagged(oci, repo, TAG).await?;
    delete_tagged(oci, repo, LEGACY_TAG).await
}

/// Deletes the manifest `tag` points to, if any.
async fn delete_tagged(oci: &Oci, repo: &str, tag: &str) -> Result<(), OciError> {
    let accept = [OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE];
    let digest = match oci.get_manifest(repo, tag, &accept).await {
        Ok(manifest) => manifest.digest,
        Err(OciError::NotFound { .. }) => return Ok(()),
        Err(err) => return Err(err),
    };
    match oci.delete_manifest(repo, &digest).await {
        Ok(()) | Err(OciError::NotFound { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}
