//! Fuzz target `core_metadata`: its input and properties are in `pyoci_fuzz_properties::core_metadata`
//! (fuzz-properties/src/core_metadata.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::core_metadata::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
