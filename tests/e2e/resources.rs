//! Resources no one client or registry may hold forever, against the real binary: a client
//! that stops sending its upload, a registry that stops sending its answer, and requests
//! naming thousands of registry hosts (open files and memory stay bounded).

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::Command,
    thread,
    time::{Duration, Instant},
};

use pyoci_test_support::{
    run_checked, upload_form, wait_for, Fault, FaultProxy, FaultRule, HttpClient, Multipart, Pyoci,
    Python, Registry, RegistryAuth,
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

/// A valid `py3-none-any` wheel of the demo project whose one module file holds `size`
/// bytes that no compressor makes small (stored uncompressed, ahead of the metadata, so an
/// upload cut in half is cut in the middle of the file).
fn wheel(version: &str, size: usize) -> Vec<u8> {
    const WRITE_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
out, version, payload = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
info = f"resources_demo-{version}.dist-info"
files = {
    "resources_demo/payload.bin": payload,
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: resources-demo\nVersion: {version}\n\n".encode(),
    f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: pyoci-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
def digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{path},sha256={digest(data)},{len(data)}\n" for path, data in files.items())
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as wheel:
    for path, data in files.items():
        wheel.writestr(path, data)
    wheel.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
"#;
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..size as u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let payload_path = dir.path().join("payload");
    fs::write(&payload_path, payload).unwrap();
    let out = dir.path().join(wheel_name(version));
    run_checked(
        Command::new(Python::locate().python())
            .arg("-c")
            .arg(WRITE_WHEEL)
            .arg(&out)
            .arg(version)
            .arg(&payload_path),
    );
    fs::read(&out).unwrap()
}

/// The upload form twine would send for `wheel`: its content type and body.
fn wheel_form(version: &str, wheel: &[u8]) -> Multipart {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(wheel_name(version));
    fs::write(&path, wheel).unwrap();
    upload_form(&path, PROJECT, version)
}

/// How often the tests look at what the registry and PyOCI did.
const POLL: Duration = Duration::from_millis(20);

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
    let form = wheel_form("1.0", &wheel("1.0", 1024 * 1024));
    let (content_type, body) = (form.content_type(), form.into_body());
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
    wait_for(
        POLL,
        Duration::from_secs(5),
        || !registry.unfinished_uploads().is_empty(),
        || format!("no registry upload was opened\n{}", logs(&pyoci, &registry)),
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
    wait_for(
        POLL,
        Duration::from_secs(5),
        || registry.unfinished_uploads().is_empty(),
        || {
            format!(
                "the registry still holds the upload: {:?}\n{}",
                registry.unfinished_uploads(),
                logs(&pyoci, &registry)
            )
        },
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
        let content = wheel("1.0", 256 * 1024);
        let url = index_url(&pyoci, &proxy.url_segment());
        let uploaded = http.post_multipart(&url, wheel_form("1.0", &content), &[]);
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

/// Something only the kernel knows about a process: its open files and resident memory.
struct ProcessGauge {
    pid: u32,
}

impl ProcessGauge {
    fn open_files(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }

    /// Resident memory in KiB: `VmRSS` (all of it) or `RssAnon` (the heap and stacks, without
    /// the pages of the binary itself).
    fn memory_kib(&self, field: &str) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// User and system CPU time so far, in clock ticks (`/proc/<pid>/stat` fields 14, 15).
    fn cpu_ticks(&self) -> u64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // The command name (field 2) may hold spaces; the fields after it are plain.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        field(14).unwrap_or(0) + field(15).unwrap_or(0)
    }
}

/// A script that starts pyoci with at most `limit` open files, as a service manager's
/// `LimitNOFILE=` would.
fn with_open_file_limit(dir: &Path, limit: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("pyoci-limited");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nulimit -n {limit} || exit 1\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_pyoci")
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A registry reachable at thousands of loopback addresses `127.77.x.y`, all on one port,
/// that answers `404 NAME_UNKNOWN` (or, on the first address, redirects to another) and
/// counts the addresses it was reached at.
///
/// A stand-in, not the real registry: the point is thousands of distinct registry hosts,
/// and a real registry process listens on one address (thousands of them would take
/// minutes and gigabytes). Linux routes all of 127/8 to the loopback interface, but a
/// socket bound to 127.0.0.1 only answers 127.0.0.1, so there is one listener per address.
mod many_hosts {
    use std::{
        collections::HashSet,
        convert::Infallible,
        net::{Ipv4Addr, SocketAddr},
        sync::{
            atomic::{AtomicUsize, Ordering},
            Arc, Mutex,
        },
    };

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::Full;
    use hyper::{body::Incoming, server::conn::http1, service::service_fn};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    pub struct ManyHosts {
        pub hosts: Vec<Ipv4Addr>,
        pub port: u16,
        reached: Arc<Mutex<HashSet<Ipv4Addr>>>,
        redirects: Arc<AtomicUsize>,
        runtime: Option<tokio::runtime::Runtime>,
    }

    /// What every listener shares.
    #[derive(Clone)]
    struct Shared {
        hosts: Arc<Vec<Ipv4Addr>>,
        port: u16,
        reached: Arc<Mutex<HashSet<Ipv4Addr>>>,
        redirects: Arc<AtomicUsize>,
    }

    impl ManyHosts {
        pub fn start(count: usize) -> ManyHosts {
            // The listeners, and room for the clients, the other tests and the test runner.
            raise_open_file_limit(count as u64 + 1024);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let hosts: Vec<Ipv4Addr> = (0..count)
                .map(|n| Ipv4Addr::new(127, 77, (n / 250) as u8, (n % 250 + 1) as u8))
                .collect();
            let (port, listeners) = runtime.block_on(bind_all(&hosts));
            let shared = Shared {
                hosts: Arc::new(hosts.clone()),
                port,
                reached: Arc::default(),
                redirects: Arc::default(),
            };
            for listener in listeners {
                runtime.spawn(serve(listener, shared.clone()));
            }
            ManyHosts {
                hosts,
                port,
                reached: shared.reached,
                redirects: shared.redirects,
                runtime: Some(runtime),
            }
        }

        /// How many distinct addresses were reached.
        pub fn reached(&self) -> usize {
            self.reached.lock().unwrap().len()
        }

        /// How many redirects the first host sent.
        pub fn redirects(&self) -> usize {
            self.redirects.load(Ordering::SeqCst)
        }
    }

    impl Drop for ManyHosts {
        fn drop(&mut self) {
            if let Some(runtime) = self.runtime.take() {
                // Waits for the listeners to close, so the next test has their descriptors.
                runtime.shutdown_timeout(std::time::Duration::from_secs(5));
            }
        }
    }

    /// Raises this process's open-file limit so that `needed` listeners fit, or panics saying
    /// why it cannot (many machines start processes with a soft limit of 1024).
    fn raise_open_file_limit(needed: u64) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        assert_eq!(
            got,
            0,
            "getrlimit failed: {}",
            std::io::Error::last_os_error()
        );
        if limit.rlim_cur >= needed {
            return;
        }
        assert!(
            limit.rlim_max >= needed,
            "this test needs {needed} open files, the hard limit is {} (raise `ulimit -Hn`)",
            limit.rlim_max
        );
        limit.rlim_cur = needed;
        // SAFETY: as above.
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        assert_eq!(
            set,
            0,
            "setrlimit failed: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Binds every host on one free port (trying another port when one is taken).
    async fn bind_all(hosts: &[Ipv4Addr]) -> (u16, Vec<TcpListener>) {
        'ports: for _ in 0..20 {
            let first = TcpListener::bind((hosts[0], 0)).await.unwrap();
            let port = first.local_addr().unwrap().port();
            let mut listeners = vec![first];
            for host in &hosts[1..] {
                match TcpListener::bind((*host, port)).await {
                    Ok(listener) => listeners.push(listener),
                    Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => continue 'ports,
                    Err(err) => panic!("cannot listen on {host}:{port}: {err}"),
                }
            }
            return (port, listeners);
        }
        panic!("no port free on all {} loopback addresses", hosts.len());
    }

    async fn serve(listener: TcpListener, shared: Shared) {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(SocketAddr::V4(local)) = stream.local_addr() else {
                continue;
            };
            let local = *local.ip();
            shared.reached.lock().unwrap().insert(local);
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let answer = answer(&shared, local, request.uri().path());
                    async move { Ok::<_, Infallible>(answer) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// The first host sends a request for project `hop-N` (repository `hop_N`) to host N
    /// (307, same path); every other request gets `404 NAME_UNKNOWN`.
    fn answer(shared: &Shared, local: Ipv4Addr, path: &str) -> Response<Full<Bytes>> {
        let hop = path
            .split('/')
            .find_map(|segment| segment.strip_prefix("hop_"))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| shared.hosts.get(n));
        if let (true, Some(target)) = (local == shared.hosts[0], hop) {
            shared.redirects.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
            let location = format!("http://{target}:{}{path}", shared.port);
            if let Ok(location) = http::HeaderValue::from_str(&location) {
                response
                    .headers_mut()
                    .insert(http::header::LOCATION, location);
            }
            return response;
        }
        let body = r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#;
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    }
}

/// Samples a process's open files every few milliseconds until stopped; the most seen.
struct OpenFilesSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: thread::JoinHandle<usize>,
}

impl OpenFilesSampler {
    fn start(pid: u32) -> OpenFilesSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                let gauge = ProcessGauge { pid };
                let mut most = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    most = most.max(gauge.open_files());
                    thread::sleep(Duration::from_millis(5));
                }
                most
            })
        };
        OpenFilesSampler { stop, thread }
    }

    fn most(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

const HOSTS: usize = 3000;
const CLIENTS: usize = 32;
/// PyOCI's open-file limit in this test: a common default, and below the number of hosts.
const OPEN_FILE_LIMIT: u32 = 1024;
/// Open files allowed at any time: the server's own few, a connection from each client and
/// one to the registry for each request in flight, and the pool's 64 idle connections.
const MAX_OPEN_FILES: usize = 32 + 2 * CLIENTS + 64 + 40;
/// Resident heap allowed after the burst (`RssAnon`; about 1.3 MiB at start, 5.5 MiB after
/// the burst when measured, 20 MiB and more when every host keeps a connection).
const MAX_HEAP_AFTER_KIB: u64 = 12 * 1024;

/// A PyOCI with at most [`OPEN_FILE_LIMIT`] open files, in front of the many-hosts registry.
/// One at a time: each takes thousands of listeners and a burst of CPU.
struct ManyHostsStack {
    fake: many_hosts::ManyHosts,
    pyoci: Pyoci,
    gauge: ProcessGauge,
    _dir: tempfile::TempDir,
    // Last, so the registry and PyOCI are gone before the next test starts its own.
    _turn: std::sync::MutexGuard<'static, ()>,
}

static MANY_HOSTS_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What a burst of requests did.
struct Burst {
    took: Duration,
    most_files: usize,
    /// Requests not answered 404 (the fake registry's answer), with why.
    unexpected: Vec<String>,
}

impl ManyHostsStack {
    fn start() -> ManyHostsStack {
        let turn = MANY_HOSTS_TURN
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fake = many_hosts::ManyHosts::start(HOSTS);
        let dir = tempfile::tempdir().unwrap();
        let pyoci = Pyoci::start(
            &with_open_file_limit(dir.path(), OPEN_FILE_LIMIT),
            &[("RUST_LOG", "info")],
        );
        let gauge = ProcessGauge { pid: pyoci.pid() };
        let stack = ManyHostsStack {
            fake,
            pyoci,
            gauge,
            _dir: dir,
            _turn: turn,
        };
        assert!(stack.healthy());
        stack
    }

    fn healthy(&self) -> bool {
        let health = format!("{}/health", self.pyoci.base_url());
        HttpClient::new()
            .try_get(&health)
            .is_ok_and(|response| response.status == 200)
    }

    /// The project page URL of `project` on the registry at `host`.
    fn page_url(&self, host: std::net::Ipv4Addr, project: &str) -> String {
        format!(
            "{}/http%3A%2F%2F{host}%3A{}/{NAMESPACE}/{project}/",
            self.pyoci.base_url(),
            self.fake.port
        )
    }

    /// Gets every URL from `clients` clients at once, sampling PyOCI's open files.
    fn burst(&self, urls: Vec<String>, clients: usize) -> Burst {
        let sampler = OpenFilesSampler::start(self.pyoci.pid());
        let started = Instant::now();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let urls = std::sync::Arc::new(urls);
        let clients: Vec<_> = (0..clients)
            .map(|_| {
                let (next, urls) = (next.clone(), urls.clone());
                thread::spawn(move || {
                    let http = HttpClient::new();
                    let mut unexpected = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(url) = urls.get(n) else {
                            return unexpected;
                        };
                        match http.try_get(url) {
                            Ok(response) if response.status == 404 => {}
                            Ok(response) => unexpected.push(format!(
                                "{url}: {} {}",
                                response.status,
                                response.text().trim()
                            )),
                            Err(err) => unexpected.push(err),
                        }
                    }
                })
            })
            .collect();
        let unexpected = clients
            .into_iter()
            .flat_map(|client| client.join().unwrap())
            .collect();
        Burst {
            took: started.elapsed(),
            most_files: sampler.most(),
            unexpected,
        }
    }

    /// Every request answered, every host reached, open files within the bound, still serving.
    fn assert_served(&self, burst: &Burst) {
        assert_eq!(
            self.fake.reached(),
            HOSTS,
            "every host got its request through PyOCI"
        );
        assert!(
            burst.unexpected.is_empty(),
            "{} requests were not answered 404, e.g. {:?}",
            burst.unexpected.len(),
            &burst.unexpected[..burst.unexpected.len().min(5)]
        );
        assert!(
            burst.most_files <= MAX_OPEN_FILES,
            "PyOCI held {} open files (bound {MAX_OPEN_FILES})",
            burst.most_files
        );
        assert!(self.healthy(), "still serving");
    }
}

