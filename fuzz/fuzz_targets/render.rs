//! Fuzz target `render`: its input and properties are in `pyoci_fuzz_properties::render`
//! (fuzz-properties/src/render.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::render::{check, Input};

fuzz_target!(|input: Input| check(input));
