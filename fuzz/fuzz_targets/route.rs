//! Fuzz target `route`: its input and properties are in `pyoci_fuzz_properties::route`
//! (fuzz-properties/src/route.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::route::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
