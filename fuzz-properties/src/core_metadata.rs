//! `pyoci_metadata`: the METADATA / PKG-INFO header parser on raw bytes, and the streaming
//! extractor (`MetadataTap`) on arbitrary wheel or sdist bytes cut into arbitrary chunks.
//!
//! Properties: the tap passes every byte through unchanged whatever it finds; when it returns
//! metadata, its sha256 is that of its bytes and those bytes parse as headers.
//!
//! The input is laid out so that a seed can be a real distribution: one byte whose lowest bit
//! says sdist, four chunk sizes, then the archive itself to the end (see [`Input`]).

use arbitrary::Arbitrary;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use pyoci_metadata::{parse_core_metadata, DistributionKind, MetadataTap};

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    /// Read the archive as an sdist (`.tar.gz`) rather than a wheel (zip).
    pub sdist: bool,
    /// The sizes the archive is cut into, in turn; 0 is "the rest in one chunk".
    pub chunk_sizes: [u8; 4],
    /// The distribution's bytes. Last, so they are the rest of the fuzzer's input: a mutation
    /// inside the archive never moves where it starts or ends. Also parsed as a metadata file,
    /// so that metadata seeds exercise the header parser directly.
    pub archive: &'a [u8],
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    let _ = parse_core_metadata(input.archive);

    let mut chunks = Vec::new();
    let mut rest = input.archive;
    let mut sizes = input.chunk_sizes.iter().cycle();
    while !rest.is_empty() {
        let size = match sizes.next() {
            Some(0) | None => rest.len(),
            Some(size) => usize::from(*size),
        };
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(Ok::<_, std::io::Error>(Bytes::copy_from_slice(chunk)));
        rest = tail;
    }
    let kind = if input.sdist {
        DistributionKind::Sdist
    } else {
        DistributionKind::Wheel
    };
    let (tap, handle) = MetadataTap::new(stream::iter(chunks), kind, None);
    let passed: Vec<Bytes> = futures_executor::block_on(tap.map(|chunk| chunk.unwrap()).collect());
    assert_eq!(passed.concat(), input.archive, "the tap changed the bytes");
    if let Ok(Some(metadata)) = handle.result() {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&metadata.bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(metadata.sha256, hex);
        assert!(parse_core_metadata(&metadata.bytes).is_ok());
    }
}
