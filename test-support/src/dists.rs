//! Small wheels and sdists written straight from a spec, for tests that need many packages.
//!
//! `python -m build` takes a second or more per package; the resolver tests need dozens, so
//! `tests/fixtures/make-dists/make_dists.py` writes the archives directly (valid METADATA,
//! WHEEL and RECORD, reproducible bytes), all of them in one Python process.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde::Serialize;

use crate::{python::workspace_root, Python};

/// One package version to write: always a `py3-none-any` wheel, optionally an sdist.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DistSpec {
    /// The project name as written in METADATA (`tree-pkg-03`).
    pub name: String,
    /// The version (`1.1`).
    pub version: String,
    /// The one-line `Summary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `Requires-Python`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// One `Requires-Dist` line each (`tree-pkg-01>=1.0,<2`).
    pub requires_dist: Vec<String>,
    /// Whether to write an sdist (with the same metadata as `PKG-INFO`) next to the wheel.
    pub sdist: bool,
    /// A Markdown description, written as the metadata's body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl DistSpec {
    /// A wheel of `name` at `version` without dependencies or `Requires-Python`.
    pub fn new(name: &str, version: &str) -> DistSpec {
        DistSpec {
            name: name.to_owned(),
            version: version.to_owned(),
            ..DistSpec::default()
        }
    }

    /// Sets `Requires-Python`.
    pub fn requires_python(mut self, specifier: &str) -> DistSpec {
        self.requires_python = Some(specifier.to_owned());
        self
    }

    /// Adds a `Requires-Dist` line.
    pub fn requires(mut self, requirement: &str) -> DistSpec {
        self.requires_dist.push(requirement.to_owned());
        self
    }

    /// Sets the summary.
    pub fn summary(mut self, summary: &str) -> DistSpec {
        self.summary = Some(summary.to_owned());
        self
    }

    /// Sets a Markdown description.
    pub fn description(mut self, markdown: &str) -> DistSpec {
        self.description = Some(markdown.to_owned());
        self
    }

    /// Also writes an sdist.
    pub fn with_sdist(mut self) -> DistSpec {
        self.sdist = true;
        self
    }
}

/// Writes every spec's wheel (and sdist when asked) into `dir` with the test virtualenv's
/// Python; returns the files in the order written (per spec: wheel, then sdist).
pub fn write_dists(dir: &Path, specs: &[DistSpec]) -> Vec<PathBuf> {
    let python = Python::locate();
    let script = workspace_root()
        .join("tests")
        .join("fixtures")
        .join("make-dists")
        .join("make_dists.py");
    let spec_json = serde_json::to_vec(specs)
        .unwrap_or_else(|err| panic!("cannot serialize the dist specs: {err}"));
    let mut command = python.command("python");
    command
        .arg(&script)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", script.display()));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&spec_json)
            .unwrap_or_else(|err| panic!("cannot feed the dist specs to the script: {err}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| panic!("{} did not finish: {err}", script.display()));
    if !output.status.success() {
        panic!(
            "{} failed ({}):\n{}",
            script.display(),
            output.status,
            crate::output_text(&output)
        );
    }
    let written: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    for path in &written {
        assert!(
            path.exists(),
            "the script reported {} but it is missing",
            path.display()
        );
    }
    written
}

/// The exact bytes of a wheel's `<name>-<version>.dist-info/METADATA`, read with Python's
/// `zipfile` (independently of PyOCI's own reader).
pub fn wheel_core_metadata(wheel: &Path) -> Vec<u8> {
    let python = Python::locate();
    let mut command: Command = python.command("python");
    command.args([
        "-c",
        "import sys, zipfile\n\
         wheel = zipfile.ZipFile(sys.argv[1])\n\
         names = [n for n in wheel.namelist() if n.count('/') == 1 and n.endswith('.dist-info/METADATA')]\n\
         assert len(names) == 1, names\n\
         sys.stdout.buffer.write(wheel.read(names[0]))",
    ]);
    command.arg(wheel);
    crate::run_checked(&mut command).stdout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_serialize_as_the_script_reads_them() {
        let spec = DistSpec::new("tree-pkg-01", "1.0")
            .requires("tree-pkg-00>=1.0")
            .requires_python(">=3.8");
        let json = serde_json::to_value([spec]).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "name": "tree-pkg-01",
                "version": "1.0",
                "requires_python": ">=3.8",
                "requires_dist": ["tree-pkg-00>=1.0"],
                "sdist": false
            }])
        );
    }

    #[test]
    fn written_wheels_carry_their_metadata_and_are_reproducible() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let specs = [DistSpec::new("Demo.Pkg", "1.2")
            .requires("other-pkg>=1.0,<2")
            .requires_python(">=3.8")
            .summary("a demo")
            .with_sdist()];
        let written = write_dists(first.path(), &specs);
        assert_eq!(
            written,
            [
                first.path().join("demo_pkg-1.2-py3-none-any.whl"),
                first.path().join("demo_pkg-1.2.tar.gz"),
            ]
        );
        let metadata = String::from_utf8(wheel_core_metadata(&written[0])).unwrap();
        assert_eq!(
            metadata,
            "Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.2\nSummary: a demo\n\
             Requires-Python: >=3.8\nRequires-Dist: other-pkg>=1.0,<2\n"
        );
        let again = write_dists(second.path(), &specs);
        for (one, other) in written.iter().zip(&again) {
            assert_eq!(
                crate::file_sha256(one),
                crate::file_sha256(other),
                "{}",
                one.display()
            );
        }
    }
}
