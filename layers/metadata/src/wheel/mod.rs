//! Reading a wheel (a zip archive) front to back, through its local file headers.
//!
//! The central directory, where zip readers normally start, is at the end of the file, so a
//! forward-only reader walks the local file headers instead. An entry's data is skipped by
//! its size when the header gives it; when the sizes follow the data (a data descriptor, flag
//! bit 3), a deflated entry is inflated to find where its stream ends, and a stored one cannot
//! be followed at all, so the reader gives up there.

mod records;
mod select;

use flate2::Crc;

use crate::error::malformed;
use crate::error::Extracted;
use crate::inflate::{InflateBudget, Inflater, Output};
use crate::{ExpectedRelease, MetadataError, MetadataLimits};
use records::{
    data_descriptor_len, parse_local_header, record_start, LocalHeader, Method, RecordStart,
    MAX_DESCRIPTOR_LEN,
};
use select::{dist_info_dir, Decision, Fit, Selection};

/// A push-style reader of a wheel's bytes, looking for its metadata file.
pub(crate) struct WheelReader {
    state: State,
    selection: Selection,
    inflater: Option<Inflater>,
    budget: InflateBudget,
    max_metadata_size: usize,
}

enum State {
    /// Reading the next record's header (bytes gathered so far).
    Header(Vec<u8>),
    /// Skipping this many bytes of an entry nobody needs.
    Skip(u64),
    /// Reading an entry's data.
    Data(Entry),
    /// Reading the data descriptor after an entry's data (bytes gathered so far).
    Descriptor(Entry, Vec<u8>),
}

/// An entry whose data is being read.
struct Entry {
    header: LocalHeader,
    /// Compressed bytes still to come, when the header says; `None` until the deflate
    /// stream ends.
    remaining: Option<u64>,
    /// Where a metadata candidate's bytes go; `None` when the data is only inflated to find
    /// its end.
    collected: Option<(Fit, Vec<u8>)>,
    /// The CRC-32 of collected stored data (inflated data has the inflater's).
    stored_crc: Crc,
}

/// What one step did.
enum Step {
    /// Consumed this many input bytes; the archive goes on.
    Consumed(usize),
    /// The reader is done.
    Finished(Extracted),
}

impl WheelReader {
    pub(crate) fn new(expected: Option<ExpectedRelease>, limits: MetadataLimits) -> Self {
        Self {
            state: State::Header(Vec::new()),
            selection: Selection::new(expected),
            inflater: None,
            budget: InflateBudget::new(limits.max_inflated_size),
            max_metadata_size: limits.max_metadata_size,
        }
    }

    /// Reads the next piece of the archive; returns the result once it is known.
    pub(crate) fn feed(&mut self, mut input: &[u8]) -> Option<Extracted> {
        let mut idle_steps = 0;
        while !input.is_empty() {
            match self.step(input) {
                Ok(Step::Finished(extracted)) => return Some(extracted),
                Err(err) => return Some(Err(err)),
                Ok(Step::Consumed(consumed)) => {
                    // Every step either consumes input or changes state; two idle steps in
                    // a row would mean a loop that never ends, so stop instead.
                    idle_steps = if consumed == 0 { idle_steps + 1 } else { 0 };
                    if idle_steps > 2 {
                        return Some(Err(malformed("the zip reader stopped making progress")));
                    }
                    input = input.get(consumed..).unwrap_or_default();
                }
            }
        }
        None
    }

    /// The result when the stream ends before the reader is done.
    pub(crate) fn finish(self) -> Extracted {
        let reading = match self.state {
            State::Header(_) => "a zip record header (the central directory never came)",
            State::Skip(_) | State::Data(_) => "a zip entry's data",
            State::Descriptor(..) => "a zip data descriptor",
        };
        Err(MetadataError::Truncated { reading })
    }

    fn step(&mut self, input: &[u8]) -> Result<Step, MetadataError> {
        match std::mem::replace(&mut self.state, State::Header(Vec::new())) {
            State::Header(gathered) => self.read_header(gathered, input),
            State::Skip(remaining) => {
                let taken = input
                    .len()
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                let remaining = remaining - taken as u64;
                if remaining > 0 {
                    self.state = State::Skip(remaining);
                }
                Ok(Step::Consumed(taken))
            }
            State::Data(entry) => self.read_data(entry, input),
            State::Descriptor(entry, gathered) => self.read_descriptor(entry, gathered, input),
        }
    }

