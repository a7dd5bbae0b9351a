//! Registry faults against the real binary: a registry that is down, killed mid-upload,
//! overloaded, slow, or dropping connections. Reads are retried; whatever still fails is a
//! clear 502, 503 or 504; no half-published file is ever listed; and once the registry is
//! back, the next upload succeeds.

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    time::{Duration, Instant},
};

use pyoci_test_support::{
    upload_form, Fault, FaultProxy, FaultRule, HttpClient, HttpResponse, Multipart, Pyoci,
    Registry, RegistryAuth,
};

const NAMESPACE: &str = "faults";
const PROJECT: &str = "faults-demo";

/// PyOCI with the settings every scenario shares, plus `env`.
fn start_pyoci(env: &[(&str, &str)]) -> Pyoci {
    let mut all = vec![
        // The registries here are on loopback.
        ("PYOCI_ALLOW_PRIVATE_REGISTRIES", "true"),
        // Fail fast when the fault proxy holds an answer back.
        ("PYOCI_REGISTRY_TIMEOUT", "1"),
    ];
    all.extend_from_slice(env);
    Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &all)
}

/// The index (and upload) URL of the namespace on the registry behind `segment`.
fn index_url(pyoci: &Pyoci, segment: &str) -> String {
    format!("{}/{segment}/{NAMESPACE}/", pyoci.base_url())
}

fn project_url(pyoci: &Pyoci, segment: &str) -> String {
    format!("{}{PROJECT}/", index_url(pyoci, segment))
}

fn wheel_name(version: &str) -> String {
    format!("faults_demo-{version}-py3-none-any.whl")
}

/// A valid wheel of about `size` bytes whose content differs per version, so every wheel is
/// its own blob.
fn wheel_bytes(version: &str, size: usize) -> Vec<u8> {
    let seed = version
        .bytes()
        .fold(7u32, |acc, byte| acc.wrapping_mul(31) ^ u32::from(byte));
    let payload: Vec<u8> = (0..size as u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) ^ seed).to_le_bytes()[1])
        .collect();
    pyoci_test_support::wheel_bytes(PROJECT, version, &payload)
}

/// The upload form twine would send for a wheel of `version` holding `content`.
fn wheel_form(dir: &Path, version: &str, content: &[u8]) -> Multipart {
    let path = dir.join(wheel_name(version));
    fs::write(&path, content).unwrap();
    upload_form(&path, PROJECT, version)
}

fn upload(
    http: &HttpClient,
    pyoci: &Pyoci,
    segment: &str,
    version: &str,
    content: &[u8],
) -> HttpResponse {
    let dir = tempfile::tempdir().unwrap();
    http.post_multipart(
        &index_url(pyoci, segment),
        wheel_form(dir.path(), version, content),
        &[],
    )
}

/// The file names a project page lists (its link texts); empty for a 404.
fn listed_files(page: &HttpResponse) -> Vec<String> {
    let text = page.text();
    text.split("</a>")
        .filter_map(|part| {
            part.rsplit_once('>')
                .map(|(_, name)| name.trim().to_owned())
        })
        .filter(|name| name.ends_with(".whl") || name.ends_with(".tar.gz"))
        .collect()
}

fn logs(pyoci: &Pyoci, registry: &Registry) -> String {
    format!(
        "--- pyoci log ---\n{}\n--- registry log ---\n{}",
        pyoci.log(),
        registry.log()
    )
}

