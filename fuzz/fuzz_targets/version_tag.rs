//! Fuzz target `version_tag`: its input and properties are in `pyoci_fuzz_properties::version_tag`
//! (fuzz-properties/src/version_tag.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::version_tag::check;

fuzz_target!(|raw: &str| check(raw));
