//! The distribution registry served over TLS, with a certificate from a throwaway test CA
//! (made with the `openssl` CLI), so PyOCI's https path (ALPN, HTTP/2, a private CA) is
//! tested against the real registry.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use tempfile::TempDir;

use crate::process::{wait_until, KillOnDrop};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A registry without auth on `https://127.0.0.1:<port>`, its access log on (each line
/// names the protocol a request came over: `"GET /v2/ HTTP/2.0"`).
pub struct TlsRegistry {
    process: KillOnDrop,
    port: u16,
    log_path: PathBuf,
    ca_path: PathBuf,
    _dir: TempDir,
}

impl TlsRegistry {
    /// Makes a CA and a certificate for `127.0.0.1`, starts the registry with it, and waits
    /// until it listens. Panics (with the log) when it does not come up.
    pub fn start() -> TlsRegistry {
        let dir = tempfile::Builder::new()
            .prefix("pyoci-tls-registry-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let ca_path = make_certificates(dir.path());
        let port = crate::free_port();
        let config = dir.path().join("config.yml");
        let yaml = format!(
            "version: 0.1\n\
             log:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: \"{data}\"\n  delete:\n    enabled: true\n\
             http:\n  addr: \"127.0.0.1:{port}\"\n  secret: \"pyoci-tls-test\"\n  \
             tls:\n    certificate: \"{cert}\"\n    key: \"{key}\"\n",
            data = dir.path().join("data").display(),
            cert = dir.path().join("server.pem").display(),
            key = dir.path().join("server.key").display(),
        );
        fs::write(&config, yaml).unwrap_or_else(|err| panic!("cannot write the config: {err}"));
        let log_path = dir.path().join("registry.log");
        let mut process = crate::registry::spawn(&config, &log_path);
        let listening = wait_until(READY_TIMEOUT, || {
            process.exited().is_some()
                || fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .contains("listening on")
        });
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            listening && process.exited().is_none(),
            "the TLS registry did not start\n--- registry log ---\n{log}"
        );
        TlsRegistry {
            process,
            port,
            log_path,
            ca_path,
            _dir: dir,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry's segment in a PyOCI URL: `127.0.0.1:<port>` (https is the default).
    pub fn url_segment(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The PEM file of the CA that signed the registry's certificate.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The registry's log so far, access log included.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The registry process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

/// Writes `ca.pem`, `server.pem` and `server.key` (for 127.0.0.1 and localhost, signed by a
/// throwaway test CA) into `dir`; returns the CA's path. For any TLS server under test, not
/// only the registry (PyOCI's `PYOCI_TLS_CERT`/`PYOCI_TLS_KEY`).
pub fn make_certificates(dir: &Path) -> PathBuf {
    let path = |name: &str| dir.join(name).display().to_string();
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap_or_else(|err| panic!("cannot write the certificate extensions: {err}"));
    let steps: [Vec<String>; 3] = [
        vec![
            "req".into(),
            "-x509".into(),
            "-newkey".into(),
            "rsa:2048".into(),
            "-nodes".into(),
            "-keyout".into(),
            path("ca.key"),
            "-out".into(),
            path("ca.pem"),
            "-days".into(),
            "2".into(),
            "-subj".into(),
            "/CN=PyOCI test CA".into(),
            "-addext".into(),
            "basicConstraints=critical,CA:TRUE".into(),
            "-addext".into(),
            "keyUsage=critical,keyCertSign,cRLSign".into(),
        ],
        vec![
            "req".into(),
            "-newkey".into(),
            "rsa:2048".into(),
            "-nodes".into(),
            "-keyout".into(),
            path("server.key"),
            "-out".into(),
            path("server.csr"),
            "-subj".into(),
            "/CN=127.0.0.1".into(),
        ],
        vec![
            "x509".into(),
            "-req".into(),
            "-in".into(),
            path("server.csr"),
            "-CA".into(),
            path("ca.pem"),
            "-CAkey".into(),
            path("ca.key"),
            "-CAcreateserial".into(),
            "-out".into(),
            path("server.pem"),
            "-days".into(),
            "2".into(),
            "-extfile".into(),
            path("server.ext"),
        ],
    ];
    for args in steps {
        let output = Command::new("openssl")
            .args(&args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run openssl (run scripts/test): {err}"));
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    dir.join("ca.pem")
}