    fn read_header(&mut self, mut gathered: Vec<u8>, input: &[u8]) -> Result<Step, MetadataError> {
        let mut taken = 0;
        let header_len = loop {
            let wanted = match record_start(&gathered)? {
                RecordStart::EndOfEntries => {
                    let selection = std::mem::replace(&mut self.selection, Selection::new(None));
                    return Ok(Step::Finished(selection.finish()));
                }
                RecordStart::LocalFile(len) if gathered.len() >= len => break len,
                RecordStart::LocalFile(len) | RecordStart::NeedMore(len) => len,
            };
            let available = input.get(taken..).unwrap_or_default();
            let more = available
                .get(..wanted.saturating_sub(gathered.len()))
                .unwrap_or(available);
            if more.is_empty() {
                self.state = State::Header(gathered);
                return Ok(Step::Consumed(taken));
            }
            gathered.extend_from_slice(more);
            taken += more.len();
        };
        let header = parse_local_header(gathered.get(..header_len).unwrap_or_default())?;
        match self.begin_entry(header)? {
            Some(extracted) => Ok(Step::Finished(extracted)),
            None => Ok(Step::Consumed(taken)),
        }
    }

    /// Decides how to read the entry `header` introduces; sets the next state.
    fn begin_entry(&mut self, header: LocalHeader) -> Result<Option<Extracted>, MetadataError> {
        let decision = match dist_info_dir(&header.path) {
            Some(dir) => self.selection.classify(dir)?,
            None => Decision::Skip,
        };
        let collect = match decision {
            Decision::Collect(fit) => {
                self.check_readable_metadata(&header)?;
                Some((fit, Vec::new()))
            }
            Decision::Skip if !header.has_data_descriptor => {
                if header.compressed_size > 0 {
                    self.state = State::Skip(header.compressed_size);
                }
                return Ok(None);
            }
            Decision::Skip if header.method == Method::Deflated && !header.encrypted => None,
            Decision::Skip => {
                let how = if header.encrypted {
                    "encrypted"
                } else {
                    "not deflated"
                };
                let reason = format!(
                    "its data is {how} and its size comes after the data, so its end cannot \
                     be found without the central directory"
                );
                return Ok(Some(self.give_up(MetadataError::Unsupported {
                    path: header.path,
                    reason,
                })));
            }
        };
        if header.method == Method::Deflated {
            self.inflater.get_or_insert_with(Inflater::new).reset();
        }
        let remaining = (!header.has_data_descriptor).then_some(header.compressed_size);
        let entry = Entry {
            header,
            remaining,
            collected: collect,
            stored_crc: Crc::new(),
        };
        if entry.remaining == Some(0) && entry.header.method == Method::Stored {
            return self.finish_data(entry);
        }
        self.state = State::Data(entry);
        Ok(None)
    }

    fn check_readable_metadata(&self, header: &LocalHeader) -> Result<(), MetadataError> {
        let unsupported = |reason: &str| MetadataError::Unsupported {
            path: header.path.clone(),
            reason: reason.into(),
        };
        if header.encrypted {
            return Err(unsupported("it is encrypted"));
        }
        match header.method {
            Method::Stored if header.has_data_descriptor => {
                return Err(unsupported(
                    "it is stored with its size after the data, so its end cannot be found",
                ))
            }
            Method::Stored | Method::Deflated => {}
            Method::Other(method) => {
                return Err(unsupported(&format!(
                    "compression method {method} is not supported (only stored and deflated)"
                )))
            }
        }
        if !header.has_data_descriptor && header.uncompressed_size > self.max_metadata_size as u64 {
            return Err(MetadataError::TooLarge {
                path: header.path.clone(),
                limit: self.max_metadata_size,
            });
        }
        Ok(())
    }

