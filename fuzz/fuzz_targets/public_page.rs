//! Fuzz target `public_page`: its input and properties are in `pyoci_fuzz_properties::public_page`
//! (fuzz-properties/src/public_page.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::public_page::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
