//! Where a download's bytes are: a file's index entry and manifest, from the listing caches
//! or from the registry.
//!
//! The caches answer only for a request that then asks the registry for the blob itself
//! with the caller's credentials (the download's blob request, or a blob `HEAD` when no
//! bytes are sent): that request is where the registry judges the caller, so a cached
//! entry never answers a caller the registry would refuse. Reads from the registry fill the
//! same tag and document caches a listing fills, and the manifests by digest.

use std::sync::Arc;

use bytes::Bytes;
use pyoci_oci::{Descriptor, Digest, ImageManifest};

use super::{
    reads::{read_tag, remember_index, version_index, TagContent},
    repository::Repository,
    shared::Oci,
};
use crate::{
    cache::{Caches, Project, TagTarget},
    error::Error,
    layout,
    package::{DistFilename, PackageVersion},
};

impl Repository {
    /// Where a download's bytes are, from the caches or the registry.
    pub fn resolver(&self) -> Resolver<'_> {
        Resolver::new(self)
    }
}

/// Resolves a project's files for one download request, by one caller.
pub struct Resolver<'a> {
    caches: &'a Caches,
    oci: &'a Oci,
    repo: &'a str,
    project: &'a Project,
    /// Off with `PYOCI_CACHE_TTL=0`, and for clients that must bypass caches.
    caching: bool,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(repository: &'a Repository) -> Resolver<'a> {
        let caches = &*repository.store.caches;
        Resolver {
            caches,
            oci: &repository.oci,
            repo: &repository.path,
            project: &repository.key,
            caching: caches.enabled() && !repository.oci.bypasses_caches(),
        }
    }

    /// The index entry of `file` from the caches alone: its version's tag read less than a
    /// TTL ago (and since the last write through this process), and the index it named.
    /// `None` when anything is missing, or the cached index has no such file: only the
    /// registry may say a file does not exist, to a caller it accepts.
    pub fn cached_entry(&self, file: &DistFilename) -> Option<Descriptor> {
        if !self.caching {
            return None;
        }
        let Some(TagTarget::Index(digest)) = self.caches.tag(self.project, &file.version().tag())
        else {
            return None;
        };
        let index = self.caches.document(self.project, &digest)?;
        layout::find_file(&index, file.architecture()).cloned()
    }

    /// The manifest with this digest from the cache alone.
    pub fn cached_manifest(&self, digest: &Digest) -> Option<Arc<ImageManifest>> {
        self.caching
            .then(|| self.caches.manifest(self.project, digest))
            .flatten()
    }

    /// The request's registry client and repository.
    pub fn oci(&self) -> &'a Oci {
        self.oci
    }

    pub fn repo(&self) -> &'a str {
        self.repo
    }

    /// Whether the registry accepted the caller's credentials for this project within the
    /// TTL ([`Caches::accepted`]): content-addressed bytes a page of theirs named may then be
    /// given to them without asking it again.
    pub fn accepted(&self) -> bool {
        self.caching && self.caches.accepted(self.project, self.oci.credentials())
    }

    /// A small blob's bytes from memory. Only for a caller the registry judged: in this
    /// request, or within the TTL ([`Resolver::accepted`]).
    pub fn small_blob(&self, digest: &Digest) -> Option<Bytes> {
        self.caching
            .then(|| self.caches.small_blob(self.project, digest))
            .flatten()
    }

    /// Keeps a small blob's bytes (checked against its digest) for later requests.
    pub fn keep_small_blob(&self, digest: &Digest, bytes: Bytes) {
        if self.caching {
            self.caches.store_small_blob(self.project, digest, bytes);
        }
    }

    /// Drops the cached tag of `version`: what it led to is gone from the registry.
    pub fn forget(&self, version: &PackageVersion) {
        if self.caching {
            self.caches.forget_tag(self.project, &version.tag());
        }
    }

    /// The index entry of `file` as the registry shows it now to the caller (`None`: no
    /// such file), kept for later requests like a listing's reads.
    pub async fn read_entry(&self, file: &DistFilename) -> Result<Option<Descriptor>, Error> {
        let version = file.version();
        let tag = version.tag();
        let read = self.caches.snapshot();
        match read_tag(self.oci, self.repo, version).await? {
            TagContent::Index(index, digest) => {
                let entry = layout::find_file(&index, file.architecture()).cloned();
                if self.caching {
                    remember_index(self.caches, self.project, &tag, read, index, digest);
                }
                Ok(entry)
            }
            other => {
                if self.caching {
                    // As a listing does: nothing to show there.
                    self.caches
                        .store_tag(self.project, &tag, read, TagTarget::Skipped);
                }
                // No entry; a foreign document under the tag is a 409, as for any reader.
                version_index(other, self.repo, version).map(|_| None)
            }
        }
    }

    /// The image manifest `digest`, after [`read_entry`](Self::read_entry) judged the caller
    /// in this request: from the cache (content-addressed, never stale), else read and kept.
    pub async fn read_manifest(&self, digest: &Digest) -> Result<Arc<ImageManifest>, Error> {
        if let Some(manifest) = self.cached_manifest(digest) {
            return Ok(manifest);
        }
        let (manifest, _) = self
            .oci
            .get_image_manifest(self.repo, digest.as_str())
            .await?;
        let manifest = Arc::new(manifest);
        if self.caching {
            self.caches
                .store_manifest(self.project, digest, manifest.clone());
        }
        Ok(manifest)
    }
}
