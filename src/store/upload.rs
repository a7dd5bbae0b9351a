//! Sending an uploaded file's bytes to the registry: in one streamed `PATCH`, or in chunks
//! to a registry that needs them (listed, or learned from a 413). Nothing of it is visible
//! until it is published (`publish.rs`).

use bytes::Bytes;
use futures_util::Stream;
use pyoci_metadata::{CoreMetadata, MetadataHandle};
use pyoci_oci::BlobUpload;
use tower::BoxError;

use super::{repository::Repository, shared::RegistryService};
use crate::{
    error::Error,
    package::{DistFilename, DistKind, PackageVersion, ProjectName},
    profile::Profile,
};

/// A blob upload session in the repository.
pub type FileUpload = BlobUpload<RegistryService>;

impl Repository {
    /// Opens an upload session. It needs push rights, so the registry judges the caller's
    /// right to write before anything else is read or sent.
    pub async fn start_upload(&self) -> Result<FileUpload, Error> {
        Ok(self.oci.start_blob_upload(&self.path).await?)
    }

    /// Sends `file` into `upload`: in chunks to a registry that needs them, else as one
    /// stream. When sending fails, `client_failure` says whether the client's own body
    /// broke (stalled, cut, too large), which is then the error; a streamed body the
    /// registry refused as too large (413) cannot be sent again, so the next upload to that
    /// registry goes in chunks and this one answers 503, to be tried again.
    pub async fn send_file<St, E>(
        &self,
        upload: FileUpload,
        file: St,
        client_failure: impl FnOnce() -> Option<Error>,
    ) -> Result<FileUpload, Error>
    where
        St: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let (rules, registry) = (&self.store.rules, self.oci.registry());
        let chunk_bytes = rules.upload_chunk_bytes(registry);
        let sent = match chunk_bytes {
            Some(chunk_bytes) => upload.send_chunks(file, chunk_bytes).await,
            None => upload.send_stream(file).await,
        };
        sent.map_err(|err| match client_failure() {
            Some(failure) => failure,
            None if chunk_bytes.is_none() && rules.fall_back_to_chunks(registry, &err) => {
                Error::Busy(format!(
                    "{err}; the registry, or a proxy in front of it, limits request sizes: \
                     PyOCI uploads to it in chunks from now on, upload again"
                ))
            }
            None => err.into(),
        })
    }

    /// The media types the repository's registry is written with now.
    pub fn write_profile(&self) -> Profile {
        self.store.rules.profile(self.oci.registry())
    }
}

/// The file's own core metadata: a wheel's `.dist-info/METADATA` or an sdist's `PKG-INFO`,
/// which must be readable and name the same project and version as the filename. Anything
/// else is not a distribution (random bytes, an empty file, a zip without metadata), and is
/// refused, whatever the registry's profile, before anything becomes visible.
pub fn checked_core_metadata(
    metadata: &MetadataHandle,
    filename: &DistFilename,
) -> Result<CoreMetadata, Error> {
    let expected = match filename.kind() {
        DistKind::Wheel => format!(
            "a wheel must hold `{}-{}.dist-info/METADATA`",
            filename.name().oci_name(),
            filename.version()
        ),
        DistKind::Sdist => format!(
            "an sdist must be a gzipped tar holding `{}-{}/PKG-INFO`",
            filename.name().oci_name(),
            filename.version()
        ),
    };
    let not_a_distribution = |why: String| {
        Error::BadRequest(format!(
            "{filename} is not a valid distribution: {why}; {expected} that names the project \
             and version. Nothing was stored"
        ))
    };
    let core = match metadata.result() {
        Ok(Some(core)) => core,
        Ok(None) => {
            return Err(not_a_distribution(
                "its core metadata file is missing".into(),
            ))
        }
        Err(err) => {
            return Err(not_a_distribution(format!(
                "its core metadata cannot be read ({err})"
            )))
        }
    };
    for (field, value) in [
        ("Metadata-Version", &core.metadata_version),
        ("Name", &core.name),
        ("Version", &core.version),
    ] {
        if value.is_none() {
            return Err(not_a_distribution(format!(
                "its core metadata has no `{field}` field"
            )));
        }
    }
    if let Some(name) = &core.name {
        if ProjectName::parse(name).ok().as_ref() != Some(filename.name()) {
            return Err(Error::BadRequest(format!(
                "the file's metadata names the project `{name}`, but the file is {filename}"
            )));
        }
    }
    if let Some(version) = &core.version {
        let same = PackageVersion::parse(version)
            .is_ok_and(|version| version.tag() == filename.version().tag());
        if !same {
            return Err(Error::BadRequest(format!(
                "the file's metadata says version `{version}`, but the file is {filename}"
            )));
        }
    }
    Ok(core)
}
