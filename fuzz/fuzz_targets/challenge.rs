//! Fuzz target `challenge`: its input and properties are in `pyoci_fuzz_properties::challenge`
//! (fuzz-properties/src/challenge.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::challenge::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
