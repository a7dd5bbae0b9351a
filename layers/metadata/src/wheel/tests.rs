use zip::CompressionMethod::{Deflated, Stored};

use crate::test_archives::{
    hand_built_zip, run_tap, run_tap_with_limits, sample_metadata, zip_crate_archive, Sizes,
    TestEntry,
};
use crate::{DistributionKind, ExpectedRelease, MetadataError, MetadataLimits, MetadataResult};

const METADATA_PATH: &str = "hello_pyoci-1.0.dist-info/METADATA";
const CHUNK_SIZES: [usize; 4] = [1, 7, 64 * 1024, usize::MAX];

fn expected() -> Option<ExpectedRelease> {
    Some(ExpectedRelease::new("hello-pyoci", "1.0"))
}

fn wheel(bytes: &[u8], chunk_size: usize) -> MetadataResult {
    run_tap(bytes, chunk_size, DistributionKind::Wheel, expected())
}

fn metadata_bytes(result: MetadataResult) -> Vec<u8> {
    result.unwrap().expect("metadata found").bytes.to_vec()
}

/// Text that deflate cannot shrink much, so entries span many chunks.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            b'a' + (state >> 16) as u8 % 26
        })
        .collect()
}

#[test]
fn finds_metadata_among_stored_and_deflated_entries() {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    let module = noise(70_000, 1);
    for metadata_method in [Stored, Deflated] {
        let archive = zip_crate_archive(&[
            ("hello_pyoci/__init__.py", &module, Deflated),
            ("hello_pyoci/data.bin", &noise(5000, 2), Stored),
            (
                "hello_pyoci-1.0.dist-info/WHEEL",
                b"Wheel-Version: 1.0\n",
                Deflated,
            ),
            (METADATA_PATH, metadata.as_bytes(), metadata_method),
            ("hello_pyoci-1.0.dist-info/RECORD", &noise(3000, 3), Stored),
            ("hello_pyoci-1.0.dist-info/entry_points.txt", b"", Deflated),
        ]);
        for chunk_size in CHUNK_SIZES {
            let core = wheel(&archive, chunk_size).unwrap().unwrap();
            assert_eq!(core.bytes, metadata.as_bytes(), "chunks of {chunk_size}");
            assert_eq!(core.requires_python.as_deref(), Some(">=3.8,<4"));
            assert_eq!(core.version.as_deref(), Some("1.0"));
        }
    }
}

#[test]
fn reads_entries_with_data_descriptors() {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    let module = noise(40_000, 4);
    for sizes in [Sizes::SignedDescriptor, Sizes::UnsignedDescriptor] {
        let archive = hand_built_zip(&[
            TestEntry::new("hello_pyoci/__init__.py", &module).sizes(sizes),
            TestEntry::new("hello_pyoci/empty.py", b"").sizes(sizes),
            TestEntry::new(METADATA_PATH, metadata.as_bytes()).sizes(sizes),
            TestEntry::new("hello_pyoci-1.0.dist-info/RECORD", b"record").sizes(sizes),
        ]);
        for chunk_size in CHUNK_SIZES {
            let found =
                metadata_bytes(run_tap(&archive, chunk_size, DistributionKind::Wheel, None));
            assert_eq!(
                found,
                metadata.as_bytes(),
                "{sizes:?}, chunks of {chunk_size}"
            );
        }
    }
}

#[test]
fn reads_zip64_local_headers() {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    for sizes in [Sizes::InHeader, Sizes::SignedDescriptor] {
        let archive = hand_built_zip(&[
            TestEntry::new("hello_pyoci/a.py", &noise(9000, 5))
                .zip64()
                .sizes(sizes),
            TestEntry::new("hello_pyoci/b.py", b"b").stored().zip64(),
            TestEntry::new(METADATA_PATH, metadata.as_bytes())
                .zip64()
                .sizes(sizes),
        ]);
        for chunk_size in CHUNK_SIZES {
            let found =
                metadata_bytes(run_tap(&archive, chunk_size, DistributionKind::Wheel, None));
            assert_eq!(
                found,
                metadata.as_bytes(),
                "{sizes:?}, chunks of {chunk_size}"
            );
        }
    }
}

