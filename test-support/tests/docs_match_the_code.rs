//! Claims in the docs that drift when the code changes, held to the code: every crate under
//! `layers/` is in the README's crate table and has a README of its own.

use std::{fs, path::PathBuf};

/// The repository's root: this crate sits one level below it.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The `name = "…"` of each crate under `layers/`.
fn layer_crates() -> Vec<String> {
    let layers = workspace_root().join("layers");
    let mut names: Vec<String> = fs::read_dir(&layers)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", layers.display()))
        .filter_map(Result::ok)
        .filter_map(|entry| fs::read_to_string(entry.path().join("Cargo.toml")).ok())
        .filter_map(|manifest| {
            manifest.lines().find_map(|line| {
                let value = line.strip_prefix("name = ")?;
                Some(value.trim_matches('"').to_owned())
            })
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_layer_crate_is_in_the_readme_table_and_has_a_readme() {
    let readme = fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let crates = layer_crates();
    assert!(crates.len() >= 10, "found {crates:?}");
    for name in &crates {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "README.md's crate table has no row for {name}"
        );
        let dir = name.trim_start_matches("pyoci-");
        assert!(
            workspace_root()
                .join("layers")
                .join(dir)
                .join("README.md")
                .exists(),
            "layers/{dir} has no README.md"
        );
    }
}
