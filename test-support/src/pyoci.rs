//! The `pyoci` server binary under test.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use tempfile::TempDir;

use crate::{
    process::{poll_until, wait_until, KillOnDrop},
    without_proxy_env, Registry,
};

const START_TIMEOUT: Duration = Duration::from_secs(20);
const LISTENING_ON: &str = "listening on 127.0.0.1:";

/// What must be encoded in a URL's userinfo.
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'?')
    .add(b'#')
    .add(b'@')
    .add(b'[')
    .add(b']');

/// A running `pyoci` server on a free loopback port; killed on drop.
pub struct Pyoci {
    process: KillOnDrop,
    port: u16,
    log_path: PathBuf,
    _dir: TempDir,
}

impl Pyoci {
    /// Starts `binary` (pass `env!("CARGO_BIN_EXE_pyoci")`) with `PORT=0`,
    /// `PYOCI_HOST=127.0.0.1`, `PYOCI_ALLOW_PRIVATE_REGISTRIES=true` (the test registries are
    /// on loopback) and `RUST_LOG=pyoci=debug,info`, then `env` (which may override those),
    /// and waits for its `listening on 127.0.0.1:<port>` log line. Inherited `PYOCI_*` and
    /// proxy settings ([`PROXY_ENV`](crate::PROXY_ENV)) are dropped so the machine's
    /// environment cannot change the server under test.
    pub fn start(binary: &Path, env: &[(&str, &str)]) -> Pyoci {
        let dir = tempfile::Builder::new()
            .prefix("pyoci-server-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let log_path = dir.path().join("pyoci.log");
        let log = fs::File::create(&log_path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", log_path.display()));
        let log_for_stderr = log
            .try_clone()
            .unwrap_or_else(|err| panic!("cannot share the pyoci log file: {err}"));

        let mut command = server_command(binary, env);
        command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr);
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let mut process = KillOnDrop::new(child);

        let (mut port, mut exited) = (None, None);
        poll_until(Duration::from_millis(20), START_TIMEOUT, || {
            port = listening_port(&fs::read_to_string(&log_path).unwrap_or_default());
            exited = process.exited();
            port.is_some() || exited.is_some()
        });
        let Some(port) = port else {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            match exited {
                Some(status) => {
                    panic!("pyoci exited ({status}) before listening\n--- pyoci log ---\n{log}")
                }
                None => panic!(
                    "pyoci logged no `{LISTENING_ON}<port>` within {}s\n--- pyoci log ---\n{log}",
                    START_TIMEOUT.as_secs()
                ),
            }
        };
        Pyoci {
            process,
            port,
            log_path,
            _dir: dir,
        }
    }

    /// The server's process id (for `/proc/<pid>/...`).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// The port pyoci listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/<registry segment>/<namespace>/`: the index (and upload) URL
    /// for a namespace of `registry`.
    pub fn index_url(&self, registry: &Registry, namespace: &str) -> String {
        format!(
            "{}/{}/{namespace}/",
            self.base_url(),
            registry.url_segment()
        )
    }

    /// [`Pyoci::index_url`] with `user:password@` in it, as pip and uv take credentials.
    pub fn index_url_with_credentials(
        &self,
        registry: &Registry,
        namespace: &str,
        user: &str,
        password: &str,
    ) -> String {
        format!(
            "http://{}:{}@127.0.0.1:{}/{}/{namespace}/",
            utf8_percent_encode(user, USERINFO),
            utf8_percent_encode(password, USERINFO),
            self.port,
            registry.url_segment()
        )
    }

    /// Everything pyoci has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits up to `timeout` for `needle` to appear in the log (the event it marks has
    /// happened); whether it did.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// Sends SIGTERM, as a service manager stopping PyOCI would.
    pub fn terminate(&self) {
        // A signal sent from Rust: the `kill` program (procps) is missing from slim images.
        let pid = libc::pid_t::try_from(self.process.id())
            .unwrap_or_else(|_| panic!("pid {} does not fit pid_t", self.process.id()));
        // SAFETY: kill(2) only reads its two integer arguments.
        let result = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(
            result,
            0,
            "kill -TERM {pid} failed: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Waits up to `timeout` for the server to exit; its exit status, or `None`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<String> {
        self.process.wait_timeout(timeout)
    }

    /// Whether the process is still running (a crash shows up here and in [`Pyoci::log`]).
    pub fn is_running(&mut self) -> bool {
        self.process.exited().is_none()
    }
}

/// The server's command: the contract environment, then `env`, without inherited `PYOCI_*`
/// and proxy settings.
fn server_command(binary: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("PYOCI_") && name_text != "PYOCI_TEST_VENV" {
            command.env_remove(&name);
        }
    }
    // No inherited proxy: reqwest would use it, and the address policy treats requests
    // through a proxy differently. Tests that want one set it in `env`.
    without_proxy_env(&mut command);
    command
        .env("PORT", "0")
        .env("PYOCI_HOST", "127.0.0.1")
        .env("PYOCI_ALLOW_PRIVATE_REGISTRIES", "true")
        .env("RUST_LOG", "pyoci=debug,info")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied());
    command
}

