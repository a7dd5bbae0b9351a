//! Real archives built for tests, and a helper that runs bytes through a tap.

use std::convert::Infallible;
use std::io::{Cursor, Write};

use bytes::Bytes;
use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::{Compression, Crc};
use futures_util::{stream, FutureExt, StreamExt};

use crate::{DistributionKind, ExpectedRelease, MetadataLimits, MetadataResult, MetadataTap};

/// A metadata file like the ones build backends write.
pub(crate) fn sample_metadata(name: &str, version: &str) -> String {
    format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: A test package\n\
         Requires-Python: >=3.8,<4\nRequires-Dist: requests>=2\n\
         Description-Content-Type: text/markdown\n\n# {name}\n\nA description.\n"
    )
}

/// Passes `bytes` through a tap in chunks of `chunk_size`, checks that exactly the same
/// bytes come out, and returns the tap's result.
pub(crate) fn run_tap(
    bytes: &[u8],
    chunk_size: usize,
    kind: DistributionKind,
    expected: Option<ExpectedRelease>,
) -> MetadataResult {
    run_tap_with_limits(bytes, chunk_size, kind, expected, MetadataLimits::default())
}

/// [`run_tap`] with explicit limits.
pub(crate) fn run_tap_with_limits(
    bytes: &[u8],
    chunk_size: usize,
    kind: DistributionKind,
    expected: Option<ExpectedRelease>,
    limits: MetadataLimits,
) -> MetadataResult {
    let chunks: Vec<Result<Bytes, Infallible>> = bytes
        .chunks(chunk_size)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    let (mut tap, handle) = MetadataTap::with_limits(stream::iter(chunks), kind, expected, limits);
    let mut passed = Vec::with_capacity(bytes.len());
    while let Some(item) = tap
        .next()
        .now_or_never()
        .expect("an iterator stream is always ready")
    {
        passed.extend_from_slice(&item.unwrap());
    }
    assert!(passed == bytes, "the tap changed the bytes passing through");
    handle.result()
}

/// Builds a zip with the `zip` crate (an independent writer): entries in order, each stored
/// or deflated.
pub(crate) fn zip_crate_archive(entries: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, method) in entries {
        let options = zip::write::SimpleFileOptions::default().compression_method(*method);
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// How a hand-built zip entry records its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sizes {
    /// In the local header.
    InHeader,
    /// In a data descriptor with its optional signature.
    SignedDescriptor,
    /// In a data descriptor without the signature.
    UnsignedDescriptor,
}

/// One entry of a hand-built zip.
pub(crate) struct TestEntry<'a> {
    pub(crate) name: &'a str,
    pub(crate) data: &'a [u8],
    pub(crate) deflate: bool,
    pub(crate) sizes: Sizes,
    /// Write a Zip64 extra field (and 8-byte sizes in the descriptor).
    pub(crate) zip64: bool,
}

impl<'a> TestEntry<'a> {
    pub(crate) fn new(name: &'a str, data: &'a [u8]) -> Self {
        Self {
            name,
            data,
            deflate: true,
            sizes: Sizes::InHeader,
            zip64: false,
        }
    }

    pub(crate) fn stored(mut self) -> Self {
        self.deflate = false;
        self
    }

    pub(crate) fn sizes(mut self, sizes: Sizes) -> Self {
        self.sizes = sizes;
        self
    }

    pub(crate) fn zip64(mut self) -> Self {
        self.zip64 = true;
        self
    }
}

/// Builds a zip by hand, field by field as the APPNOTE lays it out, for the layouts the `zip`
/// crate does not write (data descriptors, Zip64 local headers). The result is checked to be
/// readable by the `zip` crate's reader.
pub(crate) fn hand_built_zip(entries: &[TestEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let mut crc = Crc::new();
        crc.update(entry.data);
        let crc = crc.sum();
        let compressed = if entry.deflate {
            let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(entry.data).unwrap();
            encoder.finish().unwrap()
        } else {
            entry.data.to_vec()
        };
        let (csize, usize_) = (compressed.len() as u64, entry.data.len() as u64);
        let descriptor = entry.sizes != Sizes::InHeader;
        let flags: u16 = if descriptor { 1 << 3 } else { 0 };
        let method: u16 = if entry.deflate { 8 } else { 0 };
        let (header_crc, header_sizes) = if descriptor {
            (0, (0, 0))
        } else {
            (crc, (csize, usize_))
        };
        let extra = if entry.zip64 {
            let mut extra = Vec::new();
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&16u16.to_le_bytes());
            extra.extend_from_slice(&header_sizes.1.to_le_bytes());
            extra.extend_from_slice(&header_sizes.0.to_le_bytes());
            extra
        } else {
            Vec::new()
        };
        let size32 = |size: u64| if entry.zip64 { u32::MAX } else { size as u32 };

        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]); // 00:00, 1980-01-01
        out.extend_from_slice(&header_crc.to_le_bytes());
        out.extend_from_slice(&size32(header_sizes.0).to_le_bytes());
        out.extend_from_slice(&size32(header_sizes.1).to_le_bytes());
        out.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        out.extend_from_slice(entry.name.as_bytes());
        out.extend_from_slice(&extra);
        out.extend_from_slice(&compressed);
        if descriptor {
            if entry.sizes == Sizes::SignedDescriptor {
                out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
            }
            out.extend_from_slice(&crc.to_le_bytes());
            if entry.zip64 {
                out.extend_from_slice(&csize.to_le_bytes());
                out.extend_from_slice(&usize_.to_le_bytes());
            } else {
                out.extend_from_slice(&(csize as u32).to_le_bytes());
                out.extend_from_slice(&(usize_ as u32).to_le_bytes());
            }
        }

        let central_extra = if entry.zip64 {
            let mut extra = Vec::new();
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&16u16.to_le_bytes());
            extra.extend_from_slice(&usize_.to_le_bytes());
            extra.extend_from_slice(&csize.to_le_bytes());
            extra
        } else {
            Vec::new()
        };
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&45u16.to_le_bytes());
        central.extend_from_slice(&45u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size32(csize).to_le_bytes());
        central.extend_from_slice(&size32(usize_).to_le_bytes());
        central.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(central_extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&[0; 4]); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(entry.name.as_bytes());
        central.extend_from_slice(&central_extra);
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    check_readable(&out, entries);
    out
}

/// The `zip` crate's reader must see every entry with its data.
fn check_readable(archive: &[u8], entries: &[TestEntry<'_>]) {
    let mut reader = zip::ZipArchive::new(Cursor::new(archive)).unwrap();
    assert_eq!(reader.len(), entries.len());
    for entry in entries {
        let mut file = reader.by_name(entry.name).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut data).unwrap();
        assert!(
            data == entry.data,
            "hand-built zip entry {} unreadable",
            entry.name
        );
    }
}

/// How a tar member's path is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TarPath {
    /// In the header (GNU long-name extension when it does not fit).
    Header,
    /// In a PAX extended header before the member.
    Pax,
}

/// Builds a `.tar.gz` with the `tar` crate: regular files in order.
pub(crate) fn sdist(members: &[(&str, &[u8], TarPath)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (path, data, how) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        match how {
            TarPath::Header => builder.append_data(&mut header, path, *data).unwrap(),
            TarPath::Pax => {
                builder
                    .append_pax_extensions([("path", path.as_bytes())])
                    .unwrap();
                header.set_path("placeholder").unwrap();
                header.set_cksum();
                builder.append(&header, *data).unwrap();
            }
        }
    }
    builder.into_inner().unwrap().finish().unwrap()
}
