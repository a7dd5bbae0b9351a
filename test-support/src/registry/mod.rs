//! A real CNCF distribution registry (`docker-registry serve`) on a free loopback port.

mod config;

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use tempfile::TempDir;

pub use self::config::Notify;
use self::config::{AuthConfig, RegistryConfig, INSTANCE_HEADER};
use crate::{
    process::{poll_until, wait_until, KillOnDrop},
    TokenIssuer,
};

/// What must be encoded for a URL to fit in one path segment.
pub(crate) const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'?')
    .add(b'#')
    .add(b'@');

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";
const START_ATTEMPTS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a restart waits for its port to be released before trying again.
const PORT_FREE_TIMEOUT: Duration = Duration::from_secs(5);

/// How the registry asks clients to authenticate.
pub enum RegistryAuth<'a> {
    /// Anyone may pull, push and delete.
    None,
    /// Basic auth against an htpasswd file (bcrypt) holding these `(user, password)` pairs;
    /// the registry answers `401` with `WWW-Authenticate: Basic realm="pyoci-test"`.
    Htpasswd(&'a [(&'a str, &'a str)]),
    /// Bearer tokens from this issuer (the ghcr.io / Docker Hub scheme); the registry answers
    /// `401` with `WWW-Authenticate: Bearer realm="<issuer>/token",service=...,scope=...`.
    Token(TokenIssuer),
}

/// A running registry; the process is killed and its storage deleted on drop.
///
/// [`Registry::stop`] and [`Registry::restart`] take it down and bring it back on the same
/// port with the same storage, as a crash and a service manager would.
pub struct Registry {
    // Declared first so the process dies before its directory is removed.
    process: Option<KillOnDrop>,
    port: u16,
    log_path: PathBuf,
    config: RegistryConfig,
    config_path: PathBuf,
    token_issuer: Option<TokenIssuer>,
    _dir: TempDir,
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

impl Registry {
    /// Starts a registry and waits until it answers `GET /v2/`.
    ///
    /// Panics when `/usr/bin/docker-registry` is missing (run `scripts/test`, which installs
    /// it) or when the registry does not come up; the panic includes the registry's log.
    pub fn start(auth: RegistryAuth<'_>) -> Registry {
        Registry::start_configured(auth, true, None)
    }

    /// [`Registry::start`] for a registry that sends notifications of its pushes and
    /// deletes to `notify`.
    pub fn start_notifying(auth: RegistryAuth<'_>, notify: Notify) -> Registry {
        Registry::start_configured(auth, true, Some(notify))
    }

    /// [`Registry::start`] for a registry that refuses deletes with `405 UNSUPPORTED`, as
    /// ghcr.io does.
    pub fn start_without_deletes(auth: RegistryAuth<'_>) -> Registry {
        Registry::start_configured(auth, false, None)
    }

