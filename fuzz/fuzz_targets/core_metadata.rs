//! `pyoci_metadata`: the METADATA / PKG-INFO header parser on raw bytes, and the streaming
//! extractor (`MetadataTap`) on arbitrary wheel or sdist bytes cut into arbitrary chunks.
//!
//! Properties: the tap passes every byte through unchanged whatever it finds; when it returns
//! metadata, its sha256 is that of its bytes and those bytes parse as headers.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use libfuzzer_sys::fuzz_target;
use pyoci_metadata::{parse_core_metadata, DistributionKind, MetadataTap};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    archive: &'a [u8],
    chunk_sizes: Vec<u8>,
    sdist: bool,
    headers: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let _ = parse_core_metadata(input.headers);

    let mut chunks = Vec::new();
    let mut rest = input.archive;
    let mut sizes = input.chunk_sizes.iter().cycle();
    while !rest.is_empty() {
        let size = sizes.next().map_or(rest.len(), |s| usize::from(*s).max(1));
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
});
