//! The zip records a forward-only reader meets: local file headers and data descriptors.
//!
//! Layouts from the ZIP application note (APPNOTE.TXT), sections 4.3.7 (local file header),
//! 4.3.9 (data descriptor) and 4.5.3 (Zip64 extended information).

use crate::error::malformed;
use crate::MetadataError;

/// The fixed part of a local file header, before the name and extra field.
pub(crate) const LOCAL_HEADER_FIXED_LEN: usize = 30;

/// The longest data descriptor: signature, CRC-32 and two 8-byte sizes.
pub(crate) const MAX_DESCRIPTOR_LEN: usize = 24;

const LOCAL_FILE_SIGNATURE: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR_SIGNATURE: u32 = 0x0807_4b50;
/// Records that come after the last local file: the central directory, the Zip64 end
/// records, the end of central directory, and the rare archive extra data and digital
/// signature records.
const END_OF_ENTRIES_SIGNATURES: [u32; 6] = [
    0x0201_4b50,
    0x0606_4b50,
    0x0706_4b50,
    0x0605_4b50,
    0x0806_4b50,
    0x0505_4b50,
];

const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const ZIP64_MARKER: u32 = u32::MAX;

/// How an entry's data is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Stored,
    Deflated,
    /// Anything else (bzip2, LZMA, zstd...), by its method number.
    Other(u16),
}

/// A parsed local file header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalHeader {
    /// The entry's path, lossily decoded (metadata paths are ASCII, so nothing we look for
    /// is lost).
    pub(crate) path: String,
    pub(crate) method: Method,
    pub(crate) encrypted: bool,
    /// Sizes and CRC-32 come in a data descriptor after the data, not in this header.
    pub(crate) has_data_descriptor: bool,
    pub(crate) crc32: u32,
    pub(crate) compressed_size: u64,
    pub(crate) uncompressed_size: u64,
    /// The header carries a Zip64 extra field, so a data descriptor has 8-byte sizes.
    pub(crate) zip64: bool,
}

/// What the bytes at the start of a record are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordStart {
    /// Not enough bytes to tell yet.
    NeedMore(usize),
    /// A local file header of this many bytes (fixed part, name and extra field).
    LocalFile(usize),
    /// The local files are over.
    EndOfEntries,
}

/// Tells what record starts at `bytes` and how long its header is, from as few bytes as
/// that takes.
pub(crate) fn record_start(bytes: &[u8]) -> Result<RecordStart, MetadataError> {
    let Some(signature) = le_u32(bytes, 0) else {
        return Ok(RecordStart::NeedMore(4));
    };
    if END_OF_ENTRIES_SIGNATURES.contains(&signature) {
        return Ok(RecordStart::EndOfEntries);
    }
    if signature != LOCAL_FILE_SIGNATURE {
        return Err(malformed(format!(
            "expected a zip record, found bytes {:02x?}",
            bytes.get(..4).unwrap_or_default()
        )));
    }
    match (le_u16(bytes, 26), le_u16(bytes, 28)) {
        (Some(name_len), Some(extra_len)) => Ok(RecordStart::LocalFile(
            LOCAL_HEADER_FIXED_LEN + usize::from(name_len) + usize::from(extra_len),
        )),
        _ => Ok(RecordStart::NeedMore(LOCAL_HEADER_FIXED_LEN)),
    }
}

/// Parses a complete local file header (fixed part, name and extra field).
pub(crate) fn parse_local_header(bytes: &[u8]) -> Result<LocalHeader, MetadataError> {
    let short = || malformed("a zip local file header is cut short");
    let field16 = |offset| le_u16(bytes, offset).ok_or_else(short);
    let field32 = |offset| le_u32(bytes, offset).ok_or_else(short);
    if field32(0)? != LOCAL_FILE_SIGNATURE {
        return Err(malformed("not a zip local file header"));
    }
    let flags = field16(6)?;
    let method = match field16(8)? {
        0 => Method::Stored,
        8 => Method::Deflated,
        other => Method::Other(other),
    };
    let crc32 = field32(14)?;
    let compressed32 = field32(18)?;
    let uncompressed32 = field32(22)?;
    let name_end = LOCAL_HEADER_FIXED_LEN + usize::from(field16(26)?);
    let extra_end = name_end + usize::from(field16(28)?);
    let name = bytes
        .get(LOCAL_HEADER_FIXED_LEN..name_end)
        .ok_or_else(short)?;
    let extra = bytes.get(name_end..extra_end).ok_or_else(short)?;
    let zip64 = find_extra_field(extra, ZIP64_EXTRA_ID);
    let (uncompressed_size, compressed_size) =
        sizes_with_zip64(uncompressed32, compressed32, zip64).ok_or_else(|| {
            malformed(format!(
                "zip entry {:?} has 32-bit sizes set to 0xFFFFFFFF but no Zip64 sizes",
                String::from_utf8_lossy(name)
            ))
        })?;
    Ok(LocalHeader {
        path: String::from_utf8_lossy(name).into_owned(),
        method,
        encrypted: flags & FLAG_ENCRYPTED != 0,
        has_data_descriptor: flags & FLAG_DATA_DESCRIPTOR != 0,
        crc32,
        compressed_size,
        uncompressed_size,
        zip64: zip64.is_some(),
    })
}

