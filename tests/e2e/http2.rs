//! HTTP/2 to registries that offer it over TLS: the real distribution registry on https with
//! a certificate from a test CA, trusted through `PYOCI_REGISTRY_CA_FILE`. Its access log
//! names the protocol of every request, so the test sees which one PyOCI spoke.

use std::path::Path;

use pyoci_test_support::{basic_auth, content_form, wheel_bytes, HttpClient, Pyoci, TlsRegistry};

const USER_AGENT: &str = "pyoci/";

fn upload(http: &HttpClient, url: &str, name: &str, version: &str) -> u16 {
    let wheel = wheel_bytes(name, version, b"over h2");
    let filename = format!("{}-{version}-py3-none-any.whl", name.replace('-', "_"));
    let form = content_form(name, version, &filename, &wheel);
    // The registry has no auth; any credentials will do.
    let auth = basic_auth("user", "pass");
    http.post_multipart(url, form, &[("Authorization", auth.as_str())])
        .status
}

/// The access-log lines (combined log format, `127.0.0.1 - - [...] "GET /v2/ HTTP/2.0" ...`)
/// of requests PyOCI made (its user agent): how many came over HTTP/2, how many not.
fn pyoci_requests(log: &str) -> (usize, usize) {
    let lines = log
        .lines()
        .filter(|line| line.starts_with("127.0.0.1 - ") && line.contains(USER_AGENT));
    lines.fold((0, 0), |(h2, other), line| {
        if line.contains(" HTTP/2.0\"") {
            (h2 + 1, other)
        } else {
            (h2, other + 1)
        }
    })
}

#[test]
fn pyoci_speaks_http2_to_a_tls_registry_it_trusts_through_its_ca_file() {
    let registry = TlsRegistry::start();
    let ca = registry.ca_path().display().to_string();
    let pyoci = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[("PYOCI_REGISTRY_CA_FILE", ca.as_str())],
    );
    let http = HttpClient::new();
    let base = format!("{}/{}/h2", pyoci.base_url(), registry.url_segment());

    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        assert_eq!(upload(&http, &format!("{base}/"), "over-h2", version), 200);
    }
    let auth = basic_auth("user", "pass");
    let page = http.get_with(&format!("{base}/over-h2/"), &[("Authorization", &auth)]);
    assert_eq!(page.status, 200, "{}", page.text());
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        assert!(page
            .text()
            .contains(&format!("over_h2-{version}-py3-none-any.whl")));
    }
    let file = http.get_with(
        &format!("{base}/over-h2/over_h2-1.1.0-py3-none-any.whl"),
        &[("Authorization", &auth)],
    );
    assert_eq!(file.status, 200);
    assert_eq!(file.body, wheel_bytes("over-h2", "1.1.0", b"over h2"));

    let log = registry.log();
    let (h2, other) = pyoci_requests(&log);
    assert!(
        h2 >= 10 && other == 0,
        "every request PyOCI made must be HTTP/2 ({h2} were, {other} were not)\n{log}"
    );
}

#[test]
fn a_tls_registry_whose_ca_is_not_trusted_is_refused() {
    let registry = TlsRegistry::start();
    let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
    let http = HttpClient::new();
    let url = format!("{}/{}/h2/", pyoci.base_url(), registry.url_segment());
    let status = upload(&http, &url, "untrusted", "1.0.0");
    assert_eq!(
        status, 502,
        "an unknown CA is a registry fault, not a success"
    );
    let (h2, other) = pyoci_requests(&registry.log());
    assert_eq!(
        (h2, other),
        (0, 0),
        "no request got through the TLS handshake"
    );
}
