use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{future, Stream, StreamExt};
use http::header::{CONTENT_RANGE, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};
use tower::BoxError;
use tracing::debug;

use pyoci_budget::RequestClass;

use crate::blobs::blob_name;
use crate::client::RegistryHttp;
use crate::error::check;
use crate::names::normalize_repository;
use crate::registry::Target;
use crate::{Descriptor, Digest, OciClient, OciError};

/// An open blob upload session, for files too big to hold in memory.
///
/// [`OciClient::start_blob_upload`] opens it with a small `POST` (which also lets the token
/// layer obtain a push token before any unreplayable body goes out),
/// [`send_stream`](Self::send_stream) sends data as one chunked `PATCH` (or
/// [`send_chunks`](Self::send_chunks) as several `PATCH`es with `Content-Range`),
/// [`commit`](Self::commit) seals it under its digest, [`cancel`](Self::cancel) abandons it.
pub struct BlobUpload<S> {
    client: OciClient<S>,
    repository: String,
    location: Target,
    uploaded: u64,
    /// The registry's `OCI-Chunk-Min-Bytes`, if it sent one.
    chunk_min: Option<u64>,
}

/// A blob the registry now holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedBlob {
    /// The digest the registry verified.
    pub digest: Digest,
    /// The number of bytes sent.
    pub size: u64,
}

impl CommittedBlob {
    /// A descriptor of this blob with `media_type`, e.g. for a manifest's layer.
    pub fn descriptor(&self, media_type: impl Into<String>) -> Descriptor {
        Descriptor::new(media_type, self.digest.clone(), self.size)
    }
}

impl<S> fmt::Debug for BlobUpload<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobUpload")
            .field("repository", &self.repository)
            .field("uploaded", &self.uploaded)
            .finish_non_exhaustive()
    }
}

impl<S: RegistryHttp> OciClient<S> {
    /// Opens an upload session in `repository` for a streamed blob.
    pub fn start_blob_upload(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<BlobUpload<S>, OciError>> + Send + 'static {
        let client = self.clone();
        let repository = normalize_repository(repository);
        async move {
            let repository = repository?;
            let (location, chunk_min) = client.open_upload_session(&repository).await?;
            Ok(BlobUpload {
                client,
                repository,
                location,
                uploaded: 0,
                chunk_min,
            })
        }
    }
}

impl<S: RegistryHttp> BlobUpload<S> {
    /// Bytes sent so far.
    pub fn uploaded(&self) -> u64 {
        self.uploaded
    }

    /// Sends `stream` as one `PATCH` with a chunked body, never holding more than a chunk in
    /// memory. If the stream fails (the uploading client went away), the result is
    /// [`OciError::Body`]; on any error except an unreachable registry the session is
    /// cancelled, as it cannot be used any more.
    ///
    /// A failing stream ends the `PATCH` body cleanly instead of breaking the request: the
    /// registry then answers with the upload's current location, and only a cancel sent there
    /// removes the partial data. (The distribution registry refuses requests to an older
    /// location of the session, "upload resumed at wrong offset", and keeps the data.)
    pub async fn send_stream<St, E>(mut self, stream: St) -> Result<BlobUpload<S>, OciError>
    where
        St: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let sent = Arc::new(AtomicU64::new(0));
        let body_failure: Arc<Mutex<Option<String>>> = Arc::default();
        let body = {
            let sent = Arc::clone(&sent);
            let body_failure = Arc::clone(&body_failure);
            let until_failure = stream.scan((), move |(), item| {
                let chunk = match item {
                    Ok(chunk) => {
                        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        Some(Ok::<Bytes, BoxError>(chunk))
                    }
                    Err(error) => {
                        let error: BoxError = error.into();
                        if let Ok(mut slot) = body_failure.lock() {
                            *slot = Some(error.to_string());
                        }
                        None
                    }
                };
                future::ready(chunk)
            });
            reqwest::Body::wrap_stream(until_failure)
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        // Its own budget: it lasts as long as the uploading client takes, and must not keep
        // reads and index writes from finding a slot.
        let client = self
            .client
            .clone()
            .with_extension(RequestClass::StreamedUpload);
        let result = client
            .send(Method::PATCH, &self.location, headers, body)
            .await;
        let failure = body_failure.lock().ok().and_then(|mut slot| slot.take());
        let outcome = match result {
            Err(error) if failure.is_none() => return Err(error),
            Err(error) => Err(error),
            Ok(response) => {
                let what = format!("upload session in {}", self.repository);
                match check(&Method::PATCH, response, &what).await {
                    Ok(response) => self.client.location_of(&response),
                    Err(error) => Err(error),
                }
            }
        };
        match (failure, outcome) {
            (None, Ok(location)) => {
                self.location = location;
                self.uploaded += sent.load(Ordering::Relaxed);
                Ok(self)
            }
            (Some(reason), outcome) => {
                if let Ok(location) = outcome {
                    self.location = location;
                }
                self.cancel().await;
                Err(OciError::Body(reason))
            }
            (None, Err(error)) => {
                self.cancel().await;
                Err(error)
            }
        }
    }

