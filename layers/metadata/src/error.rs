//! The one error type of this crate.

use std::fmt;

/// Why no core metadata could be taken from a distribution file.
///
/// None of these fail the upload itself: the tap passes every byte through whatever happens,
/// and reports this error only through [`MetadataHandle::result`](crate::MetadataHandle::result).
/// A handler that gets one can store the file without a `.metadata` file (resolvers then read
/// the metadata from the file itself) or refuse the upload, as it sees fit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// The result was asked for before the tap saw the end of the stream (the stream is still
    /// being read, or was dropped before its end).
    NotFinished,
    /// The stream itself failed (for example the uploading client went away), so extraction
    /// stopped there.
    StreamFailed,
    /// The stream ended in the middle of the archive.
    Truncated {
        /// What was being read when the bytes ran out.
        reading: &'static str,
    },
    /// The bytes are not a well-formed archive of the expected kind.
    Malformed {
        /// What is wrong, and where.
        detail: String,
    },
    /// An entry is stored in a way this forward-only reader cannot follow.
    Unsupported {
        /// The entry's path inside the archive.
        path: String,
        /// What the reader cannot handle.
        reason: String,
    },
    /// The metadata file is larger than the configured limit.
    TooLarge {
        /// The entry's path inside the archive.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Decompressing the archive produced more bytes than the configured limit (a
    /// decompression bomb, or a very large distribution).
    InflateLimit {
        /// The limit in bytes.
        limit: u64,
    },
    /// The metadata file's bytes do not match the checksum or size the archive records.
    ChecksumMismatch {
        /// The entry's path inside the archive.
        path: String,
    },
    /// The wheel holds more than one `.dist-info/METADATA` at its root, and nothing says which
    /// one is meant.
    MultipleDistInfo {
        /// The first `.dist-info` directory found.
        first: String,
        /// Another one.
        second: String,
    },
    /// The wheel's `.dist-info` directory is for another project than the one expected.
    DistInfoMismatch {
        /// The `.dist-info` directory found.
        found: String,
        /// The project name expected.
        expected: String,
    },
    /// The metadata file is not valid UTF-8.
    NotUtf8 {
        /// The offset of the first invalid byte.
        offset: usize,
    },
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFinished => {
                f.write_str("the metadata is not known yet: read the file stream to its end first")
            }
            Self::StreamFailed => {
                f.write_str("the file stream failed before its end, so no metadata was read")
            }
            Self::Truncated { reading } => {
                write!(f, "the archive ended early, while reading {reading}")
            }
            Self::Malformed { detail } => write!(f, "the archive is malformed: {detail}"),
            Self::Unsupported { path, reason } => {
                write!(f, "cannot read archive entry {path:?}: {reason}")
            }
            Self::TooLarge { path, limit } => {
                write!(f, "the metadata file {path:?} is larger than {limit} bytes")
            }
            Self::InflateLimit { limit } => write!(
                f,
                "the archive decompresses to more than {limit} bytes before its metadata ends; \
                 gave up reading it"
            ),
            Self::ChecksumMismatch { path } => write!(
                f,
                "the metadata file {path:?} does not match the CRC-32 or size recorded in the \
                 archive"
            ),
            Self::MultipleDistInfo { first, second } => write!(
                f,
                "the wheel has more than one .dist-info directory ({first:?} and {second:?}); \
                 a wheel must have exactly one"
            ),
            Self::DistInfoMismatch { found, expected } => write!(
                f,
                "the wheel's .dist-info directory {found:?} is not for project {expected:?}"
            ),
            Self::NotUtf8 { offset } => write!(
                f,
                "the metadata file is not valid UTF-8 (first bad byte at offset {offset})"
            ),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Shorthand for a [`MetadataError::Malformed`] with `detail`.
pub(crate) fn malformed(detail: impl Into<String>) -> MetadataError {
    MetadataError::Malformed {
        detail: detail.into(),
    }
}

/// What a reader gives: the raw metadata file, `None` when the archive has none, or why it
/// could not be read.
pub(crate) type Extracted = Result<Option<Vec<u8>>, MetadataError>;
