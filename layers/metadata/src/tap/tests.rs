use std::io;

use bytes::Bytes;
use futures_util::{stream, FutureExt, StreamExt};

use super::*;
use crate::test_archives::{sample_metadata, sdist, zip_crate_archive, TarPath};

fn chunks(bytes: &[u8], size: usize) -> Vec<Result<Bytes, io::Error>> {
    bytes
        .chunks(size)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect()
}

fn wheel() -> (Vec<u8>, String) {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    let archive = zip_crate_archive(&[
        (
            "hello_pyoci/__init__.py",
            b"x = 1\n",
            zip::CompressionMethod::Deflated,
        ),
        (
            "hello_pyoci-1.0.dist-info/METADATA",
            metadata.as_bytes(),
            zip::CompressionMethod::Deflated,
        ),
    ]);
    (archive, metadata)
}

#[tokio::test]
async fn passes_every_chunk_through_and_reports_the_metadata() {
    let (archive, metadata) = wheel();
    let input = chunks(&archive, 100);
    let (tap, handle) = MetadataTap::new(stream::iter(input), DistributionKind::Wheel, None);
    let passed: Vec<Bytes> = tap.map(|chunk| chunk.unwrap()).collect().await;
    let expected: Vec<Bytes> = chunks(&archive, 100)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(passed, expected, "same chunks, same boundaries");
    let core = handle.result().unwrap().unwrap();
    assert_eq!(core.bytes, metadata.as_bytes());
    assert_eq!(core.name.as_deref(), Some("hello-pyoci"));
    assert_eq!(core.metadata_version.as_deref(), Some("2.1"));
}

#[tokio::test]
async fn the_result_is_not_known_before_the_end() {
    let (archive, _) = wheel();
    let (mut tap, handle) = MetadataTap::new(
        stream::iter(chunks(&archive, 10)),
        DistributionKind::Wheel,
        None,
    );
    assert_eq!(handle.result(), Err(MetadataError::NotFinished));
    tap.next().await.unwrap().unwrap();
    assert_eq!(handle.result(), Err(MetadataError::NotFinished));
    drop(tap);
    assert_eq!(handle.result(), Err(MetadataError::NotFinished));
}

#[tokio::test]
async fn a_failing_stream_passes_its_error_and_reports_it() {
    let (archive, _) = wheel();
    let mut input = chunks(&archive[..50], 10);
    input.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone")));
    input.extend(chunks(&archive[50..], 10));
    let (tap, handle) = MetadataTap::new(stream::iter(input), DistributionKind::Wheel, None);
    let items: Vec<_> = tap.collect().await;
    let error = items.iter().position(Result::is_err).unwrap();
    assert_eq!(error, 5);
    let rest: Vec<u8> = items
        .iter()
        .filter_map(|item| item.as_ref().ok())
        .flat_map(|chunk| chunk.to_vec())
        .collect();
    assert_eq!(rest, archive, "the chunks around the error still pass");
    assert_eq!(handle.result(), Err(MetadataError::StreamFailed));
}

#[test]
fn an_sdist_result_is_known_as_soon_as_pkg_info_is_read() {
    // Filler that does not compress, so the archive spans many chunks.
    let filler: Vec<u8> = (0u32..100_000)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let archive = sdist(&[
        ("x-1/PKG-INFO", b"Name: x\n", TarPath::Header),
        ("x-1/setup.py", &filler, TarPath::Header),
    ]);
    let (mut tap, handle) = MetadataTap::new(
        stream::iter(chunks(&archive, 64)),
        DistributionKind::Sdist,
        None,
    );
    let mut polls = 0;
    while handle.result() == Err(MetadataError::NotFinished) {
        tap.next().now_or_never().unwrap().unwrap().unwrap();
        polls += 1;
    }
    assert!(
        polls < 10,
        "known after {polls} chunks, long before the stream ends"
    );
    assert_eq!(handle.result().unwrap().unwrap().bytes, &b"Name: x\n"[..]);
    // The rest still passes.
    let rest = tap.count().now_or_never().unwrap();
    assert_eq!(polls + rest, archive.len().div_ceil(64));
}

#[test]
fn non_utf8_metadata_is_an_error_result() {
    let archive = zip_crate_archive(&[(
        "x-1.dist-info/METADATA",
        b"Name: caf\xe9\n",
        zip::CompressionMethod::Stored,
    )]);
    let (tap, handle) = MetadataTap::new(
        stream::iter(chunks(&archive, 10)),
        DistributionKind::Wheel,
        None,
    );
    let passed = tap.count().now_or_never().unwrap();
    assert_eq!(passed, archive.len().div_ceil(10));
    assert_eq!(handle.result(), Err(MetadataError::NotUtf8 { offset: 9 }));
}

#[test]
fn handles_share_the_result() {
    let (archive, metadata) = wheel();
    let (tap, handle) = MetadataTap::new(
        stream::iter(chunks(&archive, 10)),
        DistributionKind::Wheel,
        None,
    );
    let other = handle.clone();
    tap.count().now_or_never().unwrap();
    assert_eq!(other.result().unwrap().unwrap().bytes, metadata.as_bytes());
    assert_eq!(handle.result(), other.result());
}

#[test]
fn the_tap_can_go_into_a_request_body() {
    fn assert_send_sync_static<T: Send + Sync + 'static>(_: &T) {}
    let (tap, handle) =
        MetadataTap::new(stream::iter(chunks(b"", 1)), DistributionKind::Sdist, None);
    assert_send_sync_static(&tap);
    assert_send_sync_static(&handle);
}
