//! Raw DEFLATE decompression fed in pieces, with a budget against decompression bombs.

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::MetadataError;

/// How much decompressed output is produced per step before it is handed on.
const SCRATCH_SIZE: usize = 32 * 1024;

/// The decompressed bytes a tap may still produce, shared by every entry it inflates.
#[derive(Debug)]
pub(crate) struct InflateBudget {
    limit: u64,
    used: u64,
}

impl InflateBudget {
    pub(crate) fn new(limit: u64) -> Self {
        Self { limit, used: 0 }
    }

    /// Counts `amount` more bytes, failing once the total passes the limit.
    pub(crate) fn spend(&mut self, amount: usize) -> Result<(), MetadataError> {
        self.used = self.used.saturating_add(amount as u64);
        if self.used > self.limit {
            return Err(MetadataError::InflateLimit { limit: self.limit });
        }
        Ok(())
    }
}

/// Where inflated bytes go.
pub(crate) enum Output<'a> {
    /// Counted and checksummed, then dropped.
    Discard,
    /// Appended to a buffer that may not grow past `limit` bytes.
    Collect {
        buffer: &'a mut Vec<u8>,
        limit: usize,
        path: &'a str,
    },
}

impl Output<'_> {
    pub(crate) fn accept(&mut self, bytes: &[u8]) -> Result<(), MetadataError> {
        if let Output::Collect {
            buffer,
            limit,
            path,
        } = self
        {
            if buffer.len().saturating_add(bytes.len()) > *limit {
                return Err(MetadataError::TooLarge {
                    path: (*path).to_owned(),
                    limit: *limit,
                });
            }
            buffer.extend_from_slice(bytes);
        }
        Ok(())
    }
}

/// The result of one [`Inflater::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fed {
    /// How many input bytes were consumed; the rest, if any, follow the deflate stream.
    pub(crate) consumed: usize,
    /// Whether the deflate stream has ended.
    pub(crate) ended: bool,
}

/// One raw DEFLATE stream being decompressed, with the CRC-32 and size of its output.
pub(crate) struct Inflater {
    decompress: Decompress,
    crc: Crc,
    scratch: Vec<u8>,
}

impl Inflater {
    pub(crate) fn new() -> Self {
        Self {
            decompress: Decompress::new(false),
            crc: Crc::new(),
            scratch: vec![0; SCRATCH_SIZE],
        }
    }

    /// Gets ready for a new stream, keeping the allocations.
    pub(crate) fn reset(&mut self) {
        self.decompress.reset(false);
        self.crc = Crc::new();
    }

    /// Compressed bytes consumed since the last reset.
    pub(crate) fn total_in(&self) -> u64 {
        self.decompress.total_in()
    }

    /// Decompressed bytes produced since the last reset.
    pub(crate) fn total_out(&self) -> u64 {
        self.decompress.total_out()
    }

    /// The CRC-32 of the output since the last reset.
    pub(crate) fn crc(&self) -> u32 {
        self.crc.sum()
    }

    /// Decompresses as much of `input` as belongs to the stream, sending the output on.
    ///
    /// Stops at the end of the stream, so input past it is left unconsumed (the decoder does
    /// not read ahead past the final block).
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        output: &mut Output<'_>,
        budget: &mut InflateBudget,
    ) -> Result<Fed, MetadataError> {
        let mut consumed = 0;
        loop {
            let before_in = self.decompress.total_in();
            let before_out = self.decompress.total_out();
            let status = self
                .decompress
                .decompress(input, &mut self.scratch, FlushDecompress::None)
                .map_err(|err| MetadataError::Malformed {
                    detail: format!("invalid deflate data: {err}"),
                })?;
            let read = usize::try_from(self.decompress.total_in() - before_in).unwrap_or(0);
            let written = usize::try_from(self.decompress.total_out() - before_out).unwrap_or(0);
            let produced = self.scratch.get(..written).unwrap_or_default();
            budget.spend(produced.len())?;
            self.crc.update(produced);
            output.accept(produced)?;
            consumed += read;
            input = input.get(read..).unwrap_or_default();
            match status {
                Status::StreamEnd => {
                    return Ok(Fed {
                        consumed,
                        ended: true,
                    })
                }
                Status::Ok | Status::BufError if read == 0 && written == 0 => {
                    return Ok(Fed {
                        consumed,
                        ended: false,
                    })
                }
                Status::Ok | Status::BufError => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{write::DeflateEncoder, Compression};

    use super::*;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn stops_exactly_at_the_end_of_the_stream() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|n| n.to_le_bytes()).collect();
        let mut input = deflate(&data);
        let compressed_len = input.len();
        input.extend_from_slice(b"TRAILER");
        for chunk_size in [1, 7, 4096, input.len()] {
            let mut inflater = Inflater::new();
            let mut out = Vec::new();
            let mut budget = InflateBudget::new(u64::MAX);
            let mut offset = 0;
            let mut ended = false;
            while !ended {
                let end = (offset + chunk_size).min(input.len());
                let mut output = Output::Collect {
                    buffer: &mut out,
                    limit: usize::MAX,
                    path: "x",
                };
                let fed = inflater
                    .feed(&input[offset..end], &mut output, &mut budget)
                    .unwrap();
                offset += fed.consumed;
                ended = fed.ended;
                if !ended {
                    assert_eq!(offset, end, "all input taken before the end");
                }
            }
            assert_eq!(offset, compressed_len, "chunk size {chunk_size}");
            assert_eq!(inflater.total_in(), compressed_len as u64);
            assert_eq!(out, data);
            assert_eq!(inflater.total_out(), data.len() as u64);
        }
    }

    #[test]
    fn the_budget_stops_a_bomb() {
        let input = deflate(&vec![0; 10 * 1024 * 1024]);
        let mut inflater = Inflater::new();
        let mut budget = InflateBudget::new(1024 * 1024);
        let err = inflater
            .feed(&input, &mut Output::Discard, &mut budget)
            .unwrap_err();
        assert_eq!(err, MetadataError::InflateLimit { limit: 1024 * 1024 });
    }

    #[test]
    fn collecting_past_the_limit_fails() {
        let input = deflate(&[b'a'; 1000]);
        let mut out = Vec::new();
        let mut output = Output::Collect {
            buffer: &mut out,
            limit: 999,
            path: "d.dist-info/METADATA",
        };
        let err = Inflater::new()
            .feed(&input, &mut output, &mut InflateBudget::new(u64::MAX))
            .unwrap_err();
        assert!(matches!(err, MetadataError::TooLarge { limit: 999, .. }));
    }

    #[test]
    fn garbage_is_an_error() {
        let err = Inflater::new()
            .feed(
                &[0xff; 64],
                &mut Output::Discard,
                &mut InflateBudget::new(u64::MAX),
            )
            .unwrap_err();
        assert!(matches!(err, MetadataError::Malformed { .. }));
    }

    #[test]
    fn crc_matches_an_independent_crc() {
        let input = deflate(b"hello world");
        let mut inflater = Inflater::new();
        inflater
            .feed(&input, &mut Output::Discard, &mut InflateBudget::new(100))
            .unwrap();
        // CRC-32 of "hello world" (as printed by Python's zlib.crc32).
        assert_eq!(inflater.crc(), 0x0d4a_1185);
    }
}
