//! Child processes: killed on drop, and command runs whose failures explain themselves.

use std::{
    process::{Child, Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

/// How often [`wait_until`] checks its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Checks `condition` until it holds or `timeout` has passed; whether it held. This is how the
/// harness waits for what another process does (a log line, a port, an exit): on the event
/// itself, polled with a deadline, never a fixed sleep that guesses how long it takes.
pub(crate) fn wait_until(timeout: Duration, condition: impl FnMut() -> bool) -> bool {
    poll_until(POLL_INTERVAL, timeout, condition)
}

/// [`wait_until`] checking every `interval`: for a condition that costs something to check
/// (an HTTP request), which a test then counts.
pub(crate) fn poll_until(
    interval: Duration,
    timeout: Duration,
    mut condition: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(interval);
    }
}

/// Waits for what another process does: checks `condition` every `interval` until it holds;
/// after `timeout` the test fails with `failure()`, which says what never happened and
/// carries the logs that tell why (read only then). A condition that costs a request, which
/// a test may count, is checked less often than a log line.
#[track_caller]
pub fn wait_for(
    interval: Duration,
    timeout: Duration,
    condition: impl FnMut() -> bool,
    failure: impl FnOnce() -> String,
) {
    if !poll_until(interval, timeout, condition) {
        panic!("not within {timeout:?}: {}", failure());
    }
}

/// A child process that is killed (and reaped) when this guard drops.
pub(crate) struct KillOnDrop {
    child: Child,
}

impl KillOnDrop {
    pub(crate) fn new(child: Child) -> Self {
        KillOnDrop { child }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit; its status, or `None` if still running.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Option<String> {
        let mut status = None;
        wait_until(timeout, || {
            status = self.exited();
            status.is_some()
        });
        status
    }

    /// `Some(description)` once the process has exited.
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(err) => Some(format!("cannot be waited for: {err}")),
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// stdout then stderr of a finished command, as text (for assertions on client messages).
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn describe(command: &Command, output: &Output) -> String {
    format!(
        "command: {command:?}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null());
    command.output().unwrap_or_else(|err| {
        panic!(
            "cannot run {command:?}: {err} (run scripts/test to install the tools the tests use)"
        )
    })
}

/// Runs a command to completion and returns its output; panics, showing the command, its
/// status, stdout and stderr, unless it succeeded.
pub fn run_checked(command: &mut Command) -> Output {
    let output = run(command);
    if !output.status.success() {
        panic!(
            "command failed unexpectedly\n{}",
            describe(command, &output)
        );
    }
    output
}

/// Runs a command that is supposed to fail; panics, showing its output, if it succeeded.
pub fn run_expecting_failure(command: &mut Command) -> Output {
    let output = run(command);
    if output.status.success() {
        panic!(
            "command succeeded but should have failed\n{}",
            describe(command, &output)
        );
    }
    output
}

/// The proxy settings a process would inherit. Every process the harness starts has them
/// removed, so a machine's proxy cannot change what a test sees (a policy test must test the
/// policy, not the machine's proxy); a test that wants a proxy sets one explicitly.
pub const PROXY_ENV: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Removes [`PROXY_ENV`] from `command`'s environment.
pub fn without_proxy_env(command: &mut Command) -> &mut Command {
    for name in PROXY_ENV {
        command.env_remove(name);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_runs_return_output_and_failures_are_detected() {
        let output = run_checked(Command::new("sh").args(["-c", "echo out; echo err >&2"]));
        assert_eq!(output_text(&output), "out\nerr\n");
        let failed = run_expecting_failure(Command::new("sh").args(["-c", "echo nope; exit 3"]));
        assert_eq!(failed.status.code(), Some(3));
    }

    #[test]
    #[should_panic(expected = "--- stderr ---\nboom")]
    fn unexpected_failures_show_their_output() {
        run_checked(Command::new("sh").args(["-c", "echo boom >&2; exit 1"]));
    }

    #[test]
    #[should_panic(expected = "succeeded but should have failed")]
    fn unexpected_successes_panic() {
        run_expecting_failure(&mut Command::new("true"));
    }

    #[test]
    fn dropping_the_guard_kills_the_child() {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let mut guard = KillOnDrop::new(child);
        assert_eq!(guard.exited(), None);
        drop(guard);
        let alive = std::path::Path::new(&format!("/proc/{pid}/stat")).exists();
        assert!(!alive, "process {pid} survived its guard");
    }
}
