//! Fuzz target `oci_documents`: its input and properties are in `pyoci_fuzz_properties::oci_documents`
//! (fuzz-properties/src/oci_documents.rs), where `cargo test` replays the committed inputs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyoci_fuzz_properties::oci_documents::{check, Input};

fuzz_target!(|input: Input<'_>| check(input));
