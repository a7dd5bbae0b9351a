//! Fuzz target `link_header`: its input and properties are in `pyoci_fuzz_properties::link_header`
//! (fuzz-properties/src/link_header.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::link_header::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
