use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::Stream;
use pin_project::pin_project;
use sha2::{Digest as _, Sha256};

use crate::Digest;

/// A stream of byte chunks that computes their sha256 and total size as they pass through.
///
/// Wrap a body with it before handing it to [`BlobUpload::send_stream`](crate::BlobUpload::send_stream);
/// once the stream has ended, [`Sha256Handle::result`] holds the digest to commit (or to
/// compare with the one the client declared). Nothing is buffered.
#[pin_project]
pub struct Sha256Stream<S> {
    #[pin]
    inner: S,
    hasher: Option<Sha256>,
    size: u64,
    handle: Sha256Handle,
}

/// The digest and size of everything a [`Sha256Stream`] let through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamDigest {
    /// sha256 of all chunks.
    pub digest: Digest,
    /// Total number of bytes.
    pub size: u64,
}

/// Shared access to a [`Sha256Stream`]'s result, kept by the caller after the stream itself
/// was moved into a request body.
#[derive(Clone, Debug, Default)]
pub struct Sha256Handle(Arc<Mutex<Option<StreamDigest>>>);

impl Sha256Handle {
    /// The digest and size, once the stream has ended without error; `None` before that,
    /// or if the stream failed.
    pub fn result(&self) -> Option<StreamDigest> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }

    fn set(&self, result: StreamDigest) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(result);
        }
    }
}

impl<S> Sha256Stream<S> {
    /// Wraps `inner`; returns the stream and the handle that will hold its digest.
    pub fn new(inner: S) -> (Sha256Stream<S>, Sha256Handle) {
        let handle = Sha256Handle::default();
        let stream = Sha256Stream {
            inner,
            hasher: Some(Sha256::new()),
            size: 0,
            handle: handle.clone(),
        };
        (stream, handle)
    }

    /// Another handle to this stream's result.
    pub fn handle(&self) -> Sha256Handle {
        self.handle.clone()
    }
}

impl<S, T, E> Stream for Sha256Stream<S>
where
    S: Stream<Item = Result<T, E>>,
    T: AsRef<[u8]>,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = match this.inner.poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        match &item {
            Some(Ok(chunk)) => {
                let chunk = chunk.as_ref();
                if let Some(hasher) = this.hasher.as_mut() {
                    hasher.update(chunk);
                }
                *this.size += chunk.len() as u64;
            }
            // A failed stream has no digest: drop the hasher so `result` stays `None`.
            Some(Err(_)) => *this.hasher = None,
            None => {
                if let Some(hasher) = this.hasher.take() {
                    this.handle.set(StreamDigest {
                        digest: Digest::from_sha256(hasher.finalize().into()),
                        size: *this.size,
                    });
                }
            }
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::{stream, StreamExt};

    #[tokio::test]
    async fn hashes_and_counts_what_passes() {
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"hello ")),
            Ok(Bytes::new()),
            Ok(Bytes::from_static(b"world")),
        ];
        let (hashing, handle) = Sha256Stream::new(stream::iter(chunks));
        assert_eq!(handle.result(), None);
        let passed: Vec<Bytes> = hashing.map(|chunk| chunk.unwrap()).collect().await;
        assert_eq!(passed.concat(), b"hello world");
        assert_eq!(
            handle.result(),
            Some(StreamDigest {
                digest: Digest::sha256_of(b"hello world"),
                size: 11
            })
        );
    }

    #[tokio::test]
    async fn a_failed_stream_has_no_digest() {
        let chunks = vec![
            Ok(Bytes::from_static(b"hello")),
            Err(std::io::Error::other("client went away")),
        ];
        let (hashing, handle) = Sha256Stream::new(stream::iter(chunks));
        let items: Vec<_> = hashing.collect().await;
        assert_eq!(items.len(), 2);
        assert_eq!(handle.result(), None);
    }
}
