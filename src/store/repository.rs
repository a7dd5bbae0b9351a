//! One caller's handle on one project's repository, built once per request from the route:
//! the registry client acting as the caller, the repository's name, the project's name and
//! its key in the caches. Every store operation a handler needs is a method of it, defined
//! beside what it does (`reads.rs`, `listing.rs`, `resolve.rs`, `write_window.rs`,
//! `upload.rs`, `publish.rs`, `delete.rs`); here are the ones that only ask the registry.

use std::sync::Arc;

use bytes::Bytes;
use pyoci_basic_auth::Credentials;
use pyoci_oci::{Digest, OciError};

use super::shared::{Oci, Store};
use crate::{
    cache::Project,
    error::Error,
    fallback::{FallbackSettings, Verdict},
    package::ProjectName,
    route::Target,
};

/// The largest core metadata file read for a description.
const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// A project's repository, as one caller sees it. Cheap to clone.
#[derive(Clone)]
pub struct Repository {
    pub(super) store: Arc<Store>,
    pub(super) oci: Oci,
    name: ProjectName,
    /// `<namespace>/<project with - as _>`, as the original PyOCI names it.
    pub(super) path: String,
    /// The repository's key in the caches.
    pub(super) key: Project,
}

impl Store {
    /// The repository of project `name` under `target`, as the caller sees it.
    pub fn repository(
        self: &Arc<Self>,
        target: &Target,
        name: ProjectName,
        credentials: Credentials,
    ) -> Repository {
        Repository::new(
            Arc::clone(self),
            self.oci(target, credentials),
            target,
            name,
        )
    }
}

impl Repository {
    fn new(store: Arc<Store>, oci: Oci, target: &Target, name: ProjectName) -> Self {
        let path = format!("{}/{}", target.namespace, name.oci_name());
        let key = Project::new(oci.registry(), &path);
        Repository {
            store,
            oci,
            name,
            path,
            key,
        }
    }

    pub fn name(&self) -> &ProjectName {
        &self.name
    }

    /// The OCI repository: `<namespace>/<project with - as _>`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The registry client, acting as the caller.
    pub fn oci(&self) -> &Oci {
        &self.oci
    }

    /// The repository's key in the caches (pages are kept per repository and caller).
    pub fn cache_key(&self) -> &Project {
        &self.key
    }

    /// Whether the registry lets the caller push to the repository: an upload session needs
    /// push rights and stores nothing, and is cancelled at once. For a change judged as the
    /// write it asks for even when it turns out to write nothing.
    pub async fn check_push_rights(&self) -> Result<(), Error> {
        self.oci.start_blob_upload(&self.path).await?.cancel().await;
        Ok(())
    }

    /// The core metadata file stored under `sha256` (a wheel's METADATA); `None` when it
    /// cannot be read or is over its bound (a page works without it).
    pub async fn core_metadata(&self, sha256: &str) -> Option<Bytes> {
        let digest = Digest::from_hex(sha256).ok()?;
        let blob = self.oci.get_blob(&self.path, &digest).await.ok()?;
        pyoci_oci::read_body(blob.into_body(), MAX_METADATA_BYTES, "METADATA file")
            .await
            .ok()
    }

    /// Whether the registry said less than a TTL ago that it has no such repository (see
    /// [`Repository::lacks_repository`]), so a request for it may go straight to the mirror.
    pub fn known_lacking(&self) -> bool {
        !self.oci.bypasses_caches() && self.store.caches.lacking(&self.key)
    }

    /// Asks the registry again whether it knows the repository: `Ok(true)` only for a
    /// definite "no such repository" ([`FallbackSettings::verdict`]); `Ok(false)` when it
    /// knows the repository or answers 404 otherwise (the caller's own 404 stands); the
    /// registry's error for anything else. Re-asking costs one request on this path only,
    /// and bases the decision on the registry's own answer rather than on how a handler
    /// summarized an earlier one. A "no such repository" is kept like a tag, for the
    /// listing caches' lifetime, and dropped by a write to the project through this process
    /// or an event about it.
    pub async fn lacks_repository(&self, settings: &FallbackSettings) -> Result<bool, Error> {
        if self.known_lacking() {
            return Ok(true);
        }
        let read = self.store.caches.snapshot();
        let listing = self.oci.list_tags(&self.path).await;
        match (settings.verdict(self.oci.registry(), &listing), listing) {
            (Verdict::Unknown, _) => {
                self.store.caches.store_lacking(&self.key, read);
                Ok(true)
            }
            (Verdict::Private, Ok(_) | Err(OciError::NotFound { .. })) => Ok(false),
            (Verdict::Private, Err(err)) => Err(Error::Registry(err)),
        }
    }
}
