use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::{checksum, is_pkg_info};
use crate::test_archives::{run_tap, run_tap_with_limits, sample_metadata, sdist, TarPath};
use crate::{DistributionKind, MetadataError, MetadataLimits, MetadataResult};

const CHUNK_SIZES: [usize; 4] = [1, 7, 64 * 1024, usize::MAX];

fn read(bytes: &[u8], chunk_size: usize) -> MetadataResult {
    run_tap(bytes, chunk_size, DistributionKind::Sdist, None)
}

fn pkg_info(result: MetadataResult) -> Vec<u8> {
    result.unwrap().expect("PKG-INFO found").bytes.to_vec()
}

fn noise(len: usize) -> Vec<u8> {
    let mut state = 7u32;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        })
        .collect()
}

#[test]
fn finds_pkg_info_as_the_first_member() {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    let archive = sdist(&[
        (
            "hello_pyoci-1.0/PKG-INFO",
            metadata.as_bytes(),
            TarPath::Header,
        ),
        ("hello_pyoci-1.0/setup.py", b"", TarPath::Header),
    ]);
    for chunk_size in CHUNK_SIZES {
        let core = read(&archive, chunk_size).unwrap().unwrap();
        assert_eq!(core.bytes, metadata.as_bytes());
        assert_eq!(core.requires_python.as_deref(), Some(">=3.8,<4"));
    }
}

#[test]
fn finds_pkg_info_after_other_members() {
    let metadata = sample_metadata("hello-pyoci", "1.0");
    let big = noise(200_000);
    let archive = sdist(&[
        (
            "hello_pyoci-1.0/src/hello_pyoci/__init__.py",
            &big,
            TarPath::Header,
        ),
        (
            "hello_pyoci-1.0/src/hello_pyoci.egg-info/PKG-INFO",
            b"Name: nested\n",
            TarPath::Header,
        ),
        (
            "hello_pyoci-1.0/pyproject.toml",
            b"[project]\n",
            TarPath::Header,
        ),
        (
            "hello_pyoci-1.0/PKG-INFO",
            metadata.as_bytes(),
            TarPath::Header,
        ),
    ]);
    for chunk_size in CHUNK_SIZES {
        assert_eq!(pkg_info(read(&archive, chunk_size)), metadata.as_bytes());
    }
}

#[test]
fn follows_long_names_and_pax_paths() {
    let top = "a".repeat(120);
    let long_path = format!("{top}/PKG-INFO");
    let long_other = format!("{top}/{}", "b".repeat(120));
    for how in [TarPath::Header, TarPath::Pax] {
        let archive = sdist(&[
            (long_other.as_str(), b"other", how),
            (long_path.as_str(), b"Name: long\n", how),
        ]);
        assert_eq!(pkg_info(read(&archive, 7)), b"Name: long\n", "{how:?}");
    }
}

#[test]
fn a_leading_dot_slash_is_accepted() {
    let archive = sdist(&[("./hello-1.0/PKG-INFO", b"Name: hello\n", TarPath::Pax)]);
    assert_eq!(pkg_info(read(&archive, 64)), b"Name: hello\n");
}

#[test]
fn an_sdist_without_pkg_info_gives_none() {
    let archive = sdist(&[
        ("PKG-INFO", b"Name: at the root\n", TarPath::Header),
        (
            "hello-1.0/src/PKG-INFO",
            b"Name: too deep\n",
            TarPath::Header,
        ),
        ("hello-1.0/setup.py", b"", TarPath::Header),
    ]);
    for chunk_size in CHUNK_SIZES {
        assert_eq!(read(&archive, chunk_size), Ok(None));
    }
}

#[test]
fn only_regular_files_count() {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    builder
        .append_link(&mut header, "hello-1.0/PKG-INFO", "elsewhere")
        .unwrap();
    let archive = builder.into_inner().unwrap().finish().unwrap();
    assert_eq!(read(&archive, 100), Ok(None));
}

#[test]
fn pkg_info_over_the_limit_is_too_large() {
    let archive = sdist(&[("hello-1.0/PKG-INFO", &[b'a'; 2000], TarPath::Header)]);
    let limits = MetadataLimits {
        max_metadata_size: 1000,
        ..MetadataLimits::default()
    };
    let result = run_tap_with_limits(&archive, 100, DistributionKind::Sdist, None, limits);
    assert!(matches!(
        result,
        Err(MetadataError::TooLarge { path, limit: 1000 }) if path == "hello-1.0/PKG-INFO"
    ));
}

