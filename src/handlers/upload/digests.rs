//! Hashing an uploaded file while it streams to the registry, so the proxy never holds it.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use blake2::{digest::consts::U32, Blake2b};
use bytes::Bytes;
use futures_util::Stream;
use md5::Md5;
use pin_project::pin_project;
use sha2::{Digest as _, Sha256};

use pyoci_body_timeout::is_idle_timeout;

use crate::error::{body_timed_out, exceeded_body_limit, Error};

/// The digests the upload API lets a client declare, computed from the bytes received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    pub sha256: String,
    pub md5: String,
    pub blake2_256: String,
    pub size: u64,
}

#[derive(Default)]
struct Hashers {
    sha256: Sha256,
    md5: Md5,
    blake2_256: Blake2b<U32>,
    size: u64,
}

impl Hashers {
    fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.md5.update(chunk);
        self.blake2_256.update(chunk);
        self.size += chunk.len() as u64;
    }

    fn finish(self) -> FileDigests {
        FileDigests {
            sha256: hex(&self.sha256.finalize()),
            md5: hex(&self.md5.finalize()),
            blake2_256: hex(&self.blake2_256.finalize()),
            size: self.size,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How the stream ended.
#[derive(Clone, Debug, Default)]
enum Outcome {
    #[default]
    Running,
    Complete(FileDigests),
    /// The client's body failed; kept so the client is told, not blamed on the registry.
    Failed {
        message: String,
        cause: BodyFailure,
    },
}

/// Why the client's body failed, which decides the status the client gets.
#[derive(Clone, Copy, Debug)]
enum BodyFailure {
    /// It broke off or was malformed (400).
    Broken,
    /// It grew past `PYOCI_MAX_BODY` (413).
    TooLarge,
    /// It stopped arriving for `PYOCI_BODY_IDLE_TIMEOUT_SECS` (408).
    Stalled,
}

/// Where the digests appear once the stream has ended.
#[derive(Clone, Default)]
pub struct DigestsHandle(Arc<Mutex<Outcome>>);

impl DigestsHandle {
    /// The digests of the whole file, or why there are none.
    pub fn result(&self) -> Result<FileDigests, Error> {
        match self.outcome() {
            Outcome::Complete(digests) => Ok(digests),
            Outcome::Failed { message, cause } => Err(client_error(message, cause)),
            Outcome::Running => Err(Error::BadRequest(
                "the upload's file content ended before it was complete".into(),
            )),
        }
    }

    /// The client's failure, when the file stream ended with one.
    pub fn failure(&self) -> Option<Error> {
        match self.outcome() {
            Outcome::Failed { message, cause } => Some(client_error(message, cause)),
            _ => None,
        }
    }

    fn outcome(&self) -> Outcome {
        self.0
            .lock()
            .map(|outcome| outcome.clone())
            .unwrap_or_default()
    }

    fn set(&self, outcome: Outcome) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = outcome;
        }
    }
}

fn client_error(message: String, cause: BodyFailure) -> Error {
    match cause {
        BodyFailure::TooLarge => Error::TooLarge(format!(
            "the upload is larger than this server accepts (PYOCI_MAX_BODY): {message}"
        )),
        BodyFailure::Stalled => Error::BodyTimedOut(body_timed_out(&message)),
        BodyFailure::Broken => Error::BadRequest(format!("reading the upload failed: {message}")),
    }
}

/// Passes a byte stream through unchanged, hashing it on the way.
///
/// When the client's stream fails (it broke off, grew too large or stalled), the failure is
/// kept in the handle and the stream ends there, cleanly, rather than with the error. The
/// stream feeds a registry upload: ended cleanly, the registry acknowledges what it got and
/// names the upload's new location, where the upload can then be cancelled. Aborted
/// mid-request instead, the distribution registry refuses to cancel it (its state no longer
/// matches the bytes stored) and the partial blob stays in its storage.
#[pin_project]
pub struct DigestingStream<S> {
    #[pin]
    inner: S,
    hashers: Option<Hashers>,
    handle: DigestsHandle,
}