#[test]
fn a_stopped_registry_is_a_502_naming_it_and_uploads_work_after_a_restart() {
    let mut registry = Registry::start(RegistryAuth::None);
    let pyoci = start_pyoci(&[]);
    let http = HttpClient::new();
    let segment = registry.url_segment();
    let first = upload(&http, &pyoci, &segment, "1.0", &wheel_bytes("1.0", 4096));
    assert_eq!(
        first.status,
        200,
        "{}\n{}",
        first.text(),
        logs(&pyoci, &registry)
    );

    registry.stop();
    let named = format!("registry {} is unreachable", registry.host_port());
    let page = http.get(&project_url(&pyoci, &segment));
    assert_eq!(page.status, 502, "{}", page.text());
    assert!(page.text().contains(&named), "{}", page.text());
    let refused = upload(&http, &pyoci, &segment, "1.1", &wheel_bytes("1.1", 4096));
    assert_eq!(refused.status, 502, "{}", refused.text());
    assert!(refused.text().contains(&named), "{}", refused.text());

    registry.restart();
    let second = upload(&http, &pyoci, &segment, "1.1", &wheel_bytes("1.1", 4096));
    assert_eq!(
        second.status,
        200,
        "{}\n{}",
        second.text(),
        logs(&pyoci, &registry)
    );
    let page = http.get(&project_url(&pyoci, &segment));
    assert_eq!(page.status, 200, "{}", page.text());
    let mut files = listed_files(&page);
    files.sort();
    assert_eq!(
        files,
        [wheel_name("1.0"), wheel_name("1.1")],
        "{}",
        page.text()
    );
}

