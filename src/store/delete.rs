//! Deleting a file or a whole version, and then the manifests nothing names any more, so the
//! registry's garbage collection may reclaim their blobs. Registries that refuse deletes
//! keep those manifests, harmlessly.

use super::{
    listing_document,
    reads::read_index,
    repository::Repository,
    write_window::{self, EditOutcome, IndexEdit},
};
use crate::{
    error::Error,
    package::{DistFilename, PackageVersion},
};

impl Repository {
    /// Takes the file out of its version's index; the version's other files stay. When it
    /// was the last file, the index itself is deleted, which removes the tag. `false` when
    /// there was no such file.
    pub async fn delete_file(&self, file: &DistFilename) -> Result<bool, Error> {
        let edit = IndexEdit::RemoveFile {
            architecture: file.architecture().to_owned(),
        };
        let EditOutcome::Removed(removed) = self.edit_index(file.version(), edit).await? else {
            return Ok(false);
        };
        if let Err(err) = self.oci.delete_manifest(&self.path, &removed.digest).await {
            tracing::debug!(repo = %self.path, error = %err, "file manifest left in place");
        }
        Ok(true)
    }

    /// Deletes the version's index, which removes its tag and so the version with all its
    /// files, then the files' manifests. The index goes first: a registry refusing deletes
    /// (405) refuses that, and nothing has changed. The number of files the version held;
    /// `None` when there is no such version.
    pub async fn delete_version(&self, version: &PackageVersion) -> Result<Option<usize>, Error> {
        let (oci, repo) = (&self.oci, self.path.as_str());
        // Uploads to this version in this process wait until the version is gone.
        let _turn = write_window::version_turn(self, version).await;
        // Listings in this process stop showing the version once this returns.
        let _invalidate = self.store.caches.invalidate_on_drop(self.key.clone());
        let Some((index, digest)) = read_index(oci, repo, version).await? else {
            return Ok(None);
        };
        oci.delete_manifest(repo, &digest).await?;
        // Another writer may have tagged a new index meanwhile (an upload to this version):
        // its entries may name these manifests, so they stay then.
        if read_index(oci, repo, version).await?.is_none() {
            for entry in &index.manifests {
                if let Err(err) = oci.delete_manifest(repo, &entry.digest).await {
                    tracing::debug!(%repo, error = %err, "file manifest left in place");
                }
            }
        }
        listing_document::record_version(self, version).await;
        Ok(Some(index.manifests.len()))
    }
}