impl<S> DigestingStream<S> {
    /// Wraps `inner`; the handle yields the digests after the last chunk.
    pub fn new(inner: S) -> (Self, DigestsHandle) {
        let handle = DigestsHandle::default();
        let stream = DigestingStream {
            inner,
            hashers: Some(Hashers::default()),
            handle: handle.clone(),
        };
        (stream, handle)
    }
}

impl<S, E> Stream for DigestingStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + 'static,
{
    type Item = Result<Bytes, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if matches!(this.handle.outcome(), Outcome::Failed { .. }) {
            return Poll::Ready(None);
        }
        let item = futures_util::ready!(this.inner.poll_next(cx));
        match &item {
            Some(Ok(chunk)) => {
                if let Some(hashers) = this.hashers.as_mut() {
                    hashers.update(chunk);
                }
            }
            Some(Err(err)) => {
                *this.hashers = None;
                let cause = if exceeded_body_limit(err) {
                    BodyFailure::TooLarge
                } else if is_idle_timeout(err) {
                    BodyFailure::Stalled
                } else {
                    BodyFailure::Broken
                };
                this.handle.set(Outcome::Failed {
                    message: err.to_string(),
                    cause,
                });
                return Poll::Ready(None);
            }
            None => {
                if let Some(hashers) = this.hashers.take() {
                    this.handle.set(Outcome::Complete(hashers.finish()));
                }
            }
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{stream, StreamExt};

    use super::*;

    #[tokio::test]
    async fn hashes_what_passes_through() {
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from("hello ")),
            Ok(Bytes::from("world")),
        ];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks));
        assert!(matches!(handle.result(), Err(Error::BadRequest(_))));
        let passed: Vec<_> = stream.map(|c| c.unwrap()).collect().await;
        assert_eq!(passed.concat(), b"hello world");
        let digests = handle.result().unwrap();
        assert_eq!(
            digests.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(digests.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(
            digests.blake2_256,
            "256c83b297114d201b30179f3f0ef0cace9783622da5974326b436178aeef610"
        );
        assert_eq!(digests.size, 11);
    }

    #[tokio::test]
    async fn a_failed_stream_yields_the_clients_error() {
        let chunks = vec![
            Ok(Bytes::from("partial")),
            Err(std::io::Error::other("client went away")),
        ];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks));
        let passed: Vec<_> = stream.collect().await;
        assert_eq!(
            passed.len(),
            1,
            "the stream ends cleanly after the good chunk"
        );
        assert!(passed[0].is_ok());
        let err = handle.result().unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("client went away"));
        assert!(handle.failure().is_some());
    }

    #[tokio::test]
    async fn a_stalled_body_is_408() {
        let stalled = pyoci_body_timeout::IdleTimeout {
            idle: std::time::Duration::from_secs(60),
        };
        let chunks = vec![
            Ok(Bytes::from("partial")),
            Err(pyoci_upload::UploadError::BodyRead(Box::new(stalled))),
            Ok(Bytes::from("never read")),
        ];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks));
        let passed: Vec<_> = stream.collect().await;
        assert_eq!(passed.len(), 1);
        let err = handle.result().unwrap_err();
        assert_eq!(err.status(), http::StatusCode::REQUEST_TIMEOUT);
        assert!(
            err.to_string().contains("PYOCI_BODY_IDLE_TIMEOUT_SECS"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413() {
        use http_body_util::{BodyExt, Full, Limited};
        let limit_error = Limited::new(Full::new(Bytes::from("too long")), 2)
            .frame()
            .await
            .unwrap()
            .unwrap_err();
        let chunks = vec![Err(pyoci_upload::UploadError::BodyRead(limit_error))];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks));
        let _: Vec<_> = stream.collect().await;
        assert_eq!(
            handle.result().unwrap_err().status(),
            http::StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