    /// Sends `stream` as `PATCH`es of `chunk_size` bytes each (raised to the registry's
    /// `OCI-Chunk-Min-Bytes`; the last may be shorter), each with `Content-Range`, for
    /// registries behind a proxy that limits request bodies. Each chunk is held in memory
    /// until sent, so it can be sent again: a token that expires during a long upload is
    /// renewed between chunks by the token layer. Errors as [`send_stream`](Self::send_stream).
    pub async fn send_chunks<St, E>(
        mut self,
        stream: St,
        chunk_size: u64,
    ) -> Result<BlobUpload<S>, OciError>
    where
        St: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let chunk_size = chunk_size.max(self.chunk_min.unwrap_or(0)).max(1);
        let chunk_size = usize::try_from(chunk_size).unwrap_or(usize::MAX);
        let mut stream = std::pin::pin!(stream);
        let mut pending = BytesMut::new();
        loop {
            let sent = match stream.next().await {
                Some(Ok(bytes)) => {
                    pending.extend_from_slice(&bytes);
                    let mut sent = Ok(());
                    while sent.is_ok() && pending.len() >= chunk_size {
                        let chunk = pending.split_to(chunk_size).freeze();
                        sent = self.send_chunk(chunk).await;
                    }
                    sent
                }
                Some(Err(error)) => Err(OciError::Body(error.into().to_string())),
                None if pending.is_empty() => return Ok(self),
                None => {
                    let last = std::mem::take(&mut pending).freeze();
                    match self.send_chunk(last).await {
                        Ok(()) => return Ok(self),
                        Err(error) => Err(error),
                    }
                }
            };
            if let Err(error) = sent {
                if !matches!(error, OciError::Unreachable(_)) {
                    self.cancel().await;
                }
                return Err(error);
            }
        }
    }

    /// One `PATCH` of `chunk` at the current offset.
    async fn send_chunk(&mut self, chunk: Bytes) -> Result<(), OciError> {
        let length = chunk.len() as u64;
        let range = format!("{}-{}", self.uploaded, self.uploaded + length - 1);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(
            CONTENT_RANGE,
            HeaderValue::from_str(&range)
                .map_err(|_| OciError::InvalidInput(format!("bad range {range}")))?,
        );
        let response = self
            .client
            .send(
                Method::PATCH,
                &self.location,
                headers,
                reqwest::Body::from(chunk),
            )
            .await?;
        let what = format!("upload session in {}", self.repository);
        let response = check(&Method::PATCH, response, &what).await?;
        self.location = self.client.location_of(&response)?;
        self.uploaded += length;
        Ok(())
    }

    /// Seals the upload as blob `digest` (`PUT <location>&digest=`); the registry verifies
    /// the digest (a mismatch is [`OciError::Rejected`] with code `DIGEST_INVALID`, and
    /// nothing is stored).
    pub async fn commit(self, digest: &Digest) -> Result<CommittedBlob, OciError> {
        let target = self.location.with_query_param("digest", digest.as_str())?;
        let response = self
            .client
            .send(
                Method::PUT,
                &target,
                HeaderMap::new(),
                reqwest::Body::default(),
            )
            .await?;
        let what = blob_name(&self.repository, digest);
        match check(&Method::PUT, response, &what).await {
            Ok(_) => Ok(CommittedBlob {
                digest: digest.clone(),
                size: self.uploaded,
            }),
            Err(error) => {
                if matches!(error, OciError::Rejected { .. }) {
                    self.cancel().await;
                }
                Err(error)
            }
        }
    }

    /// Abandons the upload (`DELETE <location>`), so the registry keeps nothing. Best effort:
    /// errors are only logged, as registries also expire abandoned uploads.
    pub fn cancel(self) -> impl Future<Output = ()> + Send + 'static {
        let request = self.client.send(
            Method::DELETE,
            &self.location,
            HeaderMap::new(),
            reqwest::Body::default(),
        );
        let repository = self.repository;
        async move {
            match request.await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    debug!(%repository, status = response.status().as_u16(), "cancelling an upload failed")
                }
                Err(error) => debug!(%repository, %error, "cancelling an upload failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{alice, requests, respond, stub_client, Recorded};
    use crate::Sha256Stream;
    use futures_util::stream;
    use http::Response;

    const FIRST: &str = "https://registry.test/v2/acme/x/blobs/uploads/u1?_state=one";
    const SECOND: &str = "/v2/acme/x/blobs/uploads/u1?_state=two";

    fn registry(request: &Recorded) -> Result<Response<reqwest::Body>, BoxError> {
        match request.method {
            Method::POST => respond(202, &[("location", FIRST)], ""),
            Method::PATCH => respond(202, &[("location", SECOND), ("range", "0-9")], ""),
            Method::PUT
                if request
                    .uri
                    .contains(&Digest::sha256_of(b"0123456789").to_string()) =>
            {
                respond(201, &[], "")
            }
            Method::PUT => respond(
                400,
                &[],
                r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#,
            ),
            Method::DELETE => respond(204, &[], ""),
            _ => respond(500, &[], ""),
        }
    }

    fn chunks(
        parts: &[&'static str],
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        stream::iter(
            parts
                .iter()
                .map(|part| Ok(Bytes::from_static(part.as_bytes())))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn streams_with_patch_then_commits_with_put() {
        let (client, log) = stub_client(registry);
        let (hashing, handle) = Sha256Stream::new(chunks(&["0123", "456", "789"]));
        let upload = client.start_blob_upload("Acme/X").await.unwrap();
        let upload = upload.send_stream(hashing).await.unwrap();
        assert_eq!(upload.uploaded(), 10);
        let computed = handle.result().unwrap();
        let blob = upload.commit(&computed.digest).await.unwrap();
        assert_eq!(blob.digest, Digest::sha256_of(b"0123456789"));
        assert_eq!(blob.size, 10);
        assert_eq!(blob.descriptor("application/pyoci.package.v1").size, 10);

        let seen = requests(&log);
        let calls: Vec<_> = seen
            .iter()
            .map(|r| (r.method.clone(), r.uri.clone()))
            .collect();
        assert_eq!(
            calls,
            [
                (
                    Method::POST,
                    "https://registry.test/v2/acme/x/blobs/uploads/".to_owned()
                ),
                (Method::PATCH, FIRST.to_owned()),
                (
                    Method::PUT,
                    format!("https://registry.test{SECOND}&digest={}", blob.digest)
                ),
            ]
        );
        let patch = &seen[1];
        assert!(
            patch.streamed,
            "the PATCH body must be a stream, not a buffer"
        );
        assert_eq!(patch.body, "0123456789");
        assert!(patch.headers.get("content-range").is_none());
        let class = |request: &Recorded| request.extensions.get::<RequestClass>().copied();
        assert_eq!(
            class(patch),
            Some(RequestClass::StreamedUpload),
            "the streamed body draws from the upload budget"
        );
        assert_eq!(class(&seen[0]), None);
        assert_eq!(
            class(&seen[2]),
            None,
            "only the streamed PATCH is an upload"
        );
        assert!(seen[2].body.is_empty());
        assert!(seen.iter().all(|r| r.credentials == Some(alice())));
    }

    #[tokio::test]
    async fn chunks_carry_content_range_and_honour_the_registry_minimum() {
        let (client, log) = stub_client(|request| match request.method {
            Method::POST => respond(
                202,
                &[("location", FIRST), ("oci-chunk-min-bytes", "4")],
                "",
            ),
            // ECR answers chunks with 201 (openai/tart#273).
            Method::PATCH => respond(201, &[("location", SECOND)], ""),
            _ => respond(500, &[], ""),
        });
        let upload = client.start_blob_upload("acme/x").await.unwrap();
        let upload = upload
            .send_chunks(chunks(&["01", "2345", "6789"]), 3)
            .await
            .unwrap();
        assert_eq!(upload.uploaded(), 10);
        let patches: Vec<_> = requests(&log)
            .into_iter()
            .filter(|request| request.method == Method::PATCH)
            .map(|request| {
                let range = request.headers["content-range"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                (
                    range,
                    String::from_utf8_lossy(&request.body).into_owned(),
                    request.streamed,
                )
            })
            .collect();
        let expected = [("0-3", "0123"), ("4-7", "4567"), ("8-9", "89")]
            .map(|(range, body)| (range.to_owned(), body.to_owned(), false));
        assert_eq!(
            patches, expected,
            "3-byte chunks raised to the 4-byte minimum"
        );
    }

    #[tokio::test]
    async fn an_empty_stream_sends_no_chunk() {
        let (client, log) = stub_client(registry);
        let upload = client.start_blob_upload("acme/x").await.unwrap();
        let upload = upload.send_chunks(chunks(&[]), 3).await.unwrap();
        assert_eq!(upload.uploaded(), 0);
        assert!(requests(&log).iter().all(|r| r.method != Method::PATCH));
    }

    #[tokio::test]
    async fn a_wrong_digest_is_rejected_and_the_upload_cancelled() {
        let (client, log) = stub_client(registry);
        let upload = client.start_blob_upload("acme/x").await.unwrap();
        let upload = upload.send_stream(chunks(&["0123456789"])).await.unwrap();
        let error = upload
            .commit(&Digest::sha256_of(b"other"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("DIGEST_INVALID"), "{error:?}");
        let last = requests(&log).pop().unwrap();
        assert_eq!(last.method, Method::DELETE);
        assert_eq!(last.uri, format!("https://registry.test{SECOND}"));
    }

    #[tokio::test]
    async fn cancel_deletes_the_location_and_ignores_errors() {
        let (client, log) = stub_client(|request| match request.method {
            Method::POST => respond(202, &[("location", FIRST)], ""),
            _ => respond(500, &[], "boom"),
        });
        let upload = client.start_blob_upload("acme/x").await.unwrap();
        upload.cancel().await;
        let last = requests(&log).pop().unwrap();
        assert_eq!((last.method, last.uri.as_str()), (Method::DELETE, FIRST));
    }

    #[tokio::test]
    async fn a_failing_body_is_a_body_error() {
        let (client, log) = stub_client(registry);
        let failing = stream::iter(vec![
            Ok(Bytes::from_static(b"0123")),
            Err(std::io::Error::other("client disconnected")),
        ]);
        let upload = client.start_blob_upload("acme/x").await.unwrap();
        let error = upload.send_stream(failing).await.unwrap_err();
        match &error {
            OciError::Body(reason) => assert_eq!(reason, "client disconnected"),
            other => panic!("expected Body, got {other:?}"),
        }
        assert_eq!(error.status_hint(), http::StatusCode::BAD_REQUEST);
        let seen = requests(&log);
        let patch = &seen[1];
        assert_eq!(patch.method, Method::PATCH);
        assert_eq!(
            patch.body, "0123",
            "the body ends cleanly where the stream failed"
        );
        let last = seen.last().unwrap();
        assert_eq!(
            (last.method.clone(), last.uri.clone()),
            (Method::DELETE, format!("https://registry.test{SECOND}")),
            "the broken session is cancelled at the location the PATCH answered with"
        );
    }
}
