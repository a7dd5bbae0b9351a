//! Reading a source distribution (`.tar.gz`) front to back until its `PKG-INFO`.
//!
//! flate2's push-style gzip decoder turns the compressed bytes into tar bytes, which go to a
//! small tar reader here: 512-byte headers (decoded with the `tar` crate's [`tar::Header`]
//! and [`tar::PaxExtensions`]), entry data skipped or, for `<top-level dir>/PKG-INFO`, kept.
//! Reading stops at `PKG-INFO` or at the end-of-archive marker.

use std::io::{self, Write};

use flate2::write::MultiGzDecoder;

use crate::error::malformed;
use crate::error::Extracted;
use crate::inflate::InflateBudget;
use crate::{MetadataError, MetadataLimits};

const BLOCK: usize = 512;
/// The checksum field of a tar header, counted as spaces when the checksum is computed.
const CHECKSUM_FIELD: std::ops::Range<usize> = 148..156;
/// The largest PAX header or GNU long name accepted: real ones are a few hundred bytes.
const MAX_EXTENSION_SIZE: u64 = 1024 * 1024;

/// A push-style reader of an sdist's compressed bytes, looking for its `PKG-INFO`.
pub(crate) struct SdistReader {
    decoder: MultiGzDecoder<TarReader>,
}

impl SdistReader {
    pub(crate) fn new(limits: MetadataLimits) -> Self {
        Self {
            decoder: MultiGzDecoder::new(TarReader::new(limits)),
        }
    }

    /// Reads the next piece of the file; returns the result once it is known.
    pub(crate) fn feed(&mut self, mut input: &[u8]) -> Option<Extracted> {
        while !input.is_empty() {
            let written = self.decoder.write(input);
            // The tar reader never fails a write, so its verdict comes first.
            if let Some(extracted) = self.decoder.get_mut().outcome.take() {
                return Some(extracted);
            }
            match written {
                Ok(0) => return Some(Err(malformed("the gzip stream stopped taking data"))),
                Ok(written) => input = input.get(written..).unwrap_or_default(),
                Err(err) => return Some(Err(gzip_error(&err))),
            }
        }
        None
    }

    /// The result when the stream ends before the reader is done.
    pub(crate) fn finish(mut self) -> Extracted {
        // The decoder holds back its last output until it is told the input is over. Its own
        // error here can only be about the gzip stream being cut short, as is the tar one.
        let _ = self.decoder.try_finish();
        self.decoder
            .get_mut()
            .outcome
            .take()
            .unwrap_or(Err(MetadataError::Truncated {
                reading: "the tar archive (no end-of-archive marker)",
            }))
    }
}

fn gzip_error(err: &io::Error) -> MetadataError {
    malformed(format!("invalid gzip data: {err}"))
}

/// Where the tar reader is.
enum TarState {
    /// Gathering a 512-byte header block.
    Header,
    /// Skipping this many bytes (data of an entry nobody needs, or padding).
    Skip(u64),
    /// Gathering the data of a PAX header or GNU long name for the next entry.
    Extension {
        kind: Extension,
        data: Vec<u8>,
        remaining: u64,
        padding: u64,
    },
    /// Gathering `PKG-INFO`.
    PkgInfo { data: Vec<u8>, remaining: u64 },
    /// Done: later bytes are ignored.
    Done,
}

#[derive(Clone, Copy)]
enum Extension {
    Pax,
    GnuLongName,
}

/// A tar reader fed decompressed bytes through [`Write`]; it records its result in
/// `outcome` and never fails a write, so gzip errors and tar errors stay apart.
struct TarReader {
    state: TarState,
    block: Vec<u8>,
    /// Path and size for the next entry, from a PAX header or GNU long name.
    next_path: Option<Vec<u8>>,
    next_size: Option<u64>,
    budget: InflateBudget,
    max_metadata_size: usize,
    /// Decompressed bytes read so far, and where the current header block starts, for error
    /// messages.
    offset: u64,
    header_start: u64,
    outcome: Option<Extracted>,
}

