//! OpenTelemetry traces (`cargo test --features otel --test e2e_otel`): with the standard
//! OTEL_* variables PyOCI exports one server span per request and one client span per
//! registry request beneath it, and no span carries a credential. The collector here is a
//! small OTLP/HTTP (JSON) receiver: PyOCI's side is the real exporter.
//!
//! A test binary of its own rather than a module of `tests/e2e`: the `otel` feature rebuilds
//! the library, and as a module this one test would rebuild the whole e2e binary with it.
#![cfg(feature = "otel")]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    path::Path,
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use base64::Engine;
use pyoci_test_support::{
    basic_auth, wait_for, HttpClient, Pyoci, Registry, RegistryAuth, Rule, TokenIssuer,
};

const ALICE: (&str, &str) = ("alice", "alice-pw-T4kq8Z");

/// Accepts OTLP/HTTP exports and keeps each request body.
fn collector() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let kept = kept.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    kept.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                                  Content-Length: 2\r\n\r\n{}";
                    if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, bodies)
}

/// Every span in the exports so far: (name, kind, attributes as `key=value` text).
fn spans(bodies: &[String]) -> Vec<(String, u64, String, String, String)> {
    let mut found = Vec::new();
    for body in bodies {
        let export: serde_json::Value = serde_json::from_str(body).unwrap();
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    found.push((
                        span["name"].as_str().unwrap_or_default().to_owned(),
                        span["kind"].as_u64().unwrap_or_default(),
                        span["attributes"].to_string(),
                        span["spanId"].as_str().unwrap_or_default().to_owned(),
                        span["parentSpanId"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn requests_and_registry_calls_become_spans_without_credentials() {
    let issuer = TokenIssuer::builder()
        .user(ALICE.0, ALICE.1, vec![Rule::everything()])
        .start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let (port, bodies) = collector();
    let endpoint = format!("http://127.0.0.1:{port}");
    let pyoci = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "pyoci-under-test"),
        ],
    );
    let page = format!(
        "{}hello-pyoci/?token=query-secret-Q1",
        pyoci.index_url(&registry, "otel")
    );
    let response =
        HttpClient::new().get_with(&page, &[("Authorization", &basic_auth(ALICE.0, ALICE.1))]);
    assert_eq!(response.status, 404, "{}", pyoci.log());

    // SERVER = 2, CLIENT = 3 in OTLP.
    let mut exported = None;
    wait_for(
        Duration::from_millis(100),
        Duration::from_secs(20),
        || {
            let found = spans(&bodies.lock().unwrap());
            let server = found
                .iter()
                .find(|span| span.1 == 2 && span.0 == "GET project_page")
                .cloned();
            let clients: Vec<_> = found.iter().filter(|span| span.1 == 3).cloned().collect();
            exported = server
                .filter(|_| clients.iter().any(|span| span.0 == "GET tags"))
                .map(|server| (server, clients));
            exported.is_some()
        },
        || {
            format!(
                "no request and registry spans exported: {:?}\n{}",
                spans(&bodies.lock().unwrap()),
                pyoci.log()
            )
        },
    );
    let (server, clients) = exported.unwrap();
    assert!(server.2.contains("url.path"), "{}", server.2);
    assert!(
        server.2.contains("\"http.response.status_code\""),
        "{}",
        server.2
    );
    assert!(
        clients.iter().any(|span| span.0 == "GET token"),
        "{clients:?}"
    );
    assert!(
        clients.iter().all(|span| span.4 == server.3),
        "registry spans are children of the request span: {clients:?} / {server:?}"
    );
    let all = bodies.lock().unwrap().join("\n");
    assert!(
        all.contains("pyoci-under-test"),
        "OTEL_SERVICE_NAME is the service name"
    );
    let mut secrets = vec![
        ALICE.1.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ALICE.0, ALICE.1)),
        "query-secret-Q1".to_owned(),
    ];
    secrets.extend(issuer.grants().into_iter().map(|grant| grant.token));
    assert!(secrets.len() > 3, "a token was issued");
    for secret in secrets {
        assert!(
            !all.contains(&secret),
            "a secret reached the traces: {secret}"
        );
    }
}
