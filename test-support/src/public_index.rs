//! A real second package index for fallback tests: pypiserver (from PyPI, installed in the
//! test virtualenv) serving a directory of distributions on its own loopback address, with
//! a log of every request it received and its headers.

use std::{
    fs,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use tempfile::TempDir;

use crate::{
    free_port,
    process::{wait_until, KillOnDrop},
    HttpClient, Python,
};

/// The loopback address the public index listens on: another host than PyOCI's
/// `127.0.0.1`, so clients treat a redirect there as going to another origin.
pub const PUBLIC_INDEX_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

/// What pypiserver logs for each request: the marker, then the request's WSGI environment.
const REQUEST_MARKER: &str = "PUBLIC-INDEX-REQUEST ";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One request the public index received.
#[derive(Clone, Debug)]
pub struct PublicRequest {
    /// The path, e.g. `/simple/requests/`.
    pub path: String,
    /// Whether it carried an `Authorization` header.
    pub authorization: bool,
    /// The log line, for messages.
    pub line: String,
}

/// A running pypiserver; killed on drop.
pub struct PublicIndex {
    _process: KillOnDrop,
    port: u16,
    log_path: PathBuf,
    _dir: TempDir,
}

impl PublicIndex {
    /// Serves every file in `packages` on [`PUBLIC_INDEX_HOST`] at a free port, without
    /// authentication and without pypiserver's own fallback to pypi.org.
    pub fn start(packages: &Path) -> PublicIndex {
        let python = Python::locate();
        let dir = tempfile::Builder::new()
            .prefix("pyoci-public-index-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let log_path = dir.path().join("pypiserver.log");
        let port = free_port();
        let mut command: Command = python.command("pypi-server");
        command
            // pypiserver 2 reads its logging options after the `run` command only.
            .args(["run", "-v", "--log-stream", "none", "--log-file"])
            .arg(&log_path)
            .args(["--host", &PUBLIC_INDEX_HOST.to_string()])
            .args(["--port", &port.to_string()])
            .args(["--disable-fallback", "-a", ".", "-P", "."])
            .args(["--server", "wsgiref", "--hash-algo", "sha256"])
            // pypiserver formats this with the WSGI environ: `%s` prints all of it,
            // headers (`HTTP_AUTHORIZATION`) included.
            .args(["--log-req-frmt", &format!("{REQUEST_MARKER}%s")])
            .arg(packages)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start pypi-server: {err}"));
        let mut process = KillOnDrop::new(child);
        let http = HttpClient::new();
        let health = format!("http://{PUBLIC_INDEX_HOST}:{port}/health");
        let mut exited = None;
        let ready = wait_until(START_TIMEOUT, || {
            exited = process.exited();
            exited.is_some() || http.try_get(&health).is_ok_and(|r| r.status == 200)
        });
        if !ready || exited.is_some() {
            panic!(
                "pypi-server did not start ({exited:?})\n--- its log ---\n{}",
                fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        PublicIndex {
            _process: process,
            port,
            log_path,
            _dir: dir,
        }
    }

    /// `http://127.0.0.4:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{PUBLIC_INDEX_HOST}:{}", self.port)
    }

    /// The simple index: `http://127.0.0.4:PORT/simple/`.
    pub fn simple_url(&self) -> String {
        format!("{}/simple/", self.base_url())
    }

    /// Everything pypiserver logged.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Every request received so far (its health checks left out).
    pub fn requests(&self) -> Vec<PublicRequest> {
        self.log()
            .lines()
            .filter_map(|line| {
                let environ = &line[line.find(REQUEST_MARKER)? + REQUEST_MARKER.len()..];
                let path = field(environ, "PATH_INFO")?;
                (path != "/health").then(|| PublicRequest {
                    path: path.to_owned(),
                    authorization: environ.contains("'HTTP_AUTHORIZATION'"),
                    line: line.to_owned(),
                })
            })
            .collect()
    }

    /// The requests whose path contains `part`.
    pub fn requests_for(&self, part: &str) -> Vec<PublicRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.path.contains(part))
            .collect()
    }
}

/// The value of `'KEY': '...'` in a printed Python dict.
fn field<'a>(environ: &'a str, key: &str) -> Option<&'a str> {
    let start = environ.find(&format!("'{key}': '"))? + key.len() + 5;
    let rest = &environ[start..];
    Some(&rest[..rest.find('\'')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_the_printed_environ() {
        let environ = "{'PATH_INFO': '/simple/x/', 'HTTP_AUTHORIZATION': 'Basic eA=='}";
        assert_eq!(field(environ, "PATH_INFO"), Some("/simple/x/"));
        assert_eq!(field(environ, "QUERY_STRING"), None);
    }
}