impl Write for TarReader {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if !matches!(self.state, TarState::Done) {
            if let Err(err) = self.read(bytes) {
                self.finish_with(Err(err));
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TarReader {
    fn new(limits: MetadataLimits) -> Self {
        Self {
            state: TarState::Header,
            block: Vec::with_capacity(BLOCK),
            next_path: None,
            next_size: None,
            budget: InflateBudget::new(limits.max_inflated_size),
            max_metadata_size: limits.max_metadata_size,
            offset: 0,
            header_start: 0,
            outcome: None,
        }
    }

    fn finish_with(&mut self, extracted: Extracted) {
        self.state = TarState::Done;
        self.outcome = Some(extracted);
    }

    fn read(&mut self, mut bytes: &[u8]) -> Result<(), MetadataError> {
        self.budget.spend(bytes.len())?;
        while !bytes.is_empty() {
            let taken = self.step(bytes)?;
            if taken == 0 {
                // Every state takes at least a byte; stop rather than spin if one does not.
                return Err(malformed("the tar reader stopped making progress"));
            }
            self.offset += taken as u64;
            bytes = bytes.get(taken..).unwrap_or_default();
        }
        Ok(())
    }

    /// Takes what the current state needs from `bytes`; returns how much it took.
    fn step(&mut self, bytes: &[u8]) -> Result<usize, MetadataError> {
        match &mut self.state {
            TarState::Done => Ok(bytes.len()),
            TarState::Header => {
                if self.block.is_empty() {
                    self.header_start = self.offset;
                }
                let more = bytes
                    .get(..BLOCK.saturating_sub(self.block.len()))
                    .unwrap_or(bytes);
                self.block.extend_from_slice(more);
                if self.block.len() == BLOCK {
                    let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
                    self.read_header(&block)?;
                }
                Ok(more.len())
            }
            TarState::Skip(remaining) => {
                let taken = bytes
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= taken as u64;
                if *remaining == 0 {
                    self.state = TarState::Header;
                }
                Ok(taken)
            }
            TarState::Extension {
                kind,
                data,
                remaining,
                padding,
            } => {
                let more = take(bytes, remaining);
                data.extend_from_slice(more);
                if *remaining == 0 {
                    let (kind, data, padding) = (*kind, std::mem::take(data), *padding);
                    self.apply_extension(kind, &data)?;
                    self.skip(padding);
                }
                Ok(more.len())
            }
            TarState::PkgInfo { data, remaining } => {
                let more = take(bytes, remaining);
                data.extend_from_slice(more);
                if *remaining == 0 {
                    let data = std::mem::take(data);
                    self.finish_with(Ok(Some(data)));
                }
                Ok(more.len())
            }
        }
    }

    fn skip(&mut self, amount: u64) {
        self.state = if amount == 0 {
            TarState::Header
        } else {
            TarState::Skip(amount)
        };
    }

    fn read_header(&mut self, block: &[u8]) -> Result<(), MetadataError> {
        if block.iter().all(|&byte| byte == 0) {
            self.finish_with(Ok(None));
            return Ok(());
        }
        let start = self.header_start;
        let Ok(bytes) = <&[u8; BLOCK]>::try_from(block) else {
            return Err(malformed(format!(
                "a tar header at offset {start} is cut short"
            )));
        };
        let mut header = tar::Header::new_old();
        *header.as_mut_bytes() = *bytes;
        let stored = header.cksum().ok();
        if stored != Some(checksum(block)) && stored != Some(signed_checksum(block)) {
            return Err(malformed(format!(
                "expected a tar header at offset {start} of the uncompressed archive, \
                 but the checksum does not match"
            )));
        }
        let header_size = || {
            header
                .entry_size()
                .map_err(|err| malformed(format!("bad tar header at offset {start}: {err}")))
        };
        match header.entry_type().as_byte() {
            b'x' => self.begin_extension(Extension::Pax, header_size()?),
            b'L' => self.begin_extension(Extension::GnuLongName, header_size()?),
            // A global PAX header or a GNU long link name: nothing we need.
            b'g' | b'K' => {
                self.skip(padded(header_size()?)?);
                Ok(())
            }
            entry_type => {
                let size = match self.next_size.take() {
                    Some(size) => size,
                    None => header_size()?,
                };
                let path = match self.next_path.take() {
                    Some(path) => path,
                    None => header.path_bytes().into_owned(),
                };
                let regular_file = matches!(entry_type, b'0' | b'\0' | b'7');
                if regular_file && is_pkg_info(&path) {
                    self.begin_pkg_info(&path, size)
                } else {
                    self.skip(padded(size)?);
                    Ok(())
                }
            }
        }
    }

    fn begin_extension(&mut self, kind: Extension, size: u64) -> Result<(), MetadataError> {
        if size > MAX_EXTENSION_SIZE {
            return Err(malformed(format!(
                "a tar extension header of {size} bytes is larger than {MAX_EXTENSION_SIZE} bytes"
            )));
        }
        if size > 0 {
            self.state = TarState::Extension {
                kind,
                data: Vec::new(),
                remaining: size,
                padding: padded(size)? - size,
            };
        }
        Ok(())
    }

    fn begin_pkg_info(&mut self, path: &[u8], size: u64) -> Result<(), MetadataError> {
        if size > self.max_metadata_size as u64 {
            return Err(MetadataError::TooLarge {
                path: String::from_utf8_lossy(path).into_owned(),
                limit: self.max_metadata_size,
            });
        }
        if size == 0 {
            self.finish_with(Ok(Some(Vec::new())));
        } else {
            self.state = TarState::PkgInfo {
                data: Vec::with_capacity(usize::try_from(size).unwrap_or(0)),
                remaining: size,
            };
        }
        Ok(())
    }

    fn apply_extension(&mut self, kind: Extension, data: &[u8]) -> Result<(), MetadataError> {
        match kind {
            Extension::GnuLongName => {
                let end = data
                    .iter()
                    .rposition(|&byte| byte != 0)
                    .map_or(0, |i| i + 1);
                self.next_path = Some(data.get(..end).unwrap_or_default().to_vec());
            }
            Extension::Pax => {
                for extension in tar::PaxExtensions::new(data) {
                    let extension =
                        extension.map_err(|err| malformed(format!("bad tar PAX header: {err}")))?;
                    match extension.key_bytes() {
                        b"path" => self.next_path = Some(extension.value_bytes().to_vec()),
                        b"size" => {
                            let size = std::str::from_utf8(extension.value_bytes())
                                .ok()
                                .and_then(|size| size.parse().ok())
                                .ok_or_else(|| malformed("bad size in a tar PAX header"))?;
                            self.next_size = Some(size);
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// `size` rounded up to whole blocks, as entry data is stored.
fn padded(size: u64) -> Result<u64, MetadataError> {
    size.checked_next_multiple_of(BLOCK as u64)
        .ok_or_else(|| malformed(format!("impossible tar entry size {size}")))
}

/// Takes up to `remaining` bytes from the front of `bytes`, counting them off.
fn take<'a>(bytes: &'a [u8], remaining: &mut u64) -> &'a [u8] {
    let len = bytes
        .len()
        .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
    *remaining -= len as u64;
    bytes.get(..len).unwrap_or(bytes)
}

/// The tar header checksum: the sum of the block's bytes, the checksum field read as spaces.
fn checksum(block: &[u8]) -> u32 {
    block
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            if CHECKSUM_FIELD.contains(&index) {
                u32::from(b' ')
            } else {
                u32::from(byte)
            }
        })
        .sum()
}

/// The checksum as some old tar writers computed it, summing bytes as signed.
fn signed_checksum(block: &[u8]) -> u32 {
    let sum: i64 = block
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            if CHECKSUM_FIELD.contains(&index) {
                i64::from(b' ')
            } else {
                i64::from(byte as i8)
            }
        })
        .sum();
    sum as u32
}

/// Whether `path` is `<top-level dir>/PKG-INFO` (a leading `./` allowed).
fn is_pkg_info(path: &[u8]) -> bool {
    let path = path.strip_prefix(b"./").unwrap_or(path);
    match path.strip_suffix(b"/PKG-INFO") {
        Some(top) => !top.is_empty() && !top.contains(&b'/') && top != b"." && top != b"..",
        None => false,
    }
}

#[cfg(test)]
mod tests;
