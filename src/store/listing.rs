//! A project's listing: its newest versions and their files, from the listing document
//! where it is kept (`PYOCI_LISTING_DOCUMENT`), else tag by tag.

use super::{
    listing_document, reads,
    repository::Repository,
    stored::{Release, StoredFile},
};
use crate::{cache::Snapshot, error::Error};

impl Repository {
    /// The newest `PYOCI_MAX_VERSIONS` versions (0 = all) and their files, newest first.
    /// Versions whose tag is not a PyOCI index are left out. `read` is taken before: the tag
    /// list, read with the caller's credentials, admits them to the listing caches.
    pub async fn releases(&self, read: Snapshot) -> Result<Vec<Release>, Error> {
        let store = &self.store;
        let indexes = if store.listing_document {
            listing_document::read_indexes(self, read).await?
        } else {
            let versions = self.versions(store.max_versions).await?;
            reads::read_indexes(store, &self.oci, &self.path, versions, read).await?
        };
        Ok(indexes
            .into_iter()
            .map(|(version, index)| Release {
                files: StoredFile::all_in(self.name(), &version, &index),
                version,
            })
            .collect())
    }
}