#[test]
fn a_large_metadata_file_is_identical_in_any_chunking() {
    let mut metadata = sample_metadata("hello-pyoci", "1.0").into_bytes();
    metadata.extend(noise(100 * 1024, 6));
    for method in [Stored, Deflated] {
        let archive = zip_crate_archive(&[
            ("hello_pyoci/__init__.py", b"", Deflated),
            (METADATA_PATH, &metadata, method),
        ]);
        let results: Vec<Vec<u8>> = [1, 7, 64 * 1024]
            .into_iter()
            .map(|chunk_size| metadata_bytes(wheel(&archive, chunk_size)))
            .collect();
        assert!(results.iter().all(|found| *found == metadata));
    }
}

#[test]
fn a_wheel_without_metadata_gives_none() {
    let archive = zip_crate_archive(&[
        ("hello_pyoci/__init__.py", b"x = 1\n", Deflated),
        ("hello_pyoci/METADATA", b"Name: nested\n", Stored),
        (
            "other/hello_pyoci-1.0.dist-info/METADATA",
            b"Name: nested\n",
            Stored,
        ),
        ("hello_pyoci-1.0.dist-info/RECORD", b"", Stored),
    ]);
    for chunk_size in CHUNK_SIZES {
        assert_eq!(wheel(&archive, chunk_size), Ok(None));
    }
}

#[test]
fn an_empty_zip_gives_none() {
    let archive = zip_crate_archive(&[]);
    assert_eq!(wheel(&archive, 1), Ok(None));
}

#[test]
fn an_empty_metadata_file_is_found() {
    let archive = zip_crate_archive(&[(METADATA_PATH, b"", Stored)]);
    let core = wheel(&archive, 3).unwrap().unwrap();
    assert!(core.bytes.is_empty());
    assert_eq!(core.name, None);
}

#[test]
fn picks_the_expected_dist_info_directory() {
    let archive = zip_crate_archive(&[
        ("other-1.0.dist-info/METADATA", b"Name: other\n", Deflated),
        (
            "hello_pyoci-0.9.dist-info/METADATA",
            b"Name: old\n",
            Deflated,
        ),
        (METADATA_PATH, b"Name: hello-pyoci\n", Deflated),
    ]);
    assert_eq!(metadata_bytes(wheel(&archive, 5)), b"Name: hello-pyoci\n");
    let only_project = zip_crate_archive(&[
        ("other-1.0.dist-info/METADATA", b"Name: other\n", Deflated),
        (
            "hello_pyoci-0.9.dist-info/METADATA",
            b"Name: old\n",
            Deflated,
        ),
    ]);
    assert_eq!(metadata_bytes(wheel(&only_project, 5)), b"Name: old\n");
}

#[test]
fn two_dist_info_directories_without_expectation_is_an_error() {
    let archive = zip_crate_archive(&[
        ("a-1.0.dist-info/METADATA", b"Name: a\n", Deflated),
        ("b-1.0.dist-info/METADATA", b"Name: b\n", Deflated),
    ]);
    let result = run_tap(&archive, 7, DistributionKind::Wheel, None);
    assert!(matches!(
        result,
        Err(MetadataError::MultipleDistInfo { first, second })
            if first == "a-1.0.dist-info" && second == "b-1.0.dist-info"
    ));
}

#[test]
fn a_dist_info_for_another_project_is_a_mismatch() {
    let archive = zip_crate_archive(&[("other-1.0.dist-info/METADATA", b"Name: o\n", Stored)]);
    assert!(matches!(
        wheel(&archive, 7),
        Err(MetadataError::DistInfoMismatch { found, .. }) if found == "other-1.0.dist-info"
    ));
}

