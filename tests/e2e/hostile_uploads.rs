//! Upload forms from strangers, against the real binary and the real registry: what can be
//! decided from the URL and headers is decided before the body is read, one form's text
//! fields are limited, and all forms together stay within one memory budget (issue 17).
//!
//! Each test streams its form over a raw socket, so it sees when the answer comes: before
//! the body was sent, while it is held, or after.

use std::{
    cell::Cell,
    fs,
    io::{ErrorKind, Read, Write},
    net::TcpStream,
    path::Path,
    thread,
    time::Duration,
};

use pyoci_test_support::{wait_for, Pyoci, Registry, RegistryAuth};

const BOUNDARY: &str = "hostile-form-boundary";
const MIB: usize = 1024 * 1024;
/// A form of this many 1 MiB text fields is what a stranger sent (issue 17: 1,000 of them
/// took PyOCI from 11 MiB to 982 MiB).
const HOSTILE_FIELDS: usize = 200;

fn start_pyoci(env: &[(&str, &str)]) -> Pyoci {
    Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), env)
}

/// Resident memory of a process in KiB: `VmRSS` now, or `VmHWM`, its peak so far.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// An upload request on a socket of its own: the head is sent at once, the form as the test
/// says.
struct RawUpload {
    stream: TcpStream,
}

impl RawUpload {
    /// Sends the request head of a multipart upload to `path` whose body is `length` bytes.
    fn start(pyoci: &Pyoci, path: &str, authorization: Option<&str>, length: usize) -> RawUpload {
        let mut stream = TcpStream::connect(("127.0.0.1", pyoci.port())).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        let authorization = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\n{authorization}\
             Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
             Content-Length: {length}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("send the head");
        RawUpload { stream }
    }

    /// One text field of `size` bytes, as a part of the form.
    fn field(name: &str, size: usize) -> Vec<u8> {
        let mut part =
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .into_bytes();
        part.resize(part.len() + size, b'x');
        part.extend_from_slice(b"\r\n");
        part
    }

    /// Sends `count` fields of `size` bytes; how many bytes went out before the server
    /// stopped taking them (it answered and closed, or stopped reading).
    fn send_fields(&mut self, count: usize, size: usize) -> usize {
        let mut sent = 0;
        self.stream
            .set_write_timeout(Some(Duration::from_secs(2)))
            .expect("write timeout");
        for n in 0..count {
            match self.stream.write_all(&Self::field(&format!("f{n}"), size)) {
                Ok(()) => sent += size,
                Err(_) => break,
            }
        }
        sent
    }

    /// The response's status line and headers, once they arrive.
    fn response_head(&mut self) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match self.stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                Ok(_) => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    /// The response head and as much of its body as arrives before the server closes.
    fn response(&mut self) -> String {
        let head = self.response_head();
        let mut body = vec![0u8; 64 * 1024];
        let read = self.stream.read(&mut body).unwrap_or(0);
        format!("{head}{}", String::from_utf8_lossy(&body[..read]))
    }
}