/// The data of the first extra field with `id`, if any.
fn find_extra_field(mut extra: &[u8], id: u16) -> Option<&[u8]> {
    while let (Some(field_id), Some(len)) = (le_u16(extra, 0), le_u16(extra, 2)) {
        let end = 4 + usize::from(len);
        let data = extra.get(4..end)?;
        if field_id == id {
            return Some(data);
        }
        extra = extra.get(end..)?;
    }
    None
}

/// The real sizes, taking each 32-bit size marked 0xFFFFFFFF from the Zip64 field.
///
/// The Zip64 field lists the uncompressed then the compressed size. In a local header both
/// must be present; some writers store only the marked ones, which the length tells.
fn sizes_with_zip64(
    uncompressed: u32,
    compressed: u32,
    zip64: Option<&[u8]>,
) -> Option<(u64, u64)> {
    let needs_uncompressed = uncompressed == ZIP64_MARKER;
    let needs_compressed = compressed == ZIP64_MARKER;
    if !needs_uncompressed && !needs_compressed {
        return Some((u64::from(uncompressed), u64::from(compressed)));
    }
    let data = zip64?;
    let both = data.len() >= 16;
    let uncompressed = if needs_uncompressed {
        le_u64(data, 0)?
    } else {
        u64::from(uncompressed)
    };
    let compressed = if needs_compressed {
        let offset = if needs_uncompressed || both { 8 } else { 0 };
        le_u64(data, offset)?
    } else {
        u64::from(compressed)
    };
    Some((uncompressed, compressed))
}

/// The length of the data descriptor at the start of `bytes` that records `crc32` and the
/// two sizes, or `None` if none does.
///
/// The descriptor's signature is optional and its sizes are 4 or 8 bytes, so the layouts
/// are tried against the values the reader computed itself; `bytes` should hold
/// [`MAX_DESCRIPTOR_LEN`] bytes (a valid archive always has that many after a descriptor).
pub(crate) fn data_descriptor_len(
    bytes: &[u8],
    crc32: u32,
    compressed: u64,
    uncompressed: u64,
    zip64: bool,
) -> Option<usize> {
    let widths: [usize; 2] = if zip64 { [8, 4] } else { [4, 8] };
    for signed in [true, false] {
        let start = if signed { 4 } else { 0 };
        if signed && le_u32(bytes, 0) != Some(DATA_DESCRIPTOR_SIGNATURE) {
            continue;
        }
        if le_u32(bytes, start) != Some(crc32) {
            continue;
        }
        for width in widths {
            let size_at = |index: usize| {
                let offset = start + 4 + index * width;
                if width == 8 {
                    le_u64(bytes, offset)
                } else {
                    le_u32(bytes, offset).map(u64::from)
                }
            };
            if size_at(0) == Some(compressed) && size_at(1) == Some(uncompressed) {
                return Some(start + 4 + 2 * width);
            }
        }
    }
    None
}

fn le_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    let field = bytes.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_le_bytes(field.try_into().ok()?))
}

fn le_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let field = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(field.try_into().ok()?))
}

