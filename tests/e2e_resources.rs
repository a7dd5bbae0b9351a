//! Resources no one client or registry may hold forever, against the real binary: a client
//! that stops sending its upload, a registry that stops sending its answer, and requests
//! naming thousands of registry hosts (open files and memory stay bounded).

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    thread,
    time::{Duration, Instant},
};

use pyoci_test_support::{
    upload_form, Fault, FaultProxy, FaultRule, HttpClient, HttpResponse, Pyoci, Registry,
    RegistryAuth,
};

const NAMESPACE: &str = "resources";
const PROJECT: &str = "resources-demo";

fn start_pyoci(env: &[(&str, &str)]) -> Pyoci {
    Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), env)
}

fn index_url(pyoci: &Pyoci, segment: &str) -> String {
    format!("{}/{segment}/{NAMESPACE}/", pyoci.base_url())
}

fn wheel_name(version: &str) -> String {
    format!("resources_demo-{version}-py3-none-any.whl")
}

/// `size` bytes that no compressor or dedup shortcut makes small.
fn content(size: usize) -> Vec<u8> {
    (0..size as u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The whole upload form twine would send for a wheel of `version` holding `bytes`.
fn wheel_form_body(version: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(wheel_name(version));
    fs::write(&path, bytes).unwrap();
    let form = upload_form(&path, PROJECT, version);
    (form.content_type(), form.into_body())
}

fn upload(http: &HttpClient, url: &str, version: &str, bytes: &[u8]) -> HttpResponse {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(wheel_name(version));
    fs::write(&path, bytes).unwrap();
    http.post_multipart(url, upload_form(&path, PROJECT, version), &[])
}

/// Polls `condition` every 20 ms until it holds or `within` passes; whether it held.
fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn logs(pyoci: &Pyoci, registry: &Registry) -> String {
    format!(
        "--- pyoci log ---\n{}\n--- registry log ---\n{}",
        pyoci.log(),
        registry.log()
    )
}

const BODY_IDLE_SECS: u64 = 2;

#[test]
fn a_stalled_upload_gets_408_and_its_registry_upload_is_cancelled() {
    let registry = Registry::start(RegistryAuth::None);
    let idle = BODY_IDLE_SECS.to_string();
    let pyoci = start_pyoci(&[("PYOCI_BODY_IDLE_TIMEOUT_SECS", &idle)]);
    let url = index_url(&pyoci, &registry.url_segment());
    let (content_type, body) = wheel_form_body("1.0", &content(1024 * 1024));
    let path = url.trim_start_matches(&pyoci.base_url()).to_owned();

    // Half the upload, then nothing, with the connection open.
    let mut stream = TcpStream::connect(("127.0.0.1", pyoci.port())).unwrap();
    let margin = Duration::from_secs(10);
    stream
        .set_read_timeout(Some(Duration::from_secs(BODY_IDLE_SECS) + margin))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    let stalled_at = Instant::now();

    // The file was streaming into a registry upload when the client stopped.
    assert!(
        eventually(Duration::from_secs(5), || !registry
            .unfinished_uploads()
            .is_empty()),
        "no registry upload was opened\n{}",
        logs(&pyoci, &registry)
    );

    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let waited = stalled_at.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "expected 408 after {waited:?}, got: {answer}\n{}",
        logs(&pyoci, &registry)
    );
    assert!(
        answer.contains("PYOCI_BODY_IDLE_TIMEOUT_SECS"),
        "the message names the setting: {answer}"
    );
    let idle = Duration::from_secs(BODY_IDLE_SECS);
    assert!(
        waited >= idle - Duration::from_millis(200) && waited < idle + margin,
        "408 after {waited:?}, idle timeout {idle:?}"
    );

    // The registry keeps no partial blob, and nothing is listed.
    assert!(
        eventually(Duration::from_secs(5), || registry
            .unfinished_uploads()
            .is_empty()),
        "the registry still holds the upload: {:?}\n{}",
        registry.unfinished_uploads(),
        logs(&pyoci, &registry)
    );
    let page = HttpClient::new().get(&format!("{url}{PROJECT}/"));
    assert_eq!(page.status, 404, "{}", page.text());
}

/// A registry behind a fault proxy, a PyOCI pointed at it with a 1 s registry idle timeout,
/// and one uploaded wheel.
struct Stalling {
    registry: Registry,
    proxy: FaultProxy,
    pyoci: Pyoci,
    http: HttpClient,
    content: Vec<u8>,
}

const REGISTRY_IDLE_SECS: u64 = 1;

impl Stalling {
    fn start() -> Stalling {
        let registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        let idle = REGISTRY_IDLE_SECS.to_string();
        let pyoci = start_pyoci(&[("PYOCI_REGISTRY_IDLE_TIMEOUT_SECS", &idle)]);
        let http = HttpClient::new();
        let content = content(256 * 1024);
        let url = index_url(&pyoci, &proxy.url_segment());
        let uploaded = upload(&http, &url, "1.0", &content);
        assert_eq!(
            uploaded.status,
            200,
            "{}\n{}",
            uploaded.text(),
            logs(&pyoci, &registry)
        );
        proxy.forget_seen();
        Stalling {
            registry,
            proxy,
            pyoci,
            http,
            content,
        }
    }

    fn project_url(&self) -> String {
        format!(
            "{}{PROJECT}/",
            index_url(&self.pyoci, &self.proxy.url_segment())
        )
    }

    /// Half the answer, then one byte a minute: a registry stalled in the middle.
    fn stall(&self, path_part: &str) {
        self.proxy.set(
            FaultRule::new(Fault::Trickle(Duration::from_secs(60)))
                .method("GET")
                .path_contains(path_part),
        );
    }

    fn logs(&self) -> String {
        logs(&self.pyoci, &self.registry)
    }
}

/// How long after the stall the client may wait: the idle timeout and some slack for a
/// busy machine, far below the minute a stalled byte takes.
fn stall_bound() -> Duration {
    Duration::from_secs(REGISTRY_IDLE_SECS) + Duration::from_secs(8)
}

#[test]
fn a_download_from_a_registry_that_stalls_midway_breaks_off_within_the_idle_timeout() {
    let stalling = Stalling::start();
    stalling.stall("/blobs/sha256:");
    let file_url = format!("{}{}", stalling.project_url(), wheel_name("1.0"));
    let started = Instant::now();
    let outcome = stalling.http.try_get(&file_url);
    let waited = started.elapsed();
    assert_eq!(
        stalling.proxy.faults_injected(),
        1,
        "the download went through the stalling proxy"
    );
    match outcome {
        Err(broken) => assert!(
            broken.contains("status 200, then the body broke off"),
            "{broken}"
        ),
        Ok(response) => panic!(
            "a stalled download looked complete: {} with {} of {} bytes",
            response.status,
            response.body.len(),
            stalling.content.len()
        ),
    }
    assert!(
        waited < stall_bound(),
        "the client waited {waited:?}\n{}",
        stalling.logs()
    );

    // The registry itself is fine: the next download is whole.
    stalling.proxy.clear();
    let whole = stalling.http.get(&file_url);
    assert_eq!(whole.status, 200);
    assert!(whole.body == stalling.content, "the download differs");
}

#[test]
fn a_listing_whose_index_read_stalls_is_a_504() {
    let stalling = Stalling::start();
    stalling.stall("/manifests/");
    let started = Instant::now();
    let page = stalling.http.get(&stalling.project_url());
    let waited = started.elapsed();
    assert!(
        stalling.proxy.faults_injected() >= 1,
        "the index was read through the stalling proxy: {:?}",
        stalling.proxy.seen()
    );
    assert_eq!(page.status, 504, "{}\n{}", page.text(), stalling.logs());
    assert!(
        page.text().contains("stopped sending"),
        "the message says what happened: {}",
        page.text()
    );
    assert!(
        waited < stall_bound(),
        "the client waited {waited:?}\n{}",
        stalling.logs()
    );
}