/// Sends a hostile form (HOSTILE_FIELDS fields of 1 MiB) in the background and returns the
/// answer, how many bytes of the form the server took, and its peak memory growth in MiB.
fn hostile_form(pyoci: &Pyoci, path: &str, authorization: Option<&str>) -> (String, usize, u64) {
    let before = memory_kib(pyoci.pid(), "VmHWM");
    let length = HOSTILE_FIELDS * (MIB + 100);
    let mut upload = RawUpload::start(pyoci, path, authorization, length);
    let mut writer = upload.stream.try_clone().expect("clone the socket");
    let sender = thread::spawn(move || {
        let mut sending = RawUpload {
            stream: writer.try_clone().expect("clone"),
        };
        let sent = sending.send_fields(HOSTILE_FIELDS, MIB);
        let _ = writer.flush();
        sent
    });
    let response = upload.response();
    // The server answered: stop sending, as a client that reads its answer would.
    let _ = upload.stream.shutdown(std::net::Shutdown::Both);
    let sent = sender.join().expect("the sender");
    let peak_growth_mib = memory_kib(pyoci.pid(), "VmHWM").saturating_sub(before) / 1024;
    (response, sent, peak_growth_mib)
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

/// A registry with htpasswd auth needs credentials to upload: an anonymous form is answered
/// 401 with the Basic challenge before its fields are read. Without the check before the
/// body, the form was read until its total limit (413), or, before that limit, to the end.
#[test]
fn an_anonymous_upload_is_refused_before_its_form_is_read() {
    let registry = Registry::start(RegistryAuth::Htpasswd(&[("alice", "secret")]));
    let pyoci = start_pyoci(&[]);
    let path = format!("/{}/hostile/", registry.url_segment());

    let (response, sent, growth_mib) = hostile_form(&pyoci, &path, None);
    assert!(status_line(&response).contains(" 401"), "{response}");
    assert!(
        response.contains("WWW-Authenticate: Basic realm=\"pyoci\"")
            || response.contains("www-authenticate: Basic realm=\"pyoci\""),
        "{response}"
    );
    assert!(
        response.contains("needs credentials for this and none were sent"),
        "{response}"
    );
    assert!(
        growth_mib < 16,
        "PyOCI's peak memory grew by {growth_mib} MiB for a refused form ({sent} bytes sent)"
    );

    // Wrong credentials are refused before the body too.
    let wrong = format!("Basic {}", base64_encode("alice:wrong"));
    let (response, _, growth_mib) = hostile_form(&pyoci, &path, Some(&wrong));
    assert!(status_line(&response).contains(" 401"), "{response}");
    assert!(growth_mib < 16, "grew by {growth_mib} MiB");
}

/// A registry PyOCI does not serve (not on PYOCI_REGISTRIES, or on a private address without
/// PYOCI_ALLOW_PRIVATE_REGISTRIES) is refused before the body is read.
#[test]
fn an_upload_to_a_refused_registry_is_refused_before_its_form_is_read() {
    let registry = Registry::start(RegistryAuth::None);
    let path = format!("/{}/hostile/", registry.url_segment());

    let listed_elsewhere = start_pyoci(&[("PYOCI_REGISTRIES", "registry.example.org")]);
    let (response, sent, growth_mib) = hostile_form(&listed_elsewhere, &path, None);
    assert!(status_line(&response).contains(" 403"), "{response}");
    assert!(response.contains("is not allowed"), "{response}");
    assert!(
        growth_mib < 16,
        "grew by {growth_mib} MiB ({sent} bytes sent)"
    );

    let private_refused = start_pyoci(&[("PYOCI_ALLOW_PRIVATE_REGISTRIES", "false")]);
    let (response, sent, growth_mib) = hostile_form(&private_refused, &path, None);
    assert!(status_line(&response).contains(" 403"), "{response}");
    assert!(
        growth_mib < 16,
        "grew by {growth_mib} MiB before answering {} ({sent} bytes sent)",
        status_line(&response)
    );
}

/// Where the registry lets anyone push, the form is read, but only up to its total limit.
#[test]
fn one_forms_text_fields_are_limited_together() {
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = start_pyoci(&[("PYOCI_MAX_FORM_BYTES", &(4 * MIB).to_string())]);
    let path = format!("/{}/hostile/", registry.url_segment());
    let (response, sent, growth_mib) = hostile_form(&pyoci, &path, None);
    assert!(status_line(&response).contains(" 413"), "{response}");
    assert!(
        response.contains("text fields together are larger than 4 MiB"),
        "{response}"
    );
    assert!(sent < 100 * MIB, "the server kept reading: {sent} bytes");
    assert!(growth_mib < 32, "grew by {growth_mib} MiB");
}

/// Many forms at once: the fields held by all of them stay within PYOCI_FORM_MEMORY; the
/// uploads beyond it are answered 503 at once, and the memory comes back once they end.
#[test]
fn concurrent_forms_stay_within_the_memory_budget() {
    const UPLOADS: usize = 10;
    const FIELDS: usize = 15;
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = start_pyoci(&[
        ("PYOCI_MAX_FORM_BYTES", &(16 * MIB).to_string()),
        ("PYOCI_FORM_MEMORY", &(20 * MIB).to_string()),
    ]);
    let path = format!("/{}/hostile/", registry.url_segment());
    let rss_before = memory_kib(pyoci.pid(), "VmRSS");
    let peak_before = memory_kib(pyoci.pid(), "VmHWM");

    // Each sends 15 MiB of fields and then waits, holding them, as a slow file would.
    let mut uploads: Vec<RawUpload> = (0..UPLOADS)
        .map(|_| RawUpload::start(&pyoci, &path, None, (FIELDS + 5) * (MIB + 100)))
        .collect();
    let senders: Vec<_> = uploads
        .iter()
        .map(|upload| {
            let stream = upload.stream.try_clone().expect("clone");
            thread::spawn(move || RawUpload { stream }.send_fields(FIELDS, MIB))
        })
        .collect();
    for sender in senders {
        sender.join().expect("sender");
    }
    let mut busy = 0;
    for upload in &mut uploads {
        upload
            .stream
            .set_read_timeout(Some(Duration::from_millis(1500)))
            .expect("timeout");
        let head = upload.response_head();
        if status_line(&head).contains(" 503") {
            busy += 1;
        } else {
            assert!(
                head.is_empty(),
                "only 503s are expected while forms are held: {head}"
            );
        }
    }
    let peak_growth_mib = memory_kib(pyoci.pid(), "VmHWM").saturating_sub(peak_before) / 1024;
    // 20 MiB hold one 15 MiB form; the other nine are refused. Without the budget all ten
    // were held: 150 MiB of fields, and more in copies.
    assert!(busy >= UPLOADS - 1, "{busy} of {UPLOADS} uploads got 503");
    assert!(
        peak_growth_mib < 80,
        "PyOCI's peak memory grew by {peak_growth_mib} MiB for {UPLOADS} forms of {FIELDS} MiB"
    );

    drop(uploads);
    let rss_after = Cell::new(0);
    wait_for(
        Duration::from_millis(100),
        Duration::from_secs(10),
        || {
            rss_after.set(memory_kib(pyoci.pid(), "VmRSS"));
            rss_after.get() <= rss_before + 24 * 1024
        },
        || {
            format!(
                "memory did not come back: VmRSS {rss_before} KiB before, {} KiB after\n{}",
                rss_after.get(),
                pyoci.log()
            )
        },
    );
    eprintln!(
        "VmRSS {rss_before} KiB before, {} KiB after; peak growth {peak_growth_mib} MiB",
        rss_after.get()
    );
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
