//! Extract a Python distribution's core metadata file while the file streams through.
//!
//! PEP 658/714 let an index serve a wheel's `*.dist-info/METADATA` at `<file-url>.metadata`,
//! so resolvers (pip, uv) need not download the wheel; pip refuses a file that differs from
//! the wheel's by a single byte. A proxy that streams uploads to a registry never holds the
//! whole file, so it must take those bytes on the way: [`MetadataTap`] wraps the upload's byte
//! stream, passes every chunk on unchanged, and reads the archive forward only.
//!
//! - Wheels (zip): the local file headers are walked in order; `METADATA` of the root
//!   `.dist-info` directory is copied or inflated, and checked against its CRC-32.
//! - Sdists (`.tar.gz`): the gzip stream is inflated into a tar reader that stops at
//!   `<top-level dir>/PKG-INFO`.
//!
//! A file the reader cannot follow (garbage, a truncated stream, a stored zip entry whose
//! size comes after its data) gives an error *result*; the upload itself is never failed,
//! slowed by more than the reading, or held back. [`parse_core_metadata`] reads the header
//! fields of a metadata file and is pure, for direct tests and fuzzing.
//!
//! # Example
//!
//! ```
//! use std::io::Write;
//!
//! use bytes::Bytes;
//! use futures_util::{stream, StreamExt};
//! use pyoci_metadata::{DistributionKind, ExpectedRelease, MetadataTap};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A tiny wheel, built in memory.
//! let metadata = "Metadata-Version: 2.1\nName: hello-pyoci\nVersion: 1.0\n\
//!                 Requires-Python: >=3.8\n";
//! let mut wheel = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
//! let options = zip::write::SimpleFileOptions::default();
//! wheel.start_file("hello_pyoci/__init__.py", options)?;
//! wheel.write_all(b"print('hello')\n")?;
//! wheel.start_file("hello_pyoci-1.0.dist-info/METADATA", options)?;
//! wheel.write_all(metadata.as_bytes())?;
//! let wheel = wheel.finish()?.into_inner();
//!
//! // The upload's byte stream, as it would go to the registry.
//! let chunks: Vec<Result<Bytes, std::io::Error>> =
//!     wheel.chunks(1000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
//! let (tap, handle) = MetadataTap::new(
//!     stream::iter(chunks),
//!     DistributionKind::Wheel,
//!     Some(ExpectedRelease::new("hello-pyoci", "1.0")),
//! );
//! let passed: Vec<Bytes> = tap.map(|chunk| chunk.unwrap()).collect().await;
//! assert_eq!(passed.concat(), wheel);
//!
//! let core = handle.result()?.expect("the wheel has METADATA");
//! assert_eq!(core.bytes, metadata.as_bytes());
//! assert_eq!(core.requires_python.as_deref(), Some(">=3.8"));
//! assert_eq!(core.name.as_deref(), Some("hello-pyoci"));
//! assert_eq!(core.sha256.len(), 64);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod core_metadata;
mod error;
mod extractor;
mod inflate;
mod options;
mod sdist;
mod tap;
mod wheel;

#[cfg(test)]
mod test_archives;

pub use core_metadata::{parse_core_metadata, CoreMetadata, CoreMetadataFields};
pub use error::MetadataError;
pub use options::{DistributionKind, ExpectedRelease, MetadataLimits};
pub use tap::{MetadataHandle, MetadataResult, MetadataTap};
