//! The stream adapter that lets a file through while reading its metadata.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use futures_util::Stream;
use pin_project::pin_project;

use crate::extractor::{Extracted, Extractor};
use crate::{CoreMetadata, DistributionKind, ExpectedRelease, MetadataError, MetadataLimits};

/// What [`MetadataHandle::result`] answers.
pub type MetadataResult = Result<Option<CoreMetadata>, MetadataError>;

/// Passes a distribution file's byte stream through unchanged, reading its core metadata
/// file on the way.
///
/// Every item of the inner stream comes out as it went in, in the same poll: the tap never
/// holds chunks back, never fails the stream and never ends it early. The reading is done
/// inline on each chunk (parsing headers, copying or inflating the metadata file, inflating
/// entries whose end is only known that way), so memory stays at the metadata file (capped
/// by [`MetadataLimits`]) plus a few tens of KiB of decoder state. Once the metadata is known,
/// or the reader gives up, later chunks pass without any work.
///
/// The result appears in the [`MetadataHandle`] returned with the tap.
#[pin_project]
pub struct MetadataTap<S> {
    #[pin]
    inner: S,
    /// `None` once the result is published.
    extractor: Option<Extractor>,
    handle: MetadataHandle,
}

impl<S> MetadataTap<S> {
    /// Wraps `stream`, a file of `kind`, with default [`MetadataLimits`]; `expected` (from the
    /// filename) picks the wheel's `.dist-info` directory.
    pub fn new(
        stream: S,
        kind: DistributionKind,
        expected: Option<ExpectedRelease>,
    ) -> (Self, MetadataHandle) {
        Self::with_limits(stream, kind, expected, MetadataLimits::default())
    }

    /// Like [`MetadataTap::new`], with explicit limits.
    pub fn with_limits(
        stream: S,
        kind: DistributionKind,
        expected: Option<ExpectedRelease>,
        limits: MetadataLimits,
    ) -> (Self, MetadataHandle) {
        let handle = MetadataHandle::default();
        let tap = Self {
            inner: stream,
            extractor: Some(Extractor::new(kind, expected, limits)),
            handle: handle.clone(),
        };
        (tap, handle)
    }
}

impl<S: fmt::Debug> fmt::Debug for MetadataTap<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataTap")
            .field("inner", &self.inner)
            .field("reading", &self.extractor.is_some())
            .finish()
    }
}

impl<S, B, E> Stream for MetadataTap<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    type Item = Result<B, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = ready!(this.inner.poll_next(cx));
        let extracted = match (&item, this.extractor.as_mut()) {
            (_, None) => None,
            (Some(Ok(chunk)), Some(extractor)) => extractor.feed(chunk.as_ref()),
            (Some(Err(_)), Some(_)) => Some(Err(MetadataError::StreamFailed)),
            (None, Some(_)) => this.extractor.take().map(Extractor::finish),
        };
        if let Some(extracted) = extracted {
            *this.extractor = None;
            this.handle.publish(extracted);
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Where a [`MetadataTap`]'s result appears.
///
/// Cheap to clone; every clone sees the same result.
#[derive(Debug, Clone, Default)]
pub struct MetadataHandle {
    result: Arc<Mutex<Option<MetadataResult>>>,
}

impl MetadataHandle {
    /// The metadata of the file, `Ok(None)` when the archive has no metadata file where the
    /// kind puts it, or why it could not be read.
    ///
    /// Known once the tap has passed on the end of its stream (often earlier: as soon as the
    /// metadata is read, or the reader gives up); before that,
    /// [`MetadataError::NotFinished`].
    pub fn result(&self) -> MetadataResult {
        match self.result.lock() {
            Ok(result) => result.clone().unwrap_or(Err(MetadataError::NotFinished)),
            Err(poisoned) => poisoned
                .into_inner()
                .clone()
                .unwrap_or(Err(MetadataError::NotFinished)),
        }
    }

    fn publish(&self, extracted: Extracted) {
        let result = extracted.and_then(|bytes| bytes.map(CoreMetadata::from_bytes).transpose());
        let mut slot = self
            .result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(result);
    }
}

#[cfg(test)]
mod tests;
