//! A throwaway home for clients that keep config and caches of their own (poetry, pdm,
//! hatch, uv), with a dead proxy so nothing but loopback can be reached.

use std::{fs, path::Path, process::Command};

use tempfile::TempDir;

use crate::Python;

/// Where every client proxy variable points: nothing listens on the discard port, so a
/// request that is not to 127.0.0.1 (excluded by `NO_PROXY`) fails instead of reaching an
/// index on the internet. A test that passes with it really was served by PyOCI alone.
pub const DEAD_PROXY: &str = "http://127.0.0.1:9";

/// A temporary directory that stands in for `$HOME` and each client's config, data and cache
/// directories, so a test neither reads the machine's settings nor leaves anything behind.
/// Deleted on drop.
pub struct ClientHome {
    dir: TempDir,
}

impl Default for ClientHome {
    fn default() -> Self {
        ClientHome::new()
    }
}

impl ClientHome {
    /// Creates the directory (and the empty hatch config file hatch insists on).
    pub fn new() -> ClientHome {
        let dir = tempfile::Builder::new()
            .prefix("pyoci-client-home-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let hatch_config = dir.path().join("hatch-config.toml");
        fs::write(&hatch_config, "")
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", hatch_config.display()));
        ClientHome { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The variables that isolate the clients, as owned pairs.
    pub fn env(&self) -> Vec<(String, String)> {
        let at = |name: &str| self.dir.path().join(name).to_string_lossy().into_owned();
        let mut env = vec![
            ("HOME".to_owned(), at("")),
            ("XDG_CONFIG_HOME".to_owned(), at("config")),
            ("XDG_CACHE_HOME".to_owned(), at("cache")),
            ("XDG_DATA_HOME".to_owned(), at("data")),
            ("XDG_STATE_HOME".to_owned(), at("state")),
            ("POETRY_CONFIG_DIR".to_owned(), at("poetry-config")),
            ("POETRY_CACHE_DIR".to_owned(), at("poetry-cache")),
            ("POETRY_DATA_DIR".to_owned(), at("poetry-data")),
            ("POETRY_NO_INTERACTION".to_owned(), "1".to_owned()),
            ("PDM_CACHE_DIR".to_owned(), at("pdm-cache")),
            ("PDM_CHECK_UPDATE".to_owned(), "false".to_owned()),
            ("PDM_NON_INTERACTIVE".to_owned(), "1".to_owned()),
            ("HATCH_CONFIG".to_owned(), at("hatch-config.toml")),
            ("HATCH_DATA_DIR".to_owned(), at("hatch-data")),
            ("HATCH_CACHE_DIR".to_owned(), at("hatch-cache")),
            ("UV_CACHE_DIR".to_owned(), at("uv-cache")),
            ("PIP_CACHE_DIR".to_owned(), at("pip-cache")),
            ("VIRTUALENV_OVERRIDE_APP_DATA".to_owned(), at("virtualenv")),
        ];
        for proxy in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            env.push((proxy.to_owned(), DEAD_PROXY.to_owned()));
        }
        env
    }

    /// [`Python::command`] for `program`, with this home's variables, run in `cwd`.
    pub fn command(&self, python: &Python, program: &str, cwd: &Path) -> Command {
        let mut command = python.command(program);
        command.envs(self.env()).current_dir(cwd);
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directory_is_inside_the_home_and_proxies_are_dead() {
        let home = ClientHome::new();
        let root = home.path().to_string_lossy().into_owned();
        let env = home.env();
        for (name, value) in &env {
            if name.ends_with("_PROXY") || name.ends_with("_proxy") {
                assert_eq!(value, DEAD_PROXY, "{name}");
            } else if name.ends_with("_DIR") || name.ends_with("_HOME") || name == "HOME" {
                assert!(value.starts_with(&root), "{name}={value} is outside {root}");
            }
        }
        assert!(env.iter().any(|(name, _)| name == "POETRY_CACHE_DIR"));
        assert!(home.path().join("hatch-config.toml").exists());
    }
}
