//! Fuzz target `authorization`: its input and properties are in `pyoci_fuzz_properties::authorization`
//! (fuzz-properties/src/authorization.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::authorization::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