#[test]
fn thousands_of_registry_hosts_keep_open_files_and_memory_bounded() {
    let stack = ManyHostsStack::start();
    let gauge = &stack.gauge;
    let files_before = gauge.open_files();
    let (rss_before, heap_before) = (gauge.memory_kib("VmRSS"), gauge.memory_kib("RssAnon"));

    let urls = stack
        .fake
        .hosts
        .iter()
        .map(|host| stack.page_url(*host, PROJECT))
        .collect();
    let burst = stack.burst(urls, CLIENTS);
    let (rss_after, heap_after) = (gauge.memory_kib("VmRSS"), gauge.memory_kib("RssAnon"));
    let files_after = gauge.open_files();

    eprintln!(
        "{HOSTS} registry hosts from {CLIENTS} clients in {:?}: open files {files_before} \
         before, at most {} during, {files_after} after; VmRSS {rss_before} KiB before, \
         {rss_after} KiB after; RssAnon {heap_before} KiB before, {heap_after} KiB after",
        burst.took, burst.most_files
    );
    stack.assert_served(&burst);
    assert!(
        heap_after <= MAX_HEAP_AFTER_KIB,
        "resident heap {heap_after} KiB after the burst (bound {MAX_HEAP_AFTER_KIB} KiB, \
         {heap_before} KiB before)"
    );
}