/// The port in the first `listening on 127.0.0.1:<port>` line, ANSI colours ignored.
fn listening_port(log: &str) -> Option<u16> {
    let plain = strip_ansi(log);
    let start = plain.find(LISTENING_ON)? + LISTENING_ON.len();
    let digits: String = plain[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|port| *port != 0)
}

/// Removes `ESC [ ... letter` sequences.
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(character) = chars.next() {
        if character == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for code in chars.by_ref() {
                if code.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(character);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_port() {
        assert_eq!(
            listening_port("  INFO pyoci: listening on 127.0.0.1:40123\n"),
            Some(40123)
        );
        assert_eq!(
            listening_port(
                "\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening on 127.0.0.1:\u{1b}[1m8\u{1b}[0m081 x"
            ),
            Some(8081)
        );
        assert_eq!(listening_port("starting\n"), None);
        assert_eq!(listening_port("listening on 127.0.0.1:"), None);
        assert_eq!(listening_port("listening on 127.0.0.1:0"), None);
    }

    #[test]
    fn starts_with_the_contract_environment_and_reads_the_port() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake-pyoci");
        fs::write(
            &fake,
            "#!/bin/sh\necho \"$RUST_LOG $EXTRA $PYOCI_ALLOW_PRIVATE_REGISTRIES\"\n\
             echo \"INFO pyoci: listening on $PYOCI_HOST:4$PORT$PORT$PORT$PORT\" >&2\n\
             exec sleep 30\n",
        )
        .unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let mut server = Pyoci::start(&fake, &[("EXTRA", "yes"), ("RUST_LOG", "trace")]);
        assert_eq!(server.port(), 40000);
        assert_eq!(server.base_url(), "http://127.0.0.1:40000");
        assert!(
            server.log().starts_with("trace yes true\n"),
            "{}",
            server.log()
        );
        assert!(server.is_running());
        let strict = Pyoci::start(&fake, &[("PYOCI_ALLOW_PRIVATE_REGISTRIES", "false")]);
        assert!(
            strict.log().starts_with("pyoci=debug,info  false\n"),
            "{}",
            strict.log()
        );
    }

    #[test]
    fn inherited_proxy_settings_are_removed() {
        let command = server_command(
            Path::new("/bin/true"),
            &[("HTTPS_PROXY", "http://127.0.0.1:3")],
        );
        let envs: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        for name in crate::PROXY_ENV {
            let expected = (*name == "HTTPS_PROXY").then(|| "http://127.0.0.1:3".to_owned());
            let value = envs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            assert_eq!(value, Some(expected), "{name}: {envs:?}");
        }
    }

    #[test]
    fn missing_binaries_panic_with_the_path() {
        let result = std::panic::catch_unwind(|| {
            Pyoci::start(Path::new("/nonexistent/pyoci"), &[]);
        });
        let message = *result.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("/nonexistent/pyoci"), "{message}");
    }

    #[test]
    fn a_server_that_exits_early_shows_its_log() {
        let result = std::panic::catch_unwind(|| {
            Pyoci::start(Path::new("/bin/sh"), &[("ENV", "/dev/null")]);
        });
        let message = *result.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("exited"), "{message}");
    }
}
