//! One extractor per distribution kind, behind one push-style interface.

use crate::sdist::SdistReader;
use crate::wheel::WheelReader;
use crate::{DistributionKind, ExpectedRelease, MetadataLimits};

// Defined beside the error, so the readers need nothing from this module (no cycle).
pub(crate) use crate::error::Extracted;

/// Reads a distribution's bytes as they come, until its metadata file is known.
pub(crate) enum Extractor {
    Wheel(WheelReader),
    Sdist(SdistReader),
}

impl Extractor {
    pub(crate) fn new(
        kind: DistributionKind,
        expected: Option<ExpectedRelease>,
        limits: MetadataLimits,
    ) -> Self {
        match kind {
            DistributionKind::Wheel => Self::Wheel(WheelReader::new(expected, limits)),
            DistributionKind::Sdist => Self::Sdist(SdistReader::new(limits)),
        }
    }

    /// Reads the next chunk; returns the result once it is known (later chunks are then not
    /// needed).
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Option<Extracted> {
        match self {
            Self::Wheel(reader) => reader.feed(chunk),
            Self::Sdist(reader) => reader.feed(chunk),
        }
    }

    /// The result when the stream ends before [`Extractor::feed`] gave one.
    pub(crate) fn finish(self) -> Extracted {
        match self {
            Self::Wheel(reader) => reader.finish(),
            Self::Sdist(reader) => reader.finish(),
        }
    }
}