#[test]
fn a_stored_entry_with_a_descriptor_before_metadata_gives_up() {
    let archive = hand_built_zip(&[
        TestEntry::new("hello_pyoci/a.py", b"a")
            .stored()
            .sizes(Sizes::SignedDescriptor),
        TestEntry::new(METADATA_PATH, b"Name: hello-pyoci\n"),
    ]);
    assert!(matches!(
        wheel(&archive, 7),
        Err(MetadataError::Unsupported { path, .. }) if path == "hello_pyoci/a.py"
    ));
}

#[test]
fn a_stored_entry_with_a_descriptor_after_metadata_keeps_what_was_found() {
    let archive = hand_built_zip(&[
        TestEntry::new(METADATA_PATH, b"Name: hello-pyoci\n"),
        TestEntry::new("hello_pyoci-1.0.dist-info/RECORD", b"r")
            .stored()
            .sizes(Sizes::UnsignedDescriptor),
    ]);
    for expected in [None, expected()] {
        let result = run_tap(&archive, 7, DistributionKind::Wheel, expected);
        assert_eq!(metadata_bytes(result), b"Name: hello-pyoci\n");
    }
}

#[test]
fn a_stored_metadata_file_with_a_descriptor_is_unsupported() {
    let archive = hand_built_zip(&[TestEntry::new(METADATA_PATH, b"Name: x\n")
        .stored()
        .sizes(Sizes::SignedDescriptor)]);
    assert!(matches!(
        wheel(&archive, 7),
        Err(MetadataError::Unsupported { path, .. }) if path == METADATA_PATH
    ));
}

#[test]
fn encrypted_entries_are_unsupported() {
    let mut archive = zip_crate_archive(&[(METADATA_PATH, b"Name: x\n", Stored)]);
    archive[6] |= 1; // the first local header's "encrypted" flag
    assert!(matches!(
        wheel(&archive, 7),
        Err(MetadataError::Unsupported { path, reason })
            if path == METADATA_PATH && reason.contains("encrypted")
    ));

    let mut archive = hand_built_zip(&[
        TestEntry::new("hello_pyoci/a.py", b"a").sizes(Sizes::SignedDescriptor),
        TestEntry::new(METADATA_PATH, b"Name: x\n"),
    ]);
    archive[6] |= 1;
    assert!(matches!(
        wheel(&archive, 7),
        Err(MetadataError::Unsupported { path, reason })
            if path == "hello_pyoci/a.py" && reason.contains("encrypted")
    ));
}

#[test]
fn a_corrupted_metadata_file_fails_its_checksum() {
    let metadata = b"Name: hello-pyoci\nVersion: 1.0\n";
    let archive = zip_crate_archive(&[(METADATA_PATH, metadata, Stored)]);
    let at = find(&archive, metadata) + 3;
    let mut corrupted = archive.clone();
    corrupted[at] ^= 0x20;
    assert!(matches!(
        wheel(&corrupted, 7),
        Err(MetadataError::ChecksumMismatch { path }) if path == METADATA_PATH
    ));
}

#[test]
fn a_descriptor_that_disagrees_with_the_metadata_fails() {
    let archive = hand_built_zip(&[
        TestEntry::new(METADATA_PATH, b"Name: x\n").sizes(Sizes::SignedDescriptor)
    ]);
    let descriptor = find(&archive, &0x0807_4b50u32.to_le_bytes());
    let mut corrupted = archive.clone();
    corrupted[descriptor + 4] ^= 1; // the CRC-32
    assert!(matches!(
        wheel(&corrupted, 7),
        Err(MetadataError::ChecksumMismatch { .. })
    ));
}

#[test]
fn metadata_over_the_limit_is_too_large() {
    let metadata = noise(2000, 7);
    let limits = MetadataLimits {
        max_metadata_size: 1000,
        ..MetadataLimits::default()
    };
    for sizes in [Sizes::InHeader, Sizes::SignedDescriptor] {
        let archive = hand_built_zip(&[TestEntry::new(METADATA_PATH, &metadata).sizes(sizes)]);
        let result = run_tap_with_limits(&archive, 7, DistributionKind::Wheel, None, limits);
        assert!(
            matches!(result, Err(MetadataError::TooLarge { limit: 1000, .. })),
            "{sizes:?}"
        );
    }
}