#[test]
fn the_inflate_budget_stops_a_bomb() {
    let zeros = vec![0; 4 * 1024 * 1024];
    let archive = sdist(&[
        ("hello-1.0/zeros.bin", &zeros, TarPath::Header),
        ("hello-1.0/PKG-INFO", b"Name: x\n", TarPath::Header),
    ]);
    let limits = MetadataLimits {
        max_inflated_size: 1024 * 1024,
        ..MetadataLimits::default()
    };
    let result = run_tap_with_limits(&archive, 4096, DistributionKind::Sdist, None, limits);
    assert_eq!(
        result,
        Err(MetadataError::InflateLimit { limit: 1024 * 1024 })
    );
}

#[test]
fn stops_reading_once_found() {
    let metadata = b"Name: x\n";
    let mut archive = sdist(&[
        ("x-1/PKG-INFO", metadata, TarPath::Header),
        ("x-1/big.bin", &noise(300_000), TarPath::Header),
    ]);
    // Garbage after the point where PKG-INFO is known is never read.
    let end = archive.len();
    archive[end - 5000..].fill(0xff);
    assert_eq!(pkg_info(read(&archive, 1000)), metadata);
}

#[test]
fn not_gzip_is_an_error() {
    for chunk_size in [1, 7, 4096] {
        assert!(matches!(
            read(b"PK\x03\x04 this is a zip, not a tar.gz", chunk_size),
            Err(MetadataError::Malformed { .. })
        ));
    }
}

#[test]
fn gzip_that_is_not_a_tar_is_an_error() {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&noise(5000)).unwrap();
    let archive = encoder.finish().unwrap();
    assert!(matches!(
        read(&archive, 100),
        Err(MetadataError::Malformed { detail }) if detail.contains("checksum")
    ));
}

#[test]
fn every_truncation_before_pkg_info_is_an_error() {
    let archive = sdist(&[
        ("hello-1.0/setup.py", &noise(3000), TarPath::Header),
        ("hello-1.0/PKG-INFO", b"Name: hello\n", TarPath::Header),
    ]);
    let full = pkg_info(read(&archive, 1));
    assert_eq!(full, b"Name: hello\n");
    for cut in 0..archive.len() {
        // Never a panic; either an error or the exact file.
        match read(&archive[..cut], 3) {
            Ok(Some(core)) => assert_eq!(core.bytes, full),
            Ok(None) => panic!("cut at {cut} gave no metadata and no error"),
            Err(_) => {}
        }
    }
    assert!(matches!(
        read(&archive[..archive.len() / 2], 3),
        Err(MetadataError::Truncated { .. }) | Err(MetadataError::Malformed { .. })
    ));
}

#[test]
fn an_empty_stream_is_truncated() {
    assert!(matches!(read(b"", 1), Err(MetadataError::Truncated { .. })));
}

#[test]
fn recognises_top_level_pkg_info_paths() {
    assert!(is_pkg_info(b"hello-1.0/PKG-INFO"));
    assert!(is_pkg_info(b"./hello-1.0/PKG-INFO"));
    assert!(!is_pkg_info(b"PKG-INFO"));
    assert!(!is_pkg_info(b"/PKG-INFO"));
    assert!(!is_pkg_info(b"a/b/PKG-INFO"));
    assert!(!is_pkg_info(b"../PKG-INFO"));
    assert!(!is_pkg_info(b"hello-1.0/PKG-INFO.bak"));
}

#[test]
fn checksum_agrees_with_the_tar_crate() {
    let mut header = tar::Header::new_ustar();
    header.set_path("hello-1.0/PKG-INFO").unwrap();
    header.set_size(12);
    header.set_cksum();
    assert_eq!(checksum(header.as_bytes()), header.cksum().unwrap());
}

#[test]
fn mutated_sdists_never_panic_nor_change_the_bytes() {
    let archive = sdist(&[
        ("hello-1.0/setup.py", &noise(2000), TarPath::Pax),
        ("hello-1.0/PKG-INFO", b"Name: hello\n", TarPath::Header),
    ]);
    let mut state = 99u32;
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
        let _ = read(&mutated, 1 + next() % 300);
    }
}

#[test]
fn mutated_tar_headers_never_panic() {
    // Uncompressed mutations reach the tar reader (gzip's CRC would not stop them, as the
    // result is known before the gzip trailer is checked).
    let mut tar_bytes = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar_bytes);
        let mut header = tar::Header::new_gnu();
        header.set_size(12);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "hello-1.0/PKG-INFO", &b"Name: hello\n"[..])
            .unwrap();
        builder.finish().unwrap();
    }
    let mut state = 7u32;
    let mut next = move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (state >> 8) as usize
    };
    for _ in 0..500 {
        let mut mutated = tar_bytes.clone();
        let at = next() % 512;
        mutated[at] = next() as u8;
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&mutated).unwrap();
        let _ = read(&encoder.finish().unwrap(), 1 + next() % 100);
    }
}
