//! Fuzz target `description`: its input and properties are in
//! `pyoci_fuzz_properties::description` (fuzz-properties/src/description.rs), where
//! `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::description::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
