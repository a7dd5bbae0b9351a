//! Small wheels and sdists for the `core_metadata` seeds, built the way build backends and
//! older tools lay them out, plus the shapes a streaming reader finds hard.

use std::io::{Cursor, Write};

use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::{Compression, Crc, GzBuilder};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime};

/// A metadata file as a build backend writes it.
pub fn metadata(name: &str, version: &str) -> String {
    format!(
        "Metadata-Version: 2.4\nName: {name}\nVersion: {version}\nSummary: A seed package\n\
         License-Expression: MIT\nRequires-Python: >=3.9\nRequires-Dist: requests>=2\n\
         Requires-Dist: rich; extra == \"cli\"\nProvides-Extra: cli\n\
         Project-URL: Source, https://example.invalid/{name}\n\
         Description-Content-Type: text/markdown\n\n# {name}\n\nA description.\n"
    )
}

/// One zip entry: name, bytes, and whether it is deflated (else stored).
pub type Entry<'a> = (&'a str, &'a [u8], bool);

/// A wheel written by the `zip` crate (sizes in the local headers); `zip64` adds the Zip64
/// extra field to every local header, as writers do for files they cannot size up front.
pub fn wheel(entries: &[Entry<'_>], zip64: bool) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, deflate) in entries {
        let method = if *deflate {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(zip64);
        writer
            .start_file(*name, options)
            .expect("start a zip entry");
        writer.write_all(data).expect("write a zip entry");
    }
    writer.finish().expect("finish the zip").into_inner()
}

/// A wheel whose entries are deflated with their sizes and CRC in a signed data descriptor
/// after the data (general purpose flag bit 3), as streaming zip writers do. The `zip`
/// crate's writer cannot make these, so it is written field by field here and read back
/// with the `zip` crate's reader.
pub fn wheel_with_data_descriptors(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = u32::try_from(zip.len()).expect("a small zip");
        let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
        deflater.write_all(data).expect("deflate");
        let compressed = deflater.finish().expect("deflate");
        let mut crc = Crc::new();
        crc.update(data);
        let (crc, csize) = (crc.sum(), u32::try_from(compressed.len()).expect("small"));
        let size = u32::try_from(data.len()).expect("small");
        let name_len = u16::try_from(name.len()).expect("short name");
        let flags: u16 = 1 << 3;
        // Local header: version 20, flags, deflate, time and date 0, CRC and sizes 0.
        zip.extend_from_slice(b"PK\x03\x04");
        zip.extend_from_slice(&20u16.to_le_bytes());
        zip.extend_from_slice(&flags.to_le_bytes());
        zip.extend_from_slice(&8u16.to_le_bytes());
        zip.extend_from_slice(&[0; 4 + 12]);
        zip.extend_from_slice(&name_len.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip.extend_from_slice(name.as_bytes());
        zip.extend_from_slice(&compressed);
        zip.extend_from_slice(b"PK\x07\x08");
        for field in [crc, csize, size] {
            zip.extend_from_slice(&field.to_le_bytes());
        }
        // Its central directory record.
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&8u16.to_le_bytes());
        central.extend_from_slice(&[0; 4]);
        for field in [crc, csize, size] {
            central.extend_from_slice(&field.to_le_bytes());
        }
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 2 + 2 + 2 + 2 + 4]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(entries.len()).expect("few entries");
    let central_offset = u32::try_from(zip.len()).expect("small");
    let central_size = u32::try_from(central.len()).expect("small");
    zip.extend_from_slice(&central);
    zip.extend_from_slice(b"PK\x05\x06");
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&count.to_le_bytes());
    zip.extend_from_slice(&count.to_le_bytes());
    zip.extend_from_slice(&central_size.to_le_bytes());
    zip.extend_from_slice(&central_offset.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());

    let mut read = zip::ZipArchive::new(Cursor::new(&zip)).expect("the zip crate reads it");
    for (index, (_, data)) in entries.iter().enumerate() {
        let mut entry = read.by_index(index).expect("entry");
        let mut back = Vec::new();
        std::io::copy(&mut entry, &mut back).expect("inflate");
        assert_eq!(&back, data, "hand-built zip entry reads back");
    }
    zip
}

/// How a tar entry names a path longer than the 100 bytes of a ustar name field.
#[derive(Clone, Copy)]
pub enum LongNames {
    /// A GNU `././@LongLink` entry before it (what `tar` and the tar crate write).
    Gnu,
    /// A pax extended header (`x`) with a `path=` record, as Python's tarfile writes.
    Pax,
}

/// An sdist: a gzip'd tar of `(path, bytes)` entries, every header's time and owner fixed so
/// the bytes are the same on every run.
pub fn sdist(entries: &[(&str, &[u8])], long_names: LongNames) -> Vec<u8> {
    let gzip = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gzip);
    for (path, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        if path.len() > 100 {
            if let LongNames::Pax = long_names {
                let record = pax_record("path", path);
                let mut pax = tar::Header::new_ustar();
                pax.set_path("PaxHeader").expect("short name");
                pax.set_size(record.len() as u64);
                pax.set_mode(0o644);
                pax.set_mtime(0);
                pax.set_entry_type(tar::EntryType::XHeader);
                pax.set_cksum();
                tar.append(&pax, record.as_slice())
                    .expect("append pax header");
                // Readers take the pax `path`; the ustar name is a stand-in.
                header.set_path("long-name-stand-in").expect("short name");
                header.set_cksum();
                tar.append(&header, *data).expect("append entry");
                continue;
            }
        }
        tar.append_data(&mut header, path, *data)
            .expect("append entry");
    }
    let gzip: GzEncoder<Vec<u8>> = tar.into_inner().expect("finish the tar");
    gzip.finish().expect("finish the gzip")
}

/// `"<length> <key>=<value>\n"`, where the length counts the whole record.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut length = body.len() + 1;
    while format!("{length}{body}").len() != length {
        length += 1;
    }
    format!("{length}{body}").into_bytes()
}
