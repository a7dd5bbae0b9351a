//! The GitHub workflow keeps doing what the project relies on (it cannot run here): the
//! suite via `.ci/run`, in a bare debian:bookworm container too; clippy with warnings as
//! errors, rustfmt, the doc-tests and the image build; a time limit on every job; caches
//! keyed on the toolchain and both lock files.

use std::{fs, path::Path};

fn workflow() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/ci.yml");
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The text of each job under `jobs:` (two-space-indented keys).
fn jobs(workflow: &str) -> Vec<(String, String)> {
    let jobs = workflow.split("\njobs:\n").nth(1).expect("a jobs: section");
    let mut found: Vec<(String, String)> = Vec::new();
    for line in jobs.lines() {
        if let Some(name) = line
            .strip_prefix("  ")
            .and_then(|rest| rest.strip_suffix(':'))
        {
            if !name.starts_with(' ') && !name.starts_with('#') {
                found.push((name.to_owned(), String::new()));
                continue;
            }
        }
        if let Some((_, text)) = found.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    found
}

#[test]
fn every_job_has_a_time_limit_and_the_checks_are_all_there() {
    let workflow = workflow();
    let jobs = jobs(&workflow);
    assert!(jobs.len() >= 3, "{jobs:?}");
    for (name, text) in &jobs {
        assert!(
            text.contains("timeout-minutes:"),
            "job {name} has no timeout-minutes"
        );
    }
    for needed in [
        "bash .ci/run",
        "container: debian:bookworm",
        "cargo clippy --workspace --all-targets -- -D warnings",
        "cargo fmt --all --check",
        "cargo test --workspace --doc",
        "docker/build-push-action",
        "hadolint",
    ] {
        assert!(workflow.contains(needed), "the workflow lacks `{needed}`");
    }
}

#[test]
fn caches_are_keyed_on_the_toolchain_and_both_lock_files() {
    let workflow = workflow();
    let keys: Vec<&str> = workflow
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("key:"))
        .collect();
    assert!(!keys.is_empty());
    for key in keys {
        for part in [
            "steps.toolchain.outputs.rustc",
            "'Cargo.lock'",
            "'fuzz/Cargo.lock'",
        ] {
            assert!(key.contains(part), "cache {key} is not keyed on {part}");
        }
    }
}