    fn start_configured(auth: RegistryAuth<'_>, deletes: bool, notify: Option<Notify>) -> Registry {
        if !Path::new(REGISTRY_BINARY).exists() {
            panic!(
                "docker-registry not found: run scripts/test, which installs it \
                 (looked for {REGISTRY_BINARY})"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("pyoci-registry-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let (auth_config, token_issuer) = match auth {
            RegistryAuth::None => (AuthConfig::None, None),
            RegistryAuth::Htpasswd(users) => {
                let path = dir.path().join("htpasswd");
                write_htpasswd(&path, users);
                (AuthConfig::Htpasswd { path }, None)
            }
            RegistryAuth::Token(issuer) => {
                let auth = AuthConfig::Token {
                    realm: issuer.realm(),
                    service: issuer.service().to_owned(),
                    issuer: issuer.issuer().to_owned(),
                    root_cert_bundle: issuer.cert_path().to_owned(),
                };
                (auth, Some(issuer))
            }
        };

        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let instance = format!(
                "{}-{}",
                std::process::id(),
                INSTANCES.fetch_add(1, Ordering::Relaxed)
            );
            let config = RegistryConfig {
                data_dir: dir.path().join("data"),
                port: crate::free_port(),
                instance,
                auth: auth_config.clone(),
                deletes,
                notify: notify.clone(),
            };
            let config_path = dir.path().join("config.yml");
            write_file(&config_path, config.render().as_bytes());
            let log_path = dir.path().join(format!("registry-{attempt}.log"));
            let mut process = spawn(&config_path, &log_path);

            match wait_until_ready(&mut process, &config) {
                Ok(()) => {
                    return Registry {
                        process: Some(process),
                        port: config.port,
                        log_path,
                        config,
                        config_path,
                        token_issuer,
                        _dir: dir,
                    }
                }
                Err(why) => {
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    let port_taken = log.contains("address already in use");
                    failures.push_str(&format!(
                        "attempt {attempt} on port {}: {why}\n--- registry log ---\n{log}\n",
                        config.port
                    ));
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("the registry did not start\n{failures}");
    }

    /// The port the registry listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as skopeo and OCI repository references want it.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host_port())
    }

    /// The registry as PyOCI's first URL segment: `http%3A%2F%2F127.0.0.1%3APORT`
    /// (a percent-encoded URL is how PyOCI learns a registry speaks plain http).
    pub fn url_segment(&self) -> String {
        utf8_percent_encode(&self.url(), PATH_SEGMENT).to_string()
    }

    /// The registry's storage root (the filesystem driver's `rootdirectory`): repositories
    /// live under `docker/registry/v2/repositories/<name>/`, unfinished blob uploads in
    /// their `_uploads/` directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The token issuer of a [`RegistryAuth::Token`] registry.
    pub fn token_issuer(&self) -> Option<&TokenIssuer> {
        self.token_issuer.as_ref()
    }

    /// Replaces the users of a [`RegistryAuth::Htpasswd`] registry, as an administrator
    /// changing a password or removing a user does. The registry reads its htpasswd file
    /// again when the file changes, so its next request is judged on the new list; no
    /// restart. Panics for a registry with other auth.
    pub fn set_htpasswd_users(&self, users: &[(&str, &str)]) {
        let AuthConfig::Htpasswd { path } = &self.config.auth else {
            panic!("set_htpasswd_users: this registry has no htpasswd file");
        };
        // Written aside and renamed over, so the registry never reads half a file.
        let next = path.with_extension("next");
        write_htpasswd(&next, users);
        fs::rename(&next, path)
            .unwrap_or_else(|err| panic!("cannot replace {}: {err}", path.display()));
    }

    /// What the registry has logged so far (warnings and the access log), across restarts.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The partial blobs the registry holds now, over all repositories: the `data` file of
    /// every upload session in its storage. An upload that was committed or cancelled leaves
    /// none (a cancelled one may leave its few-byte `hashstates` behind, which is not data).
    pub fn unfinished_uploads(&self) -> Vec<PathBuf> {
        let repositories = self.config.data_dir.join("docker/registry/v2/repositories");
        let mut partial_blobs = Vec::new();
        let mut folders = vec![repositories];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                if entry.file_name() == "_uploads" {
                    let sessions = fs::read_dir(&path).into_iter().flatten().flatten();
                    let data = sessions.map(|session| session.path().join("data"));
                    partial_blobs.extend(data.filter(|data| data.exists()));
                } else if !entry.file_name().to_string_lossy().starts_with('_') {
                    folders.push(path);
                }
            }
        }
        partial_blobs
    }

    /// Waits up to `timeout` for `needle` to appear in the log, such as a request line of the
    /// access log (`"POST /v2/<repository>/blobs/uploads/`): the registry has answered it.
    /// Whether it did.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// Kills the registry process (SIGKILL, like a crash: requests in flight are cut) and
    /// waits for it to exit. Its port then refuses connections. Does nothing when stopped.
    pub fn stop(&mut self) {
        // Dropping the guard kills and reaps the process.
        drop(self.process.take());
    }

    /// Whether the registry process is running.
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|process| process.exited().is_none())
    }

