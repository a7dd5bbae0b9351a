//! Writes a value as the bytes `arbitrary` 1.x decodes back into it, so a seed can be a
//! real wheel, upload body or OCI document inside a target's structured input.
//!
//! `arbitrary` reads most things from the front of the input, but the length of a byte
//! string or `str` that is not the input's last field from its *end* (one byte while at
//! most 256 bytes are left, two big-endian bytes up to 65537). So an encoding is the fronts
//! in decoding order followed by the lengths in reverse order. [`Encoder::finish`] lays
//! that out; `main.rs` decodes every seed again and compares, so a change in `arbitrary`'s
//! format fails the tests instead of silently committing seeds that mean something else.

/// One step of decoding.
enum Step {
    /// Bytes read from the front (integers, booleans, enum tags, "one more element" flags).
    Front(Vec<u8>),
    /// A byte string or `str` whose length is read from the end.
    Sized(Vec<u8>),
    /// The input's last field, which takes every byte left.
    Rest(Vec<u8>),
}

#[derive(Default)]
pub struct Encoder {
    steps: Vec<Step>,
}

impl Encoder {
    pub fn front(&mut self, bytes: &[u8]) {
        self.steps.push(Step::Front(bytes.to_vec()));
    }

    pub fn sized(&mut self, bytes: &[u8]) {
        self.steps.push(Step::Sized(bytes.to_vec()));
    }

    pub fn rest(&mut self, bytes: &[u8]) {
        self.steps.push(Step::Rest(bytes.to_vec()));
    }

    /// An enum's variant `index` of `count`: `arbitrary` reads a `u32` and takes
    /// `(u32 * count) >> 32`, so the smallest `u32` that lands on `index`.
    pub fn variant(&mut self, index: u64, count: u64) {
        let tag = (index << 32).div_ceil(count);
        let tag = u32::try_from(tag).expect("variant index within its count");
        self.front(&tag.to_le_bytes());
    }

    /// The bytes, laid out as described in the module docs.
    pub fn finish(self) -> Vec<u8> {
        // Walking backwards, `after` is how many bytes the decoder still holds once a step is
        // done; a length's width and value depend on what it holds when it reads the length.
        let mut lengths: Vec<Vec<u8>> = vec![Vec::new(); self.steps.len()];
        let mut after = 0usize;
        for (index, step) in self.steps.iter().enumerate().rev() {
            match step {
                Step::Front(bytes) | Step::Rest(bytes) => after += bytes.len(),
                Step::Sized(bytes) => {
                    let len = bytes.len();
                    lengths[index] = if len + 1 + after <= 256 {
                        after += len + 1;
                        vec![u8::try_from(len).expect("at most 255")]
                    } else if len + 2 + after <= 65537 {
                        after += len + 2;
                        u16::try_from(len)
                            .expect("at most 65535")
                            .to_be_bytes()
                            .to_vec()
                    } else {
                        panic!("seeds stay under 64 KiB");
                    };
                }
            }
        }
        let mut encoded = Vec::with_capacity(after);
        for step in &self.steps {
            match step {
                Step::Front(bytes) | Step::Sized(bytes) | Step::Rest(bytes) => {
                    encoded.extend_from_slice(bytes)
                }
            }
        }
        for length in lengths.iter().rev() {
            encoded.extend_from_slice(length);
        }
        encoded
    }
}

/// How a type is laid out by `arbitrary` (`encode`) and as the last field of the input
/// (`encode_last`, `arbitrary_take_rest`).
pub trait Encode {
    fn encode(&self, encoder: &mut Encoder);

    /// Most types decode the same way last; byte strings, strings, `Vec`s, tuples and
    /// derived types do not.
    fn encode_last(&self, encoder: &mut Encoder) {
        self.encode(encoder);
    }
}

/// The fuzzer's bytes for `value`, a whole target input.
pub fn encode<T: Encode>(value: &T) -> Vec<u8> {
    let mut encoder = Encoder::default();
    value.encode_last(&mut encoder);
    encoder.finish()
}

impl Encode for u8 {
    fn encode(&self, encoder: &mut Encoder) {
        encoder.front(&[*self]);
    }
}

impl Encode for u16 {
    fn encode(&self, encoder: &mut Encoder) {
        encoder.front(&self.to_le_bytes());
    }
}

impl Encode for bool {
    fn encode(&self, encoder: &mut Encoder) {
        encoder.front(&[u8::from(*self)]);
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode(&self, encoder: &mut Encoder) {
        encoder.front(self);
    }
}

impl Encode for &[u8] {
    fn encode(&self, encoder: &mut Encoder) {
        encoder.sized(self);
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        encoder.rest(self);
    }
}

impl Encode for &str {
    fn encode(&self, encoder: &mut Encoder) {
        encoder.sized(self.as_bytes());
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        encoder.rest(self.as_bytes());
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, encoder: &mut Encoder) {
        match self {
            None => false.encode(encoder),
            Some(value) => {
                true.encode(encoder);
                value.encode(encoder);
            }
        }
    }
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode(&self, encoder: &mut Encoder) {
        self.0.encode(encoder);
        self.1.encode(encoder);
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        self.0.encode(encoder);
        self.1.encode_last(encoder);
    }
}

impl<T: Encode> Encode for Vec<T> {
    /// Each element after a "one more" flag, then a "no more" flag.
    fn encode(&self, encoder: &mut Encoder) {
        for element in self {
            true.encode(encoder);
            element.encode(encoder);
        }
        false.encode(encoder);
    }

    /// Last, the elements run to the end of the input.
    fn encode_last(&self, encoder: &mut Encoder) {
        for element in self {
            true.encode(encoder);
            element.encode(encoder);
        }
    }
}
