//! Making an uploaded file visible, once its blob is committed: its config (a wheel's
//! METADATA where the registry's profile allows) and manifest, then its entry in the
//! version's index through the write window. Until the index is written no listing shows
//! anything of it.

use std::collections::BTreeMap;

use bytes::Bytes;
use pyoci_metadata::CoreMetadata;
use pyoci_oci::{Descriptor, Digest, ImageManifest};

use super::{
    repository::Repository,
    shared::Oci,
    write_window::{EditOutcome, IndexEdit},
};
use crate::{
    error::Error,
    layout::{self, FileFacts},
    package::{DistFilename, DistKind},
    profile::Profile,
};

/// A file whose blob is committed, with what is known about it.
pub struct NewFile<'a> {
    pub filename: &'a DistFilename,
    /// The committed blob holding the file.
    pub blob: Digest,
    /// What the file's index entry records of it.
    pub facts: FileFacts,
    /// The manifest's annotations (`PyOCI :: Label ::` classifiers).
    pub labels: BTreeMap<String, String>,
    /// The file's own core metadata, stored as a wheel's manifest config (PEP 658).
    pub core: &'a CoreMetadata,
}

impl Repository {
    /// Makes a committed file visible: its config and manifest, then its entry in the
    /// version's index. `Some(sha256)` when another upload of the same name got there first.
    pub async fn publish(&self, file: NewFile<'_>) -> Result<Option<String>, Error> {
        let (oci, repo, rules) = (&self.oci, self.path.as_str(), &self.store.rules);
        let profile = rules.profile(oci.registry());
        let (manifest, stored_metadata) = match push_file_manifest(oci, repo, &file, profile).await
        {
            // GitLab and Quay refuse media types they do not know: once, write the standard ones.
            Err(Error::Registry(refusal))
                if rules.fall_back_to_conservative(oci.registry(), profile, &refusal) =>
            {
                push_file_manifest(oci, repo, &file, Profile::Conservative).await?
            }
            pushed => pushed?,
        };
        let core_metadata_sha256 = stored_metadata.map(|core| core.sha256.clone());
        let architecture = file.filename.architecture();
        let entry = layout::file_entry(manifest, architecture, file.facts, core_metadata_sha256);
        let edit = IndexEdit::AddFile(Box::new(entry));
        match self.edit_index(file.filename.version(), edit).await? {
            EditOutcome::NameTaken { stored_sha256 } => Ok(Some(stored_sha256)),
            _ => Ok(None),
        }
    }
}

/// Pushes a file's config and manifest as `profile` says; returns the manifest's descriptor
/// and the core metadata stored as its config, if any.
async fn push_file_manifest<'a>(
    oci: &Oci,
    repo: &str,
    file: &NewFile<'a>,
    profile: Profile,
) -> Result<(Descriptor, Option<&'a CoreMetadata>), Error> {
    // PEP 658 serves a wheel's METADATA; an sdist's PKG-INFO may list dynamic fields that
    // differ from what a build produces, so only wheels get a metadata file.
    let stored_metadata = (profile.stores_core_metadata()
        && file.filename.kind() == DistKind::Wheel)
        .then_some(file.core);
    let (config, config_bytes) = match stored_metadata {
        Some(core) => {
            let digest = Digest::from_hex(&core.sha256)?;
            let size = core.bytes.len() as u64;
            let config = Descriptor::new(layout::CORE_METADATA_MEDIA_TYPE, digest, size);
            (config, core.bytes.clone())
        }
        None => (Descriptor::empty_config(), Bytes::from_static(b"{}")),
    };
    let manifest = layout::file_manifest(
        profile,
        config.clone(),
        file.blob.clone(),
        file.facts.size,
        &file.facts.created,
        file.labels.clone(),
    );
    let manifest = push_manifest(oci, repo, &manifest, &config, config_bytes).await?;
    Ok((manifest, stored_metadata))
}

/// Pushes the config blob, then the file's manifest. The distribution registry briefly
/// reports a blob as unknown while a concurrent upload commits the same bytes (the empty
/// config is shared by many files), so a manifest refused for that is pushed again.
async fn push_manifest(
    oci: &Oci,
    repo: &str,
    manifest: &ImageManifest,
    config: &Descriptor,
    config_bytes: Bytes,
) -> Result<Descriptor, Error> {
    const ATTEMPTS: u32 = 4;
    let mut attempt = 1;
    loop {
        oci.push_blob(repo, &config.digest, config_bytes.clone())
            .await?;
        match oci.put_image_manifest(repo, manifest).await {
            Err(err)
                if attempt < ATTEMPTS
                    && matches!(
                        err.code(),
                        Some("DIGEST_INVALID" | "MANIFEST_BLOB_UNKNOWN" | "BLOB_UNKNOWN")
                    ) =>
            {
                tracing::debug!(%repo, attempt, error = %err, "manifest refused; pushing again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            result => return Ok(result?),
        }
    }
}
