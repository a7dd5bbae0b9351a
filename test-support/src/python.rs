//! The Python clients `scripts/test` installs: twine, pip, uv, build, poetry, in a virtualenv.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::{run_checked, run_expecting_failure};

/// Environment variables that would point clients at other indexes or credentials.
const UNWANTED_ENV: &[&str] = &[
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_NO_INDEX",
    "PIP_REQUIRE_VIRTUALENV",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "TWINE_USERNAME",
    "TWINE_PASSWORD",
    "TWINE_REPOSITORY",
    "TWINE_REPOSITORY_URL",
    "PYTHONPATH",
    "VIRTUAL_ENV",
];

/// Settings that keep every client non-interactive, config-free and off any proxy.
const HERMETIC_ENV: &[(&str, &str)] = &[
    ("PIP_CONFIG_FILE", "/dev/null"),
    ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ("PIP_NO_INPUT", "1"),
    ("UV_NO_CONFIG", "1"),
    ("UV_PYTHON_DOWNLOADS", "never"),
    ("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring"),
    ("NO_PROXY", "127.0.0.1,localhost"),
    ("no_proxy", "127.0.0.1,localhost"),
];

/// The test virtualenv: `$PYOCI_TEST_VENV`, else `<workspace>/target/test-venv`.
#[derive(Debug)]
pub struct Python {
    venv: PathBuf,
}

/// A fresh, empty virtualenv to install packages into.
#[derive(Debug)]
pub struct Venv {
    dir: PathBuf,
}

impl Python {
    /// Finds the test virtualenv; panics with "Python clients not installed: run
    /// scripts/test" when it is missing.
    pub fn locate() -> Python {
        let venv = std::env::var_os("PYOCI_TEST_VENV")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target").join("test-venv"));
        if !venv.join("bin").join("python").exists() {
            panic!(
                "Python clients not installed: run scripts/test (no virtualenv at {})",
                venv.display()
            );
        }
        Python { venv }
    }

    /// The virtualenv's directory.
    pub fn venv(&self) -> &Path {
        &self.venv
    }

    /// The path of a program installed in the virtualenv (`twine`, `uv`, `poetry`, ...).
    pub fn bin(&self, program: &str) -> PathBuf {
        let path = self.venv.join("bin").join(program);
        if !path.exists() {
            panic!(
                "{program} is not in {}: Python clients not installed, run scripts/test",
                self.venv.display()
            );
        }
        path
    }

    /// The virtualenv's interpreter.
    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }

    /// A command for a virtualenv program (or an absolute path), with an environment that
    /// ignores the machine's pip/uv/twine configuration and never prompts.
    pub fn command(&self, program: &str) -> Command {
        let program = if Path::new(program).is_absolute() {
            PathBuf::from(program)
        } else {
            self.bin(program)
        };
        hermetic(Command::new(program))
    }

    /// `bash script` with this virtualenv's `bin` first on `PATH` (so `pip`, `uv`, `twine`,
    /// `poetry`, `pdm`, `hatch`, `keyring` and `python3` are these), isolated from the
    /// machine's index settings like [`Python::command`]: for the runnable doc examples.
    pub fn shell(&self, script: &Path) -> Command {
        let mut command = hermetic(Command::new("bash"));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.bin("python").with_file_name("")];
        paths.extend(std::env::split_paths(&path));
        command
            .arg(script)
            .env("PATH", std::env::join_paths(paths).unwrap_or(path));
        command
    }

    /// Runs a virtualenv program and returns its output; panics with stdout and stderr
    /// when it fails.
    pub fn run<I, S>(&self, program: &str, args: I, envs: &[(&str, &str)]) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(program);
        command.args(args).envs(envs.iter().copied());
        run_checked(&mut command)
    }

    /// Runs a virtualenv program that should fail; panics with its output when it succeeds.
    pub fn run_expecting_failure<I, S>(
        &self,
        program: &str,
        args: I,
        envs: &[(&str, &str)],
    ) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(program);
        command.args(args).envs(envs.iter().copied());
        run_expecting_failure(&mut command)
    }

    /// Creates an empty virtualenv in `dir` (no system site-packages, no pip of its own:
    /// [`Python::pip_install`] drives the test virtualenv's pip with `--python`).
    pub fn new_venv(&self, dir: &Path) -> Venv {
        let mut command = self.command("python");
        command.args(["-m", "venv", "--without-pip"]).arg(dir);
        run_checked(&mut command);
        Venv {
            dir: dir.to_owned(),
        }
    }

    /// `twine upload --repository-url URL -u USER -p PASSWORD --non-interactive FILES...`.
    pub fn twine_upload(
        &self,
        repository_url: &str,
        user: &str,
        password: &str,
        files: &[&Path],
    ) -> Command {
        let mut command = self.command("twine");
        command
            .args(["upload", "--repository-url", repository_url])
            .args([
                "-u",
                user,
                "-p",
                password,
                "--non-interactive",
                "--disable-progress-bar",
            ])
            .args(files);
        command
    }

    /// `pip install` of `requirement` from `index_url` into `target`, without caches.
    pub fn pip_install(&self, target: &Venv, index_url: &str, requirement: &str) -> Command {
        let mut command = self.command("python");
        command
            .args(["-m", "pip", "--python"])
            .arg(target.python())
            .args([
                "install",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .args(["--index-url", index_url, requirement]);
        command
    }

    /// `uv pip install` of `requirement` from `index_url` into `target`, without caches.
    pub fn uv_pip_install(&self, target: &Venv, index_url: &str, requirement: &str) -> Command {
        let mut command = self.command("uv");
        command
            .args(["pip", "install", "--python"])
            .arg(target.python())
            .args(["--index-url", index_url, "--no-cache", requirement]);
        command
    }
}

impl Venv {
    /// A virtualenv some client created at `dir` (poetry's or uv's project `.venv`).
    pub fn at(dir: &Path) -> Venv {
        Venv {
            dir: dir.to_owned(),
        }
    }

    /// The virtualenv's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its interpreter.
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    /// Imports `module` and prints `module.attribute`; returns the printed text, trimmed.
    /// Panics (showing Python's error) when the import fails.
    pub fn import_attribute(&self, module: &str, attribute: &str) -> String {
        let mut command = hermetic(Command::new(self.python()));
        command.args([
            "-c",
            &format!("import {module}; print({module}.{attribute})"),
        ]);
        let output = run_checked(&mut command);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn hermetic(mut command: Command) -> Command {
    for name in UNWANTED_ENV {
        command.env_remove(name);
    }
    crate::without_proxy_env(&mut command);
    command.envs(HERMETIC_ENV.iter().copied());
    command
}

/// The Cargo workspace this crate belongs to.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn hermetic_commands_drop_index_settings() {
        let command = hermetic(Command::new("env"));
        let envs: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&("PIP_INDEX_URL".to_owned(), None)));
        assert!(envs.contains(&("PIP_CONFIG_FILE".to_owned(), Some("/dev/null".to_owned()))));
    }
}