#[test]
fn a_registry_killed_mid_upload_leaves_nothing_listed_and_the_next_upload_works() {
    let mut registry = Registry::start(RegistryAuth::None);
    let pyoci = start_pyoci(&[]);
    let segment = registry.url_segment();
    let content = wheel_bytes("2.0", 30 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let form = wheel_form(dir.path(), "2.0", &content);
    let content_type = form.content_type();
    let body = form.into_body();

    // By hand, so the registry can be killed while the body is still streaming.
    let path = index_url(&pyoci, &segment)
        .trim_start_matches(&pyoci.base_url())
        .to_owned();
    let mut stream = TcpStream::connect(("127.0.0.1", pyoci.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let (first_third, rest) = body.split_at(body.len() / 3);
    stream.write_all(first_third).unwrap();
    // Crash the registry once PyOCI has opened the blob upload and is streaming into it.
    // PyOCI's repository for the project: its name with `-` as `_`.
    let repository = format!(
        "/v2/{NAMESPACE}/{}/blobs/uploads/",
        PROJECT.replace('-', "_")
    );
    assert!(
        registry.wait_for_log(&format!("\"POST {repository}"), Duration::from_secs(20)),
        "PyOCI never started the blob upload\n{}",
        logs(&pyoci, &registry)
    );
    registry.stop();
    // The crash cut the upload: the registry never completed the blob (two thirds of the
    // body were still unsent).
    assert!(
        !registry.log().contains(&format!("\"PUT {repository}")),
        "the blob upload completed before the crash\n{}",
        registry.log()
    );
    for chunk in rest.chunks(64 * 1024) {
        if stream.write_all(chunk).is_err() {
            break; // PyOCI answered and stopped reading
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default();
    // PyOCI answers before it stops reading, so the answer arrives despite the unread rest.
    assert!(
        status_line.starts_with("HTTP/1.1 502"),
        "the upload must fail with 502, got {status_line:?}\n{}",
        logs(&pyoci, &registry)
    );
    let named = format!("registry {} is unreachable", registry.host_port());
    assert!(answer.contains(&named), "{answer}");

    registry.restart();
    let http = HttpClient::new();
    let page = http.get(&project_url(&pyoci, &segment));
    assert!(
        page.status == 404 || (page.status == 200 && listed_files(&page).is_empty()),
        "a half-published file is listed ({}):\n{}",
        page.status,
        page.text()
    );

    let again = http.request(
        "POST",
        &index_url(&pyoci, &segment),
        &[("Content-Type", &content_type)],
        Some(body),
    );
    assert_eq!(
        again.status,
        200,
        "{}\n{}",
        again.text(),
        logs(&pyoci, &registry)
    );
    let page = http.get(&project_url(&pyoci, &segment));
    assert_eq!(listed_files(&page), [wheel_name("2.0")], "{}", page.text());
    let download = http.get(&format!(
        "{}{}",
        project_url(&pyoci, &segment),
        wheel_name("2.0")
    ));
    assert_eq!(download.status, 200);
    assert!(
        download.body == content,
        "the download differs from the upload"
    );
}

/// A registry behind a fault proxy, a PyOCI pointed at the proxy, and one uploaded wheel.
struct Faulty {
    registry: Registry,
    proxy: FaultProxy,
    pyoci: Pyoci,
    http: HttpClient,
    content: Vec<u8>,
}

impl Faulty {
    fn start() -> Faulty {
        Faulty::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> Faulty {
        let registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        let pyoci = start_pyoci(env);
        let http = HttpClient::new();
        let content = wheel_bytes("1.0", 256 * 1024);
        let faulty = Faulty {
            registry,
            proxy,
            pyoci,
            http,
            content,
        };
        let uploaded = faulty.upload("1.0", &faulty.content.clone());
        assert_eq!(
            uploaded.status,
            200,
            "{}\n{}",
            uploaded.text(),
            faulty.logs()
        );
        faulty.proxy.forget_seen();
        faulty
    }

    fn segment(&self) -> String {
        self.proxy.url_segment()
    }

    fn upload(&self, version: &str, content: &[u8]) -> HttpResponse {
        upload(&self.http, &self.pyoci, &self.segment(), version, content)
    }

    fn page(&self) -> HttpResponse {
        self.http.get(&project_url(&self.pyoci, &self.segment()))
    }

    fn file_url(&self, version: &str) -> String {
        format!(
            "{}{}",
            project_url(&self.pyoci, &self.segment()),
            wheel_name(version)
        )
    }

    fn logs(&self) -> String {
        logs(&self.pyoci, &self.registry)
    }
}

#[test]
fn transient_503s_on_reads_are_retried() {
    let faulty = Faulty::start();
    faulty
        .proxy
        .set(FaultRule::new(Fault::Status(503)).method("GET").times(2));
    let page = faulty.page();
    assert_eq!(
        page.status,
        200,
        "two 503s must be retried (is the retry layer wired?): {}\n{}",
        page.text(),
        faulty.logs()
    );
    assert_eq!(listed_files(&page), [wheel_name("1.0")]);
    assert_eq!(faulty.proxy.faults_injected(), 2);
}

#[test]
fn a_persistent_503_is_passed_on_with_a_message_after_bounded_retries() {
    let faulty = Faulty::start();
    faulty
        .proxy
        .set(FaultRule::new(Fault::Status(503)).method("GET"));
    let started = Instant::now();
    let page = faulty.page();
    assert_eq!(page.status, 503, "{}\n{}", page.text(), faulty.logs());
    assert!(page.text().contains("503"), "{}", page.text());
    assert!(page.text().contains("try again later"), "{}", page.text());
    assert_eq!(
        faulty.proxy.faults_injected(),
        4,
        "one attempt and 3 retries (is the retry layer wired?): {:?}",
        faulty.proxy.seen()
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    faulty.proxy.clear();
    assert_eq!(faulty.page().status, 200);
}

#[test]
fn a_registry_slower_than_the_timeout_is_a_504() {
    let faulty = Faulty::start();
    faulty
        .proxy
        .set(FaultRule::new(Fault::Delay(Duration::from_secs(3))).method("GET"));
    let started = Instant::now();
    let page = faulty.page();
    let waited = started.elapsed();
    assert_eq!(
        page.status,
        504,
        "PYOCI_REGISTRY_TIMEOUT=1 must end the wait (is it wired?): {}\n{}",
        page.text(),
        faulty.logs()
    );
    assert!(
        page.text().contains("did not answer in time"),
        "{}",
        page.text()
    );
    assert!(waited < Duration::from_secs(10), "{waited:?}");

    faulty.proxy.clear();
    assert_eq!(faulty.page().status, 200);
}

#[test]
fn a_connection_reset_on_the_manifest_push_fails_the_upload_and_lists_nothing() {
    let faulty = Faulty::start();
    faulty.proxy.set(
        FaultRule::new(Fault::Reset)
            .method("PUT")
            .path_contains("/manifests/"),
    );
    let content = wheel_bytes("3.0", 64 * 1024);
    let failed = faulty.upload("3.0", &content);
    assert_eq!(failed.status, 502, "{}\n{}", failed.text(), faulty.logs());
    assert!(
        failed.text().contains(&format!(
            "registry {} is unreachable",
            faulty.proxy.host_port()
        )),
        "{}",
        failed.text()
    );
    assert_eq!(
        faulty.proxy.count("PUT", "/manifests/"),
        1,
        "a manifest push is never repeated: {:?}",
        faulty.proxy.seen()
    );

    faulty.proxy.clear();
    let page = faulty.page();
    assert_eq!(listed_files(&page), [wheel_name("1.0")], "{}", page.text());
    let again = faulty.upload("3.0", &content);
    assert_eq!(again.status, 200, "{}\n{}", again.text(), faulty.logs());
    let mut files = listed_files(&faulty.page());
    files.sort();
    assert_eq!(files, [wheel_name("1.0"), wheel_name("3.0")]);
}

#[test]
fn a_download_cut_halfway_is_an_error_not_a_short_file() {
    let faulty = Faulty::start();
    faulty.proxy.set(
        FaultRule::new(Fault::ResetMidBody)
            .method("GET")
            .path_contains("/blobs/sha256:"),
    );
    match faulty.http.try_get(&faulty.file_url("1.0")) {
        Err(broken) => assert!(
            broken.contains("status 200, then the body broke off"),
            "{broken}"
        ),
        Ok(response) => {
            let promised: usize = response
                .header("content-length")
                .and_then(|length| length.parse().ok())
                .unwrap_or(usize::MAX);
            assert!(
                response.status != 200 || response.body.len() < promised,
                "a cut download looked complete: {} with {} bytes",
                response.status,
                response.body.len()
            );
        }
    }
    assert_eq!(faulty.proxy.faults_injected(), 1);

    faulty.proxy.clear();
    let whole = faulty.http.get(&faulty.file_url("1.0"));
    assert_eq!(whole.status, 200);
    assert!(
        whole.body == faulty.content,
        "the download differs from the upload"
    );
}

/// Slow registry answers and many clients at once: the requests in flight toward the
/// registry never exceed `PYOCI_MAX_REGISTRY_REQUESTS`, and everyone is still served.
fn max_registry_requests_in_flight(env: &[(&str, &str)]) -> usize {
    let faulty = std::sync::Arc::new(Faulty::start_with(env));
    faulty
        .proxy
        .set(FaultRule::new(Fault::Delay(Duration::from_millis(150))).method("GET"));
    let pages: Vec<_> = (0..6)
        .map(|_| {
            let faulty = faulty.clone();
            std::thread::spawn(move || faulty.page().status)
        })
        .collect();
    for page in pages {
        assert_eq!(page.join().expect("listing thread panicked"), 200);
    }
    faulty.proxy.max_in_flight()
}

#[test]
fn requests_to_the_registry_are_bounded() {
    // The listing cache lets one request per caller read a missing page while the others
    // wait for it; off, every listing goes to the registry, which is the load wanted here.
    let bounded = max_registry_requests_in_flight(&[
        ("PYOCI_MAX_REGISTRY_REQUESTS", "2"),
        ("PYOCI_CACHE_TTL", "0"),
    ]);
    assert!(bounded <= 2, "{bounded} requests were in flight at once");
    // The same load without a tight bound does overlap, so the bound is what held it.
    let unbounded = max_registry_requests_in_flight(&[("PYOCI_CACHE_TTL", "0")]);
    assert!(unbounded > 2, "only {unbounded} in flight without a bound");
}
