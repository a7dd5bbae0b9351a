//! Replays every committed fuzz input through the property function its target uses:
//! `fuzz/regressions/<target>/*` (crashes found once, kept so they stay fixed) and
//! `fuzz/seeds/<target>/*` (the starting corpus). So a regression fails plain `cargo test`,
//! not only a fuzzing run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use pyoci_fuzz_properties::{target, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// `(target, file)` for every file in `fuzz/<kind>/<target>/`.
fn committed(kind: &str) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let Ok(targets) = std::fs::read_dir(fuzz_dir().join(kind)) else {
        return files;
    };
    for target_dir in targets.filter_map(Result::ok) {
        let name = target_dir.file_name().to_string_lossy().into_owned();
        let entries = std::fs::read_dir(target_dir.path())
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", target_dir.path().display()));
        for entry in entries.filter_map(Result::ok) {
            files.push((name.clone(), entry.path()));
        }
    }
    files.sort();
    files
}

/// Runs each file through its target; every failure, with the file that caused it.
fn replay(files: &[(String, PathBuf)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, path) in files {
        let Some(target) = target(name) else {
            failures.push(format!(
                "{}: no fuzz target `{name}` (targets: {})",
                path.display(),
                TARGETS
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        };
        let bytes = std::fs::read(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        match catch_unwind(AssertUnwindSafe(|| (target.run)(&bytes))) {
            Ok(Ok(())) => {}
            // libFuzzer would skip it: a committed file that tests nothing.
            Ok(Err(undecodable)) => failures.push(format!("{}: {undecodable}", path.display())),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{}: property failed: {message}", path.display()));
            }
        }
    }
    failures
}

#[test]
fn regression_inputs_pass_their_properties() {
    let files = committed("regressions");
    assert!(
        files.len() >= 3,
        "expected the committed regression inputs, found {files:?}"
    );
    let failures = replay(&files);
    assert!(
        failures.is_empty(),
        "{} of {} regression inputs fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn seed_inputs_pass_their_properties() {
    let files = committed("seeds");
    assert!(
        files.iter().any(|(target, _)| target == "core_metadata"),
        "no core_metadata seeds in fuzz/seeds: {files:?}"
    );
    let failures = replay(&files);
    assert!(
        failures.is_empty(),
        "{} of {} seed inputs fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The replay reports a failing property, with its file, instead of passing over it.
#[test]
fn a_failing_property_is_reported_with_its_file() {
    let dir = std::env::temp_dir().join(format!("pyoci-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A file in a folder named after no target.
    let unknown = dir.join("no-such-target-input");
    std::fs::write(&unknown, b"x").unwrap();
    let failures = replay(&[("no_such_target".to_owned(), unknown)]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("no fuzz target"), "{failures:?}");
    // Too short to decode: reported, not skipped.
    let short = dir.join("too-short");
    std::fs::write(&short, b"\x01").unwrap();
    let failures = replay(&[("core_metadata".to_owned(), short)]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("fewer than"), "{failures:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
