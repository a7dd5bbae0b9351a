//! Fuzz target `registry_events`: its input and properties are in
//! `pyoci_fuzz_properties::registry_events` (fuzz-properties/src/registry_events.rs), where
//! `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::registry_events::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