    fn read_data(&mut self, mut entry: Entry, input: &[u8]) -> Result<Step, MetadataError> {
        let limit = entry.remaining.map_or(input.len(), |remaining| {
            input
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX))
        });
        let data = input.get(..limit).unwrap_or(input);
        let (consumed, complete) = match entry.header.method {
            Method::Deflated => {
                let inflater = self.inflater.get_or_insert_with(Inflater::new);
                let mut output = match &mut entry.collected {
                    Some((_, buffer)) => Output::Collect {
                        buffer,
                        limit: self.max_metadata_size,
                        path: &entry.header.path,
                    },
                    None => Output::Discard,
                };
                let fed = inflater.feed(data, &mut output, &mut self.budget)?;
                if let Some(remaining) = &mut entry.remaining {
                    *remaining = remaining.saturating_sub(fed.consumed as u64);
                    if fed.ended != (*remaining == 0) {
                        return Err(malformed(format!(
                            "the deflate stream of zip entry {:?} does not end with its \
                             compressed size",
                            entry.header.path
                        )));
                    }
                }
                (fed.consumed, fed.ended)
            }
            Method::Stored | Method::Other(_) => {
                entry.stored_crc.update(data);
                let mut output = match &mut entry.collected {
                    Some((_, buffer)) => Output::Collect {
                        buffer,
                        limit: self.max_metadata_size,
                        path: &entry.header.path,
                    },
                    None => Output::Discard,
                };
                output.accept(data)?;
                let remaining = entry
                    .remaining
                    .unwrap_or(0)
                    .saturating_sub(data.len() as u64);
                entry.remaining = Some(remaining);
                (data.len(), remaining == 0)
            }
        };
        if !complete {
            self.state = State::Data(entry);
            return Ok(Step::Consumed(consumed));
        }
        Ok(match self.finish_data(entry)? {
            Some(extracted) => Step::Finished(extracted),
            None => Step::Consumed(consumed),
        })
    }

    /// After an entry's data: reads its descriptor next, or checks it and moves on.
    fn finish_data(&mut self, entry: Entry) -> Result<Option<Extracted>, MetadataError> {
        if entry.header.has_data_descriptor {
            self.state = State::Descriptor(entry, Vec::with_capacity(MAX_DESCRIPTOR_LEN));
            return Ok(None);
        }
        if let Some((_, bytes)) = &entry.collected {
            let crc = match entry.header.method {
                Method::Deflated => self.inflater.as_ref().map_or(0, Inflater::crc),
                Method::Stored | Method::Other(_) => entry.stored_crc.sum(),
            };
            if crc != entry.header.crc32 || bytes.len() as u64 != entry.header.uncompressed_size {
                return Err(MetadataError::ChecksumMismatch {
                    path: entry.header.path,
                });
            }
        }
        Ok(self.finish_entry(entry))
    }

    fn read_descriptor(
        &mut self,
        entry: Entry,
        mut gathered: Vec<u8>,
        input: &[u8],
    ) -> Result<Step, MetadataError> {
        let more = input
            .get(..MAX_DESCRIPTOR_LEN.saturating_sub(gathered.len()))
            .unwrap_or(input);
        gathered.extend_from_slice(more);
        if gathered.len() < MAX_DESCRIPTOR_LEN {
            self.state = State::Descriptor(entry, gathered);
            return Ok(Step::Consumed(more.len()));
        }
        // Only deflated entries get here: stored ones with a descriptor are refused earlier.
        let (crc, compressed, uncompressed) = self
            .inflater
            .as_ref()
            .map_or((0, 0, 0), |i| (i.crc(), i.total_in(), i.total_out()));
        let descriptor_len =
            data_descriptor_len(&gathered, crc, compressed, uncompressed, entry.header.zip64)
                .ok_or_else(|| match &entry.collected {
                    Some(_) => MetadataError::ChecksumMismatch {
                        path: entry.header.path.clone(),
                    },
                    None => malformed(format!(
                        "the data descriptor of zip entry {:?} does not match its data",
                        entry.header.path
                    )),
                })?;
        if let Some(extracted) = self.finish_entry(entry) {
            return Ok(Step::Finished(extracted));
        }
        // The bytes read past the descriptor start the next record.
        let next = gathered.split_off(descriptor_len);
        match self.read_header(next, &[])? {
            Step::Finished(extracted) => Ok(Step::Finished(extracted)),
            Step::Consumed(_) => Ok(Step::Consumed(more.len())),
        }
    }

    /// Hands a complete metadata candidate to the selection; the next record follows.
    fn finish_entry(&mut self, entry: Entry) -> Option<Extracted> {
        self.state = State::Header(Vec::new());
        let (fit, bytes) = entry.collected?;
        self.selection
            .accept(fit, bytes)
            .map(|bytes| Ok(Some(bytes)))
    }

    /// Stops reading because of `err`, returning what was found so far if anything was.
    fn give_up(&mut self, err: MetadataError) -> Extracted {
        match self.selection.take_best() {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(err),
        }
    }
}

#[cfg(test)]
mod tests;
