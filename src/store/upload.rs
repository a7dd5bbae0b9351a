//! Sending an uploaded file's bytes to the registry: in one streamed `PATCH`, or in chunks
//! to a registry that needs them (listed, or learned from a 413). Nothing of it is visible
//! until it is published (`publish.rs`).

use bytes::Bytes;
use futures_util::Stream;
use pyoci_oci::BlobUpload;
use tower::BoxError;

use super::{repository::Repository, shared::RegistryService};
use crate::{error::Error, profile::Profile};

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