fn le_u64(bytes: &[u8], offset: usize) -> Option<u64> {
    let field = bytes.get(offset..offset.checked_add(8)?)?;
    Some(u64::from_le_bytes(field.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A local header as the APPNOTE lays it out, written field by field.
    fn header(flags: u16, method: u16, sizes: (u32, u32), name: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&LOCAL_FILE_SIGNATURE.to_le_bytes());
        bytes.extend_from_slice(&20u16.to_le_bytes()); // version needed
        bytes.extend_from_slice(&flags.to_le_bytes());
        bytes.extend_from_slice(&method.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]); // time, date
        bytes.extend_from_slice(&0xdead_beefu32.to_le_bytes());
        bytes.extend_from_slice(&sizes.0.to_le_bytes());
        bytes.extend_from_slice(&sizes.1.to_le_bytes());
        bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(extra);
        bytes
    }

    #[test]
    fn parses_a_plain_header() {
        let bytes = header(0, 8, (10, 20), b"a/METADATA", &[]);
        assert_eq!(
            record_start(&bytes).unwrap(),
            RecordStart::LocalFile(30 + 10)
        );
        let parsed = parse_local_header(&bytes).unwrap();
        assert_eq!(
            parsed,
            LocalHeader {
                path: "a/METADATA".into(),
                method: Method::Deflated,
                encrypted: false,
                has_data_descriptor: false,
                crc32: 0xdead_beef,
                compressed_size: 10,
                uncompressed_size: 20,
                zip64: false,
            }
        );
    }

    #[test]
    fn needs_more_bytes_before_deciding() {
        let bytes = header(0, 0, (0, 0), b"x", &[]);
        assert_eq!(record_start(&bytes[..3]).unwrap(), RecordStart::NeedMore(4));
        assert_eq!(
            record_start(&bytes[..29]).unwrap(),
            RecordStart::NeedMore(30)
        );
    }

    #[test]
    fn takes_zip64_sizes_from_the_extra_field() {
        let mut extra = Vec::new();
        extra.extend_from_slice(&0x5455u16.to_le_bytes()); // a timestamp field first
        extra.extend_from_slice(&5u16.to_le_bytes());
        extra.extend_from_slice(&[1, 0, 0, 0, 0]);
        extra.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&(5u64 << 32).to_le_bytes());
        extra.extend_from_slice(&(3u64 << 32).to_le_bytes());
        let bytes = header(8, 8, (u32::MAX, u32::MAX), b"big.bin", &extra);
        let parsed = parse_local_header(&bytes).unwrap();
        assert_eq!(parsed.uncompressed_size, 5 << 32);
        assert_eq!(parsed.compressed_size, 3 << 32);
        assert!(parsed.zip64);
        assert!(parsed.has_data_descriptor);
    }

    #[test]
    fn zip64_field_with_only_the_compressed_size() {
        let mut extra = Vec::new();
        extra.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
        extra.extend_from_slice(&8u16.to_le_bytes());
        extra.extend_from_slice(&(7u64 << 32).to_le_bytes());
        let bytes = header(0, 0, (u32::MAX, 100), b"x", &extra);
        let parsed = parse_local_header(&bytes).unwrap();
        assert_eq!(
            (parsed.uncompressed_size, parsed.compressed_size),
            (100, 7 << 32)
        );
    }

    #[test]
    fn zip64_marker_without_the_field_is_malformed() {
        let bytes = header(0, 0, (u32::MAX, 0), b"x", &[]);
        assert!(matches!(
            parse_local_header(&bytes),
            Err(MetadataError::Malformed { .. })
        ));
    }

    #[test]
    fn a_zip64_field_that_overruns_the_extra_is_ignored() {
        let mut extra = Vec::new();
        extra.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
        extra.extend_from_slice(&200u16.to_le_bytes());
        let bytes = header(0, 0, (1, 1), b"x", &extra);
        let parsed = parse_local_header(&bytes).unwrap();
        assert!(!parsed.zip64);
    }

    #[test]
    fn recognises_the_end_of_entries_and_garbage() {
        assert_eq!(
            record_start(&0x0201_4b50u32.to_le_bytes()).unwrap(),
            RecordStart::EndOfEntries
        );
        assert_eq!(
            record_start(&0x0605_4b50u32.to_le_bytes()).unwrap(),
            RecordStart::EndOfEntries
        );
        assert!(matches!(
            record_start(b"GIF89a"),
            Err(MetadataError::Malformed { .. })
        ));
    }

    #[test]
    fn reads_each_data_descriptor_layout() {
        let crc = 0x1234_5678u32;
        let mut signed32 = DATA_DESCRIPTOR_SIGNATURE.to_le_bytes().to_vec();
        signed32.extend_from_slice(&crc.to_le_bytes());
        signed32.extend_from_slice(&10u32.to_le_bytes());
        signed32.extend_from_slice(&20u32.to_le_bytes());
        signed32.extend_from_slice(&[0x50, 0x4b, 3, 4, 0, 0, 0, 0]);
        assert_eq!(data_descriptor_len(&signed32, crc, 10, 20, false), Some(16));

        let unsigned32 = &signed32[4..];
        assert_eq!(
            data_descriptor_len(unsigned32, crc, 10, 20, false),
            Some(12)
        );

        let mut signed64 = DATA_DESCRIPTOR_SIGNATURE.to_le_bytes().to_vec();
        signed64.extend_from_slice(&crc.to_le_bytes());
        signed64.extend_from_slice(&10u64.to_le_bytes());
        signed64.extend_from_slice(&20u64.to_le_bytes());
        assert_eq!(data_descriptor_len(&signed64, crc, 10, 20, true), Some(24));
        assert_eq!(data_descriptor_len(&signed64, crc, 10, 20, false), Some(24));

        assert_eq!(data_descriptor_len(&signed32, crc, 11, 20, false), None);
        assert_eq!(data_descriptor_len(&signed32, crc ^ 1, 10, 20, false), None);
    }
}