    /// Stops the registry if it runs, then starts it again on the same port, with the same
    /// storage and auth, and waits until it answers. Panics with the log when it does not
    /// come back (another process may have taken the port meanwhile).
    pub fn restart(&mut self) {
        self.stop();
        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            // A new instance name, so the readiness probe knows the new process answered.
            self.config.instance = format!(
                "{}-{}",
                std::process::id(),
                INSTANCES.fetch_add(1, Ordering::Relaxed)
            );
            write_file(&self.config_path, self.config.render().as_bytes());
            let mut process = spawn(&self.config_path, &self.log_path);
            match wait_until_ready(&mut process, &self.config) {
                Ok(()) => {
                    self.process = Some(process);
                    return;
                }
                Err(why) => {
                    failures.push_str(&format!("restart attempt {attempt}: {why}\n"));
                    // Another process may hold the port for a moment (one that won a race for
                    // it); retry once the port can be bound again.
                    drop(process);
                    let port = self.port;
                    if !wait_until(PORT_FREE_TIMEOUT, || port_is_free(port)) {
                        failures.push_str(&format!("port {port} still taken\n"));
                    }
                }
            }
        }
        panic!(
            "the registry did not come back on port {}\n{failures}--- registry log ---\n{}",
            self.port,
            self.log()
        );
    }
}

fn write_file(path: &Path, contents: &[u8]) {
    fs::write(path, contents)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
}

fn write_htpasswd(path: &Path, users: &[(&str, &str)]) {
    let mut entries = String::new();
    for (user, password) in users {
        let output = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| {
                panic!("htpasswd not found: run scripts/test, which installs apache2-utils ({err})")
            });
        if !output.status.success() {
            panic!(
                "htpasswd -Bbn {user} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        entries.push_str(String::from_utf8_lossy(&output.stdout).trim());
        entries.push('\n');
    }
    write_file(path, entries.as_bytes());
}

/// Starts the registry binary with `config_path`, its output appended to `log_path`.
pub(crate) fn spawn(config_path: &Path, log_path: &Path) -> KillOnDrop {
    // Appending, so a restarted registry adds to the log its first run wrote.
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .unwrap_or_else(|err| panic!("cannot create {}: {err}", log_path.display()));
    let log_for_stderr = log
        .try_clone()
        .unwrap_or_else(|err| panic!("cannot share the registry log file: {err}"));
    let mut command = Command::new(REGISTRY_BINARY);
    command
        .arg("serve")
        .arg(config_path)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr);
    crate::without_proxy_env(&mut command);
    // The config file is the whole truth: drop REGISTRY_* overrides from the environment.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("REGISTRY_") {
            command.env_remove(name);
        }
    }
    let child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {REGISTRY_BINARY}: {err}"));
    KillOnDrop::new(child)
}

fn wait_until_ready(process: &mut KillOnDrop, config: &RegistryConfig) -> Result<(), String> {
    let mut exited = None;
    let answered = poll_until(Duration::from_millis(20), READY_TIMEOUT, || {
        exited = process.exited();
        exited.is_some() || answers_as(config.port, &config.instance)
    });
    match exited {
        Some(status) => Err(format!("the registry exited ({status})")),
        None if answered => Ok(()),
        None => Err(format!(
            "no answer to GET /v2/ within {}s",
            READY_TIMEOUT.as_secs()
        )),
    }
}

/// Whether a listener could be opened on the loopback port now.
fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Whether `GET /v2/` on the port gets any HTTP answer from the registry `instance`.
fn answers_as(port: u16, instance: &str) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    let expected_header = format!("{}: {}", INSTANCE_HEADER, instance).to_ascii_lowercase();
    response.starts_with("http/1.") && response.contains(&expected_header)
}
