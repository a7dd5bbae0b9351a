//! Keeping the listing document right after a change through this process: the version's
//! new index recorded in it, or the document rebuilt from every tag when this process does
//! not trust it, or deleted when neither can be done.

use std::time::SystemTime;

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use pyoci_oci::{Descriptor, Digest, ImageIndex, OciError, Precondition};
use pyoci_token_exchange::AuthorizeForWrite;

use super::{
    super::{
        reads::{read_tag, versions, TagContent},
        repository::Repository,
        shared::{Oci, Store},
    },
    read_document,
};
use crate::{
    cache::Project,
    error::Error,
    layout::listing_document::{ListingDocument, MEDIA_TYPE, TAG},
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
/// there is none, or this process does not trust it) and writes it back.
async fn update(
    store: &Store,
    oci: &Oci,
    repo: &str,
    project: &Project,
    version: &PackageVersion,
) -> Result<(), Error> {
    let mut profile = store.rules.profile(oci.registry());
    let mut last_error = None;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = current_document(oci, repo).await?;
        let read_digest = current.as_ref().map(|(digest, _)| digest.clone());
        let trusted = current
            .and_then(|(digest, document)| document.map(|document| (digest, document)))
            .filter(|(digest, _)| !store.listing_trust.needs_rebuild(project, Some(digest)));
        let (mut document, rebuilt) = match trusted {
            Some((_, mut document)) => {
                document.set(&version.tag(), held(oci, repo, version).await?);
                (document, false)
            }
            None => (full_read(store, oci, repo).await?, true),
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
                    store.listing_trust.trust_again(project);
                }
                return Ok(());
            }
            Err(err) if err.is_precondition_failed() => last_error = Some(err),
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