#[test]
fn the_inflate_budget_stops_a_bomb() {
    let zeros = vec![0; 4 * 1024 * 1024];
    let archive = hand_built_zip(&[
        TestEntry::new("bomb.bin", &zeros).sizes(Sizes::SignedDescriptor),
        TestEntry::new(METADATA_PATH, b"Name: x\n"),
    ]);
    let limits = MetadataLimits {
        max_inflated_size: 1024 * 1024,
        ..MetadataLimits::default()
    };
    let result = run_tap_with_limits(&archive, 64 * 1024, DistributionKind::Wheel, None, limits);
    assert_eq!(
        result,
        Err(MetadataError::InflateLimit { limit: 1024 * 1024 })
    );
}

#[test]
fn skipped_entries_with_known_sizes_are_not_inflated() {
    let zeros = vec![0; 4 * 1024 * 1024];
    let archive = zip_crate_archive(&[
        ("big.bin", &zeros, Deflated),
        (METADATA_PATH, b"Name: x\n", Deflated),
    ]);
    let limits = MetadataLimits {
        max_inflated_size: 1024,
        ..MetadataLimits::default()
    };
    let result = run_tap_with_limits(&archive, 4096, DistributionKind::Wheel, None, limits);
    assert_eq!(metadata_bytes(result), b"Name: x\n");
}

#[test]
fn garbage_is_an_error_result() {
    for garbage in [&b"not a zip at all"[..], &[0u8; 100][..], &noise(5000, 8)] {
        for chunk_size in [1, 7, 4096] {
            assert!(matches!(
                wheel(garbage, chunk_size),
                Err(MetadataError::Malformed { .. })
            ));
        }
    }
}

#[test]
fn an_empty_stream_is_truncated() {
    assert!(matches!(
        wheel(b"", 1),
        Err(MetadataError::Truncated { .. })
    ));
}

#[test]
fn every_truncation_is_an_error_until_the_central_directory() {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    let archive = hand_built_zip(&[
        TestEntry::new("hello_pyoci/__init__.py", b"print('hi')\n").sizes(Sizes::SignedDescriptor),
        TestEntry::new(METADATA_PATH, metadata.as_bytes()),
        TestEntry::new("hello_pyoci/x.py", b"x").stored(),
    ]);
    let central_directory = find(&archive, &0x0201_4b50u32.to_le_bytes());
    for cut in 0..archive.len() {
        let result = run_tap(&archive[..cut], 5, DistributionKind::Wheel, None);
        if cut < central_directory + 4 {
            assert!(result.is_err(), "cut at {cut}: {result:?}");
        } else {
            assert_eq!(metadata_bytes(result), metadata.as_bytes(), "cut at {cut}");
        }
    }
}

#[test]
fn mutated_wheels_never_panic_nor_change_the_bytes() {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    let archive = hand_built_zip(&[
        TestEntry::new("hello_pyoci/__init__.py", &noise(3000, 9)).sizes(Sizes::SignedDescriptor),
        TestEntry::new("hello_pyoci/b.py", b"b").stored().zip64(),
        TestEntry::new(METADATA_PATH, metadata.as_bytes()).sizes(Sizes::UnsignedDescriptor),
    ]);
    let mut state = 42u32;
    let mut next = move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (state >> 8) as usize
    };
    for _ in 0..500 {
        let mut mutated = archive.clone();
        for _ in 0..1 + next() % 4 {
            let at = next() % mutated.len();
            mutated[at] = next() as u8;
        }
        // run_tap asserts the bytes pass through unchanged; any result is fine.
        let _ = run_tap(&mutated, 1 + next() % 300, DistributionKind::Wheel, None);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .unwrap()
}
