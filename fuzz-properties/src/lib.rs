//! The properties PyOCI's fuzz targets check, one module per target in `fuzz/fuzz_targets/`.
//!
//! Each module has the target's `Input` (decoded from the fuzzer's bytes by `arbitrary`) and a
//! `check` that panics when a property does not hold. A fuzz target is a one-line wrapper:
//!
//! ```text
//! libfuzzer_sys::fuzz_target!(|input: Input<'_>| pyoci_fuzz_properties::multipart::check(input));
//! ```
//!
//! Keeping the properties here, in a normal workspace crate, lets plain `cargo test` replay the
//! committed inputs (`fuzz/regressions/<target>/`, `fuzz/seeds/<target>/`) through the same
//! code with [`TARGETS`], so a bug found once by fuzzing stays fixed even where cargo-fuzz
//! (nightly flags, sanitizers) does not run.

use arbitrary::{Arbitrary, Unstructured};

pub mod accept;
pub mod authorization;
pub mod challenge;
pub mod core_metadata;
pub mod description;
pub mod filename;
pub mod link_header;
pub mod multipart;
pub mod oci_documents;
pub mod public_page;
pub mod registry_events;
pub mod render;
pub mod route;
pub mod version_tag;

/// One fuzz target, for replaying files through it.
pub struct Target {
    /// The name of the target in `fuzz/fuzz_targets/` and of its folders under `fuzz/`.
    pub name: &'static str,
    /// Decodes raw fuzzer bytes as the target does and checks the properties (panicking when
    /// one fails).
    pub run: fn(&[u8]) -> Result<(), Undecodable>,
}

/// Every fuzz target, by name.
pub const TARGETS: &[Target] = &[
    Target {
        name: "accept",
        run: |data| run(data, accept::check),
    },
    Target {
        name: "authorization",
        run: |data| run(data, authorization::check),
    },
    Target {
        name: "challenge",
        run: |data| run(data, challenge::check),
    },
    Target {
        name: "core_metadata",
        run: |data| run(data, core_metadata::check),
    },
    Target {
        name: "description",
        run: |data| run(data, description::check),
    },
    Target {
        name: "filename",
        run: |data| run(data, filename::check),
    },
    Target {
        name: "link_header",
        run: |data| run(data, link_header::check),
    },
    Target {
        name: "multipart",
        run: |data| run(data, multipart::check),
    },
    Target {
        name: "oci_documents",
        run: |data| run(data, oci_documents::check),
    },
    Target {
        name: "public_page",
        run: |data| run(data, public_page::check),
    },
    Target {
        name: "registry_events",
        run: |data| run(data, registry_events::check),
    },
    Target {
        name: "render",
        run: |data| run(data, render::check),
    },
    Target {
        name: "route",
        run: |data| run(data, route::check),
    },
    Target {
        name: "version_tag",
        run: |data| run(data, version_tag::check),
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|target| target.name == name)
}

/// Bytes the fuzz target would not run at all: too short for its input type, or not
/// decodable into it. libFuzzer skips them, so a committed file like that tests nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable(pub String);

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes `data` into `T` exactly as `libfuzzer_sys::fuzz_target!` does for a typed input
/// (the size-hint check, then `arbitrary_take_rest`), then runs `check` on it.
pub fn run<'a, T: Arbitrary<'a>>(data: &'a [u8], check: fn(T)) -> Result<(), Undecodable> {
    let minimum = T::size_hint(0).0;
    if data.len() < minimum {
        return Err(Undecodable(format!(
            "{} bytes, fewer than the {minimum} the input needs",
            data.len()
        )));
    }
    let input = T::arbitrary_take_rest(Unstructured::new(data))
        .map_err(|error| Undecodable(format!("does not decode: {error}")))?;
    check(input);
    Ok(())
}
