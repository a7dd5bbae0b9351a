//! The programs PyOCI is measured beside or with: wrk and pypiserver.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use pyoci_test_support::{free_port, wait_for, HttpClient};

use crate::{Settings, CLIENTS};

pub(crate) struct WrkResult {
    pub(crate) requests_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) requests: f64,
}

pub(crate) fn wrk(settings: &Settings, url: &str, auth: Option<&str>) -> WrkResult {
    let mut command = Command::new(&settings.wrk);
    command.args([
        "-t2",
        &format!("-c{CLIENTS}"),
        &format!("-d{}s", settings.seconds),
        "--latency",
        "--timeout",
        "30s",
    ]);
    if let Some(auth) = auth {
        command.args(["-H", &format!("Authorization: {auth}")]);
    }
    let output = command.arg(url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.split_whitespace().nth(1).map(str::to_owned))
            .unwrap_or_default()
    };
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    let non_2xx = text.contains("Non-2xx");
    // No answer within the run is a result (a cold 1,000-version listing under load may
    // take longer than the run), errors are not.
    assert!(!non_2xx, "wrk against {url} got errors:\n{text}");
    WrkResult {
        requests_per_second: field("Requests/sec:").parse().unwrap_or(0.0),
        p50_ms: millis(&field("50%")),
        p99_ms: millis(&field("99%")),
        requests,
    }
}

/// wrk's `12.34ms`, `1.20s`, `800.00us` in milliseconds.
fn millis(text: &str) -> f64 {
    let number = |suffix: &str| {
        text.strip_suffix(suffix)
            .and_then(|n| n.parse::<f64>().ok())
    };
    number("us")
        .map(|n| n / 1000.0)
        .or_else(|| number("ms"))
        .or_else(|| number("s").map(|n| n * 1000.0))
        .unwrap_or(f64::NAN)
}

pub(crate) struct PypiServer {
    child: Child,
    port: u16,
}

impl PypiServer {
    pub(crate) fn start(settings: &Settings, files: &Path) -> PypiServer {
        let port = free_port();
        let child = Command::new(&settings.pypiserver)
            .args(["run", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-a", ".", "-P", ".", "--log-stream", "none"])
            .arg(files)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pypi-server");
        let server = PypiServer { child, port };
        let http = HttpClient::new();
        wait_for(
            Duration::from_millis(100),
            Duration::from_secs(30),
            || http.try_get(&server.url("/simple/")).is_ok(),
            || "pypi-server did not start".to_owned(),
        );
        server
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The server's process id (for `/proc/<pid>/...`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
