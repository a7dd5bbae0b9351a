//! The server's limits against the real binary: header count and size, slow clients, the body
//! limit, and a graceful stop that lets an upload in flight finish.

use std::{
    io::{ErrorKind, Read, Write},
    net::TcpStream,
    path::Path,
    time::{Duration, Instant},
};

use pyoci_test_support::{sha256_hex, HttpClient, Multipart, Pyoci, Registry, RegistryAuth};

/// How long to wait for an event another process signals (a log line).
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
/// What PyOCI logs once SIGTERM made it stop accepting connections.
const SHUTTING_DOWN: &str = "shutting down: finishing requests in flight";

fn start_pyoci(env: &[(&str, &str)]) -> Pyoci {
    Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), env)
}

fn connect(pyoci: &Pyoci) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", pyoci.port())).expect("connect to pyoci");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    stream
}

/// Reads until the server closes the connection (or the read timeout hits).
fn read_all(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

#[test]
fn too_many_headers_are_refused() {
    let pyoci = start_pyoci(&[]);
    let mut stream = connect(&pyoci);
    let mut request = String::from("GET /health HTTP/1.1\r\nHost: localhost\r\n");
    for n in 0..200 {
        request.push_str(&format!("X-Filler-{n}: {n}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    let response = read_all(&mut stream);
    assert!(
        status_line(&response).contains(" 431"),
        "expected 431, got: {response}"
    );
}

#[test]
fn a_huge_header_is_refused() {
    let pyoci = start_pyoci(&[]);
    let mut stream = connect(&pyoci);
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let _ = stream.write_all(request.as_bytes());
    let response = read_all(&mut stream);
    assert!(
        status_line(&response).contains(" 431") || response.is_empty(),
        "expected 431 or a closed connection, got: {}",
        status_line(&response)
    );
    // The server is still fine afterwards.
    assert_eq!(
        HttpClient::new()
            .get(&format!("{}/health", pyoci.base_url()))
            .status,
        200
    );
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let pyoci = start_pyoci(&[("PYOCI_HEADER_TIMEOUT_SECS", "1")]);
    let mut stream = connect(&pyoci);
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .expect("send partial request");
    let started = Instant::now();
    let response = read_all(&mut stream);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "the connection was held for {waited:?}"
    );
    assert!(
        response.is_empty() || status_line(&response).contains(" 408"),
        "expected a closed connection or 408, got: {response}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let pyoci = start_pyoci(&[("PYOCI_HEADER_TIMEOUT_SECS", "1")]);
    let mut stream = connect(&pyoci);
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send request");
    let started = Instant::now();
    let response = read_all(&mut stream);
    assert!(status_line(&response).contains(" 200"), "{response}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an idle connection was kept for {:?}",
        started.elapsed()
    );
}

#[test]
fn a_body_over_the_limit_is_refused() {
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = start_pyoci(&[("PYOCI_MAX_BODY", "4096")]);
    let url = pyoci.index_url(&registry, "limits");
    let content = vec![7u8; 64 * 1024];
    let form = Multipart::new()
        .text("sha256_digest", &sha256_hex(&content))
        .file(
            "content",
            "big-1.0-py3-none-any.whl",
            "application/octet-stream",
            &content,
        );

    // Content-Length says it: refused before the body is read.
    let response = HttpClient::new().post_multipart(&url, form, &[]);
    assert_eq!(response.status, 413, "{}", response.text());

    // A chunked body gives no length up front: refused once it passes the limit.
    let form = Multipart::new()
        .text("sha256_digest", &sha256_hex(&content))
        .file(
            "content",
            "big-1.0-py3-none-any.whl",
            "application/octet-stream",
            &content,
        );
    let content_type = form.content_type();
    let body = form.into_body();
    let path = url.trim_start_matches(&pyoci.base_url()).to_owned();
    let mut stream = connect(&pyoci);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("send head");
    for chunk in body.chunks(8192) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&frame).is_err() {
            break; // the server may stop reading once it has refused
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let response = read_all(&mut stream);
    assert!(
        status_line(&response).contains(" 413"),
        "expected 413, got: {response}"
    );
    assert!(response.contains("PYOCI_MAX_BODY"), "{response}");
    let page = HttpClient::new().get(&format!("{url}big/"));
    assert_eq!(page.status, 404, "nothing may be stored: {}", page.text());
}

#[test]
fn sigterm_lets_an_upload_in_flight_finish() {
    let registry = Registry::start(RegistryAuth::None);
    let mut pyoci = start_pyoci(&[]);
    let url = pyoci.index_url(&registry, "shutdown");
    let payload: Vec<u8> = (0..2 * 1024 * 1024u32).map(|n| (n % 251) as u8).collect();
    let content = pyoci_test_support::wheel_bytes("inflight", "1.0", &payload);
    let filename = "inflight-1.0-py3-none-any.whl";
    let form = Multipart::new()
        .text(":action", "file_upload")
        .text("name", "inflight")
        .text("version", "1.0")
        .text("sha256_digest", &sha256_hex(&content))
        .file("content", filename, "application/octet-stream", &content);
    let content_type = form.content_type();
    let body = form.into_body();
    let path = url.trim_start_matches(&pyoci.base_url()).to_owned();

    let mut stream = connect(&pyoci);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).expect("send first half");
    // The upload is in flight once PyOCI has opened the registry's blob upload for the file:
    // it has accepted the connection and is streaming the body.
    let blob_upload = "\"POST /v2/shutdown/inflight/blobs/uploads/";
    assert!(
        registry.wait_for_log(blob_upload, EVENT_TIMEOUT),
        "PyOCI never started the blob upload\n--- pyoci ---\n{}\n--- registry ---\n{}",
        pyoci.log(),
        registry.log()
    );

    pyoci.terminate();
    assert!(
        pyoci.wait_for_log(SHUTTING_DOWN, EVENT_TIMEOUT),
        "no `{SHUTTING_DOWN}` after SIGTERM\n{}",
        pyoci.log()
    );
    // It stopped listening before it said so: a new connection is refused, while the upload
    // in flight is still waiting for the second half of its body.
    match TcpStream::connect(("127.0.0.1", pyoci.port())) {
        Err(error) => assert_eq!(
            error.kind(),
            ErrorKind::ConnectionRefused,
            "a new connection after SIGTERM failed otherwise: {error}"
        ),
        Ok(_) => panic!(
            "a new connection was accepted after SIGTERM\n{}",
            pyoci.log()
        ),
    }
    assert!(pyoci.is_running(), "pyoci exited with an upload in flight");

    stream.write_all(rest).expect("send the rest after SIGTERM");
    let response = read_all(&mut stream);
    assert!(
        status_line(&response).contains(" 200"),
        "the upload in flight was cut off: {response}\n{}",
        pyoci.log()
    );
    let exit = pyoci.wait_for_exit(Duration::from_secs(10));
    assert!(exit.is_some(), "pyoci did not stop after SIGTERM");
    assert!(
        pyoci.log().contains("all requests finished"),
        "{}",
        pyoci.log()
    );

    // A fresh server lists the file.
    let other = start_pyoci(&[]);
    let page = HttpClient::new().get(&format!(
        "{}inflight/",
        other.index_url(&registry, "shutdown")
    ));
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains(filename), "{}", page.text());
}
