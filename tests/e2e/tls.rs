//! HTTPS without a reverse proxy: PyOCI with PYOCI_TLS_CERT/PYOCI_TLS_KEY from a test CA
//! (made here with the openssl CLI) serves twine, pip and uv over TLS, offers HTTP/2 by ALPN
//! (uv takes it), and picks up a renewed certificate without a restart.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use pyoci_test_support::{run_checked, wait_for, Pyoci, Python, Registry, RegistryAuth};

use crate::support::{dists, PROJECT};

const NAMESPACE: &str = "tls";

/// A CA and server certificates it signs, in a temporary directory.
struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa { dir };
        ca.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=PyOCI test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        fs::write(
            ca.path("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
             basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        ca
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        run_checked(
            Command::new("openssl")
                .current_dir(self.dir.path())
                .args(args),
        );
    }

    /// Issues a server certificate with common name `name`: `(<name>.pem, <name>.key)`.
    fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key, csr) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
        );
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ]);
        (self.path(&cert), self.path(&key))
    }
}

/// The subject of the certificate the server at `port` presents now.
fn served_subject(port: u16) -> String {
    let script = format!(
        "openssl s_client -connect 127.0.0.1:{port} -servername localhost </dev/null 2>/dev/null \
         | openssl x509 -noout -subject"
    );
    let output = Command::new("sh").args(["-c", &script]).output().unwrap();
    // `subject=CN = first` or `subject=CN=first`, by OpenSSL version.
    String::from_utf8_lossy(&output.stdout).replace(' ', "")
}

fn curl_http_version(ca: &Path, url: &str) -> String {
    let output = run_checked(
        Command::new("curl")
            .args(["--silent", "--show-error", "--http2", "--cacert"])
            .arg(ca)
            .args([
                "--output",
                "/dev/null",
                "--write-out",
                "%{http_version}",
                url,
            ]),
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `command` trusting only the test CA: the CA bundles a machine may point clients to are
/// dropped (requests lets `REQUESTS_CA_BUNDLE` win over twine's `--cert`), and each client
/// is given the CA its own way.
fn trusting_only<'a>(command: &'a mut Command, ca: &Path) -> &'a mut Command {
    for name in [
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSL_CERT_DIR",
        "PIP_CERT",
    ] {
        command.env_remove(name);
    }
    command
        .env("TWINE_CERT", ca)
        .env("PIP_CERT", ca)
        .env("SSL_CERT_FILE", ca)
}

#[test]
fn pip_uv_and_twine_over_https_with_http2_and_a_reloaded_certificate() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue("first");
    // PyOCI reads the files where they are; copies let the test replace them in place.
    let (live_cert, live_key) = (ca.path("live.pem"), ca.path("live.key"));
    fs::copy(&cert, &live_cert).unwrap();
    fs::copy(&key, &live_key).unwrap();
    let ca_file = ca.path("ca.pem");

    let registry = Registry::start(RegistryAuth::None);
    let pyoci = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[
            ("PYOCI_TLS_CERT", live_cert.to_str().unwrap()),
            ("PYOCI_TLS_KEY", live_key.to_str().unwrap()),
        ],
    );
    assert!(pyoci.log().contains("(https)"), "{}", pyoci.log());
    let base = format!("https://127.0.0.1:{}", pyoci.port());
    let index = format!("{base}/{}/{NAMESPACE}/", registry.url_segment());
    let python = Python::locate();

    // twine uploads, pip and uv install, each trusting only the test CA.
    let dists = dists("0.1.0", "tls");
    run_checked(trusting_only(
        &mut python.twine_upload(&index, "any", "any", &[&dists.sdist, &dists.wheel]),
        &ca_file,
    ));
    let venv_dir = tempfile::tempdir().unwrap();
    let pip_venv = python.new_venv(&venv_dir.path().join("pip"));
    run_checked(trusting_only(
        &mut python.pip_install(&pip_venv, &index, &format!("{PROJECT}==0.1.0")),
        &ca_file,
    ));
    let uv_venv = python.new_venv(&venv_dir.path().join("uv"));
    run_checked(trusting_only(
        &mut python.uv_pip_install(&uv_venv, &index, &format!("{PROJECT}==0.1.0")),
        &ca_file,
    ));
    assert_eq!(
        pip_venv.import_attribute(crate::support::MODULE, "MARKER"),
        "tls"
    );
    assert_eq!(
        uv_venv.import_attribute(crate::support::MODULE, "MARKER"),
        "tls"
    );

    // HTTP/2 by ALPN: curl gets it, and uv used it (the access log says which version).
    assert_eq!(curl_http_version(&ca_file, &format!("{base}/health")), "2");
    let log = pyoci.log();
    let uv_over_h2 = log
        .lines()
        .filter(|line| line.contains("pyoci::access") && line.contains("user_agent=uv/"))
        .filter(|line| line.contains("http_version=HTTP/2.0"))
        .count();
    assert!(uv_over_h2 > 0, "uv did not use HTTP/2:\n{log}");
    assert!(
        log.lines()
            .any(|line| line.contains("user_agent=pip/") && line.contains("http_version=HTTP/1.1")),
        "pip speaks HTTP/1.1:\n{log}"
    );

    // Renewal: the files are rewritten in place (the key a moment after the certificate, as
    // a careless renewal script would); new connections get the new certificate.
    assert!(served_subject(pyoci.port()).contains("CN=first"));
    let (renewed_cert, renewed_key) = ca.issue("second");
    fs::write(&live_cert, fs::read(&renewed_cert).unwrap()).unwrap();
    // The certificate without its key: refused, the old pair kept and still served.
    wait_for(
        Duration::from_millis(50),
        Duration::from_secs(15),
        || pyoci.log().contains("TLS certificate not reloaded"),
        || {
            format!(
                "a certificate without its key was not refused:\n{}",
                pyoci.log()
            )
        },
    );
    assert!(served_subject(pyoci.port()).contains("CN=first"));
    fs::write(&live_key, fs::read(&renewed_key).unwrap()).unwrap();
    wait_for(
        Duration::from_millis(100),
        Duration::from_secs(15),
        || served_subject(pyoci.port()).contains("CN=second"),
        || {
            format!(
                "the renewed certificate was not picked up:\n{}",
                pyoci.log()
            )
        },
    );
    let log = pyoci.log();
    assert!(log.contains("TLS certificate reloaded"), "{log}");
    let again = python.new_venv(&venv_dir.path().join("again"));
    run_checked(trusting_only(
        &mut python.pip_install(&again, &index, PROJECT),
        &ca_file,
    ));
}

#[test]
fn a_key_that_does_not_match_the_certificate_stops_the_start() {
    let ca = TestCa::new();
    let (cert, _) = ca.issue("one");
    let (_, other_key) = ca.issue("two");
    let output = Command::new(env!("CARGO_BIN_EXE_pyoci"))
        .env("PORT", "0")
        .env("PYOCI_HOST", "127.0.0.1")
        .env("PYOCI_TLS_CERT", &cert)
        .env("PYOCI_TLS_KEY", &other_key)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not belong to PYOCI_TLS_CERT"),
        "{stderr}"
    );

    let only_cert = Command::new(env!("CARGO_BIN_EXE_pyoci"))
        .env("PORT", "0")
        .env("PYOCI_HOST", "127.0.0.1")
        .env("PYOCI_TLS_CERT", &cert)
        .env_remove("PYOCI_TLS_KEY")
        .output()
        .unwrap();
    assert!(!only_cert.status.success());
    assert!(String::from_utf8_lossy(&only_cert.stderr).contains("set both"));
}
