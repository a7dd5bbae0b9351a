//! The `hello-pyoci` fixture project, built into real distributions.

use std::{
    fs,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use crate::{python::workspace_root, Python};

/// The template's module directory, renamed after the project being built.
const TEMPLATE_MODULE: &str = "hello_pyoci";

/// The two distributions of one build.
#[derive(Clone, Debug)]
pub struct Dists {
    /// `<module>-<version>.tar.gz`.
    pub sdist: PathBuf,
    /// `<module>-<version>-py3-none-any.whl`.
    pub wheel: PathBuf,
}

impl Dists {
    /// The sdist's file name.
    pub fn sdist_name(&self) -> String {
        file_name(&self.sdist)
    }

    /// The wheel's file name.
    pub fn wheel_name(&self) -> String {
        file_name(&self.wheel)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Lowercase hex SHA-256 of a file's contents.
pub fn file_sha256(path: &Path) -> String {
    let bytes =
        fs::read(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    sha256_hex(&bytes)
}

/// The importable module of a project name: `Hello-PyOCI` -> `hello_pyoci`, which is also
/// how wheel and sdist file names spell the project.
pub(crate) fn module_name(project: &str) -> String {
    let mut module = String::new();
    for character in project.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !module.ends_with('_') {
                module.push('_');
            }
        } else {
            module.push(character.to_ascii_lowercase());
        }
    }
    module
}

/// Builds `tests/fixtures/hello-pyoci` as project `name` at `version` into `dir`: an sdist
/// and a py3-none-any wheel. `extra_marker` goes into the module's `MARKER`, so a different
/// marker gives different bytes under the same file names.
///
/// Runs `python -m build --no-isolation` with the test virtualenv (see [`Python::locate`]).
/// The module is importable as `name` normalized (`hello_pyoci`) and has a `GREETING`.
pub fn build_fixture(dir: &Path, name: &str, version: &str, extra_marker: &str) -> Dists {
    let python = Python::locate();
    let module = module_name(name);
    let source = tempfile::Builder::new()
        .prefix("pyoci-fixture-")
        .tempdir()
        .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
    let template = workspace_root()
        .join("tests")
        .join("fixtures")
        .join("hello-pyoci");
    let replacements = [
        ("@NAME@", name),
        ("@VERSION@", version),
        ("@MARKER@", extra_marker),
    ];
    copy_template(&template, source.path(), &module, &replacements);

    python.run(
        "python",
        [
            "-m".as_ref(),
            "build".as_ref(),
            "--no-isolation".as_ref(),
            "--sdist".as_ref(),
            "--wheel".as_ref(),
            "--outdir".as_ref(),
            dir.as_os_str(),
            source.path().as_os_str(),
        ],
        // Reproducible archives: the same inputs give the same bytes.
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );

    let dists = Dists {
        sdist: dir.join(format!("{module}-{version}.tar.gz")),
        wheel: dir.join(format!("{module}-{version}-py3-none-any.whl")),
    };
    for built in [&dists.sdist, &dists.wheel] {
        if !built.exists() {
            let found: Vec<String> = fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|entry| entry.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            panic!(
                "python -m build did not produce {}; {} holds {found:?}",
                built.display(),
                dir.display()
            );
        }
    }
    dists
}

/// Copies the template tree, renaming the module directory and filling in placeholders.
fn copy_template(from: &Path, to: &Path, module: &str, replacements: &[(&str, &str)]) {
    let entries = fs::read_dir(from)
        .unwrap_or_else(|err| panic!("cannot read the fixture template {}: {err}", from.display()));
    fs::create_dir_all(to).unwrap_or_else(|err| panic!("cannot create {}: {err}", to.display()));
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name == "__pycache__" || file_name.ends_with(".egg-info") {
            continue;
        }
        let target_name = if file_name == TEMPLATE_MODULE {
            module.to_owned()
        } else {
            file_name
        };
        let target = to.join(target_name);
        let path = entry.path();
        if path.is_dir() {
            copy_template(&path, &target, module, replacements);
        } else {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            let filled = replacements
                .iter()
                .fold(text, |text, (placeholder, value)| {
                    text.replace(placeholder, value)
                });
            fs::write(&target, filled)
                .unwrap_or_else(|err| panic!("cannot write {}: {err}", target.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_follow_wheel_file_naming() {
        assert_eq!(module_name("hello-pyoci"), "hello_pyoci");
        assert_eq!(module_name("Hello.__PyOCI"), "hello_pyoci");
        assert_eq!(module_name("other"), "other");
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_template_is_filled_in_and_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let template = workspace_root().join("tests/fixtures/hello-pyoci");
        copy_template(
            &template,
            dir.path(),
            "other_pkg",
            &[
                ("@NAME@", "other-pkg"),
                ("@VERSION@", "2.0"),
                ("@MARKER@", "m1"),
            ],
        );
        let pyproject = fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
        assert!(pyproject.contains("name = \"other-pkg\""));
        assert!(pyproject.contains("version = \"2.0\""));
        let module = fs::read_to_string(dir.path().join("src/other_pkg/__init__.py")).unwrap();
        assert!(module.contains("MARKER = \"m1\""));
        assert!(!module.contains('@'));
    }
}