#[test]
fn a_registry_redirecting_every_request_to_a_new_host_keeps_open_files_bounded() {
    let stack = ManyHostsStack::start();
    // One registry host, whose every answer redirects to another of the hosts. Few clients
    // at a time, so the registry's own connections are all kept (it never has more requests
    // in flight than its share of idle connections): only the hops can pile up.
    let registry = stack.fake.hosts[0];
    let urls = (1..HOSTS)
        .map(|n| stack.page_url(registry, &format!("hop-{n}")))
        .collect();
    let burst = stack.burst(urls, 8);
    eprintln!(
        "{} requests redirected to {} hosts in {:?}: at most {} open files",
        HOSTS - 1,
        stack.fake.redirects(),
        burst.took,
        burst.most_files
    );
    assert_eq!(
        stack.fake.redirects(),
        HOSTS - 1,
        "every request was redirected"
    );
    stack.assert_served(&burst);
}

#[test]
fn out_of_file_descriptors_the_accept_loop_backs_off_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let pyoci = Pyoci::start(&with_open_file_limit(dir.path(), 64), &[]);
    let gauge = ProcessGauge { pid: pyoci.pid() };
    // More idle connections than file descriptors left: the server accepts until it runs
    // out, and the rest wait in the listen queue.
    let connections: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(("127.0.0.1", pyoci.port())).unwrap())
        .collect();
    wait_for(
        POLL,
        Duration::from_secs(5),
        || pyoci.log().contains("accept failed"),
        || {
            format!(
                "the server never ran out of file descriptors ({} open)\n{}",
                gauge.open_files(),
                pyoci.log()
            )
        },
    );
    let failures_before = pyoci.log().matches("accept failed").count();
    let cpu_before = gauge.cpu_ticks();
    let window = Duration::from_millis(1500);
    thread::sleep(window);
    let failures = pyoci.log().matches("accept failed").count() - failures_before;
    let cpu = gauge.cpu_ticks() - cpu_before;
    eprintln!("out of file descriptors for {window:?}: {failures} failed accepts, {cpu} CPU ticks");
    assert!(
        failures <= 15,
        "{failures} failed accepts logged in {window:?}: the loop spins"
    );
    // Clock ticks are 10 ms: a spinning loop burns most of the window.
    assert!(cpu <= 30, "{cpu} CPU ticks in {window:?}: the loop spins");

    drop(connections);
    wait_for(
        POLL,
        Duration::from_secs(10),
        || {
            HttpClient::new()
                .try_get(&format!("{}/health", pyoci.base_url()))
                .is_ok_and(|health| health.status == 200)
        },
        || format!("the server did not recover\n{}", pyoci.log()),
    );
}
