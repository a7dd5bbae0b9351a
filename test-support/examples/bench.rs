//! PyOCI's benchmark: every figure beside its comparison, measured in the same run (the
//! machine is shared and noisy, so only ratios within one run mean much).
//!
//! Run it through `scripts/bench`, which builds PyOCI in release mode, installs wrk and a
//! pypiserver virtualenv, and passes their paths here:
//!
//! - `PYOCI_BIN`: the pyoci binary; `BENCH_WRK`: wrk; `BENCH_PYPISERVER`: pypi-server;
//!   `BENCH_UV`: uv.
//! - `BENCH_GIB` (default 1): size of the download and upload files, in GiB (fractions
//!   allowed: 0.1 for a quick run); `BENCH_SECONDS` (default 10): each wrk run's duration;
//!   `BENCH_VERSIONS` (default `100,1000`): project sizes listed; `BENCH_CHAIN` (default
//!   20): length of the `uv pip install` dependency chain; `BENCH_ONLY`: a comma-separated
//!   subset of `listing,delayed,download,upload,install,hostile`.
//!
//! The registry is the CNCF distribution registry with token auth, as in the tests. A relay
//! ([`FaultProxy`]) stands in front of it: it counts the requests PyOCI makes, and delays
//! each by 25 ms for the "registry 25 ms away" figures.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use pyoci_test_support::{
    basic_auth, content_form, free_port, wheel_bytes, write_dists, DistSpec, Fault, FaultProxy,
    HttpClient, Pyoci, Registry, RegistryAuth, TokenIssuer, ALICE,
};

const NAMESPACE: &str = "bench";
const CLIENTS: u32 = 16;
const RELAY_DELAY: Duration = Duration::from_millis(25);

struct Settings {
    pyoci: PathBuf,
    wrk: String,
    pypiserver: String,
    uv: String,
    gib: f64,
    seconds: u32,
    versions: Vec<usize>,
    chain: usize,
    only: Option<Vec<String>>,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str, default: &str| env::var(name).unwrap_or_else(|_| default.into());
        Settings {
            pyoci: PathBuf::from(var("PYOCI_BIN", "target/release/pyoci")),
            wrk: var("BENCH_WRK", "wrk"),
            pypiserver: var("BENCH_PYPISERVER", "pypi-server"),
            uv: var("BENCH_UV", "uv"),
            gib: var("BENCH_GIB", "1").parse().expect("BENCH_GIB: a number"),
            seconds: var("BENCH_SECONDS", "10").parse().expect("BENCH_SECONDS"),
            versions: var("BENCH_VERSIONS", "100,1000")
                .split(',')
                .map(|n| n.trim().parse().expect("BENCH_VERSIONS: numbers"))
                .collect(),
            chain: var("BENCH_CHAIN", "20").parse().expect("BENCH_CHAIN"),
            only: env::var("BENCH_ONLY")
                .ok()
                .map(|only| only.split(',').map(str::to_owned).collect()),
        }
    }

    fn runs(&self, part: &str) -> bool {
        match &self.only {
            Some(only) => only.iter().any(|p| p == part),
            None => true,
        }
    }
}

/// The registry, its relay, and what a client needs to reach them.
struct Setup {
    issuer: TokenIssuer,
    registry: Registry,
    relay: FaultProxy,
    http: HttpClient,
    auth: String,
    work: tempfile::TempDir,
}

fn main() {
    let settings = Settings::from_env();
    let issuer = TokenIssuer::start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let relay = FaultProxy::start(&registry);
    let setup = Setup {
        issuer,
        registry,
        relay,
        http: HttpClient::new(),
        auth: basic_auth(ALICE.0, ALICE.1),
        work: tempfile::Builder::new()
            .prefix("pyoci-bench-")
            .tempdir_in(env::var("BENCH_TMP").unwrap_or_else(|_| "target".into()))
            .expect("a work directory"),
    };
    println!("# PyOCI benchmark");
    println!();
    println!("{}", machine());
    println!();

    if settings.runs("listing") || settings.runs("delayed") {
        let projects = seed_listings(&settings, &setup);
        if settings.runs("listing") {
            listing(&settings, &setup, &projects);
        }
        if settings.runs("delayed") {
            delayed(&settings, &setup, &projects);
        }
    }
    if settings.runs("download") || settings.runs("upload") {
        transfers(&settings, &setup);
    }
    if settings.runs("install") {
        install_chain(&settings, &setup);
    }
    if settings.runs("hostile") {
        hostile(&settings, &setup);
    }
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0);
    let kernel = command_line("uname", &["-r"]);
    format!(
        "Machine: {cpu}, {cores} cores, {:.0} GiB RAM, Linux {kernel}; registry: {}",
        memory as f64 / 1048576.0,
        command_line("/usr/bin/docker-registry", &["--version"])
    )
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

// --- PyOCI processes ---------------------------------------------------------------------

fn start_pyoci(settings: &Settings, extra: &[(&str, &str)]) -> Pyoci {
    let mut env = vec![
        ("RUST_LOG", "warn,pyoci::server=info"),
        ("PYOCI_MAX_VERSIONS", "0"),
        ("PYOCI_WRITE_SETTLE_MS", "0"),
    ];
    env.extend_from_slice(extra);
    Pyoci::start(&settings.pyoci, &env)
}

fn index_base(pyoci: &Pyoci, registry_segment: &str) -> String {
    format!("{}/{registry_segment}/{NAMESPACE}", pyoci.base_url())
}

/// User and system CPU time of a process so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    command_line("getconf", &["CLK_TCK"])
        .parse()
        .unwrap_or(100.0)
}

fn peak_rss_mib(pid: u32) -> f64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

// --- 1 and 2: listings -------------------------------------------------------------------

struct Project {
    name: String,
    versions: usize,
    /// The same wheels, for pypiserver.
    files: PathBuf,
}

/// Uploads projects of each size through a PyOCI of their own (so no later PyOCI starts with
/// anything cached), and writes the same wheels to a directory per project for pypiserver.
fn seed_listings(settings: &Settings, setup: &Setup) -> Vec<Project> {
    let seeder = start_pyoci(settings, &[]);
    let upload_url = format!("{}/", index_base(&seeder, &setup.registry.url_segment()));
    let mut projects = Vec::new();
    for &versions in &settings.versions {
        let name = format!("many{versions}");
        let files = setup.work.path().join(format!("files-{name}"));
        fs::create_dir_all(&files).expect("files directory");
        let started = Instant::now();
        let uploads: Vec<_> = (0..versions)
            .map(|i| {
                let version = format!("1.{}.{}", i / 100, i % 100);
                let filename = format!("{name}-{version}-py3-none-any.whl");
                let wheel = wheel_bytes(&name, &version, version.as_bytes());
                fs::write(files.join(&filename), &wheel).expect("write wheel");
                (version, filename, wheel)
            })
            .collect();
        // A few uploads at once: seeding 1,000 versions one by one takes minutes.
        std::thread::scope(|scope| {
            for part in uploads.chunks(versions.div_ceil(4)) {
                let (http, url, auth, name) = (&setup.http, &upload_url, &setup.auth, &name);
                scope.spawn(move || {
                    for (version, filename, wheel) in part {
                        let form = content_form(name, version, filename, wheel);
                        let response =
                            http.post_multipart(url, form, &[("Authorization", auth.as_str())]);
                        assert_eq!(response.status, 200, "seeding: {}", response.text());
                    }
                });
            }
        });
        eprintln!(
            "seeded {name}: {versions} versions in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        projects.push(Project {
            name,
            versions,
            files,
        });
    }
    projects
}

struct WrkResult {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: f64,
}

fn wrk(settings: &Settings, url: &str, auth: Option<&str>) -> WrkResult {
    let mut command = Command::new(&settings.wrk);
    command.args([
        "-t2",
        &format!("-c{CLIENTS}"),
        &format!("-d{}s", settings.seconds),
        "--latency",
        "--timeout",
        "30s",
    ]);
    if let Some(auth) = auth {
        command.args(["-H", &format!("Authorization: {auth}")]);
    }
    let output = command.arg(url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.split_whitespace().nth(1).map(str::to_owned))
            .unwrap_or_default()
    };
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    let non_2xx = text.contains("Non-2xx");
    // No answer within the run is a result (a cold 1,000-version listing under load may
    // take longer than the run), errors are not.
    assert!(!non_2xx, "wrk against {url} got errors:\n{text}");
    WrkResult {
        requests_per_second: field("Requests/sec:").parse().unwrap_or(0.0),
        p50_ms: millis(&field("50%")),
        p99_ms: millis(&field("99%")),
        requests,
    }
}

/// wrk's `12.34ms`, `1.20s`, `800.00us` in milliseconds.
fn millis(text: &str) -> f64 {
    let number = |suffix: &str| {
        text.strip_suffix(suffix)
            .and_then(|n| n.parse::<f64>().ok())
    };
    number("us")
        .map(|n| n / 1000.0)
        .or_else(|| number("ms"))
        .or_else(|| number("s").map(|n| n * 1000.0))
        .unwrap_or(f64::NAN)
}

struct PypiServer {
    child: Child,
    port: u16,
}

impl PypiServer {
    fn start(settings: &Settings, files: &Path) -> PypiServer {
        let port = free_port();
        let child = Command::new(&settings.pypiserver)
            .args(["run", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-a", ".", "-P", ".", "--log-stream", "none"])
            .arg(files)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pypi-server");
        let server = PypiServer { child, port };
        let http = HttpClient::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.try_get(&server.url("/simple/")).is_err() {
            assert!(Instant::now() < deadline, "pypi-server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listing(settings: &Settings, setup: &Setup, projects: &[Project]) {
    println!(
        "## 1. Listing, {CLIENTS} concurrent clients (wrk, {} s each), registry on loopback",
        settings.seconds
    );
    println!();
    println!("| project | server | req/s | p50 ms | p99 ms | registry requests per listing |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for project in projects {
        let row = |server: &str, result: &WrkResult, registry: Option<f64>| {
            if result.requests == 0.0 {
                println!(
                    "| {} versions | {server} | no listing completed in {} s | | | |",
                    project.versions, settings.seconds
                );
                return;
            }
            println!(
                "| {} versions | {server} | {:.0} | {:.1} | {:.1} | {} |",
                project.versions,
                result.requests_per_second,
                result.p50_ms,
                result.p99_ms,
                registry.map_or("—".into(), |r| format!("{r:.2}"))
            );
        };
        // Cold: nothing cached (caching off), every listing asks the registry.
        for (label, env) in [
            (
                "PyOCI cold (PYOCI_CACHE_TTL=0)",
                &[("PYOCI_CACHE_TTL", "0")][..],
            ),
            ("PyOCI warm", &[][..]),
        ] {
            let pyoci = start_pyoci(settings, env);
            let url = format!(
                "{}/{}/",
                index_base(&pyoci, &setup.relay.url_segment()),
                project.name
            );
            // The warm run starts with the page cached, as a second client would find it.
            let first = setup.http.get_with(&url, &[("Authorization", &setup.auth)]);
            assert_eq!(first.status, 200, "{}", first.text());
            let before = setup.relay.seen().len();
            let result = wrk(settings, &url, Some(&setup.auth));
            let registry = (setup.relay.seen().len() - before) as f64 / result.requests.max(1.0);
            setup.relay.forget_seen();
            row(label, &result, Some(registry));
        }
        let pypiserver = PypiServer::start(settings, &project.files);
        let url = pypiserver.url(&format!("/simple/{}/", project.name));
        let result = wrk(settings, &url, None);
        row("pypiserver (local files)", &result, None);
    }
    println!();
}

fn delayed(settings: &Settings, setup: &Setup, projects: &[Project]) {
    println!(
        "## 2. Listing with the registry {} ms away (a delaying relay)",
        RELAY_DELAY.as_millis()
    );
    println!();
    println!("| project | fresh PyOCI, first listing (cold) | second listing (warm) | after the TTL (tags revalidated) | req/s warm, {CLIENTS} clients | p99 ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    write_listing_documents(settings, setup, projects);
    setup.relay.set(Fault::Delay(RELAY_DELAY));
    let variants: [(&str, &[(&str, &str)]); 2] = [
        ("", &[]),
        (
            ", PYOCI_LISTING_DOCUMENT=true",
            &[("PYOCI_LISTING_DOCUMENT", "true")],
        ),
    ];
    for (project, (variant, variant_env)) in variants
        .iter()
        .flat_map(|variant| projects.iter().map(move |project| (project, variant)))
    {
        let mut env = vec![("PYOCI_CACHE_TTL", "2")];
        env.extend_from_slice(variant_env);
        let pyoci = start_pyoci(settings, &env);
        let url = format!(
            "{}/{}/",
            index_base(&pyoci, &setup.relay.url_segment()),
            project.name
        );
        let timed = || {
            let started = Instant::now();
            let response = setup.http.get_with(&url, &[("Authorization", &setup.auth)]);
            assert_eq!(response.status, 200, "{}", response.text());
            started.elapsed().as_secs_f64()
        };
        let cold = timed();
        let warm = timed();
        std::thread::sleep(Duration::from_millis(2100));
        let revalidated = timed();
        let load = wrk(settings, &url, Some(&setup.auth));
        println!(
            "| {} versions{variant} | {cold:.3} s | {warm:.3} s | {revalidated:.3} s | {:.0} | {:.1} |",
            project.versions, load.requests_per_second, load.p99_ms
        );
    }
    setup.relay.clear();
    setup.relay.forget_seen();
    println!();
    println!("(PYOCI_CACHE_TTL=2 for these rows, so the third column shows a listing after the tag cache expired. Rows with PYOCI_LISTING_DOCUMENT=true read the project's listing document: the tag list, its manifest and its blob; the first listing from it also checks it against every version tag in the background.)");
    println!();
}

/// Has a PyOCI with `PYOCI_LISTING_DOCUMENT=true` write each project's listing document
/// (from a full read: the seeder kept none), by un-yanking a file that is not yanked: a
/// write through PyOCI that changes no version.
fn write_listing_documents(settings: &Settings, setup: &Setup, projects: &[Project]) {
    let writer = start_pyoci(settings, &[("PYOCI_LISTING_DOCUMENT", "true")]);
    for project in projects {
        let url = format!(
            "{}/{}/+unyank/1.0.0",
            index_base(&writer, &setup.registry.url_segment()),
            project.name
        );
        let started = Instant::now();
        let response = setup
            .http
            .request("POST", &url, &[("Authorization", &setup.auth)], None);
        assert_eq!(response.status, 200, "{}", response.text());
        eprintln!(
            "listing document of {}: written in {:.2} s",
            project.name,
            started.elapsed().as_secs_f64()
        );
    }
}

// --- 3 and 4: downloads and uploads -------------------------------------------------------

/// A registry token for `repo` (pull and push), as a direct client would hold.
fn registry_token(setup: &Setup, repo: &str) -> String {
    let url = format!(
        "{}?service={}&scope=repository:{repo}:pull,push",
        setup.issuer.realm(),
        setup.issuer.service()
    );
    let response = setup.http.get_with(&url, &[("Authorization", &setup.auth)]);
    assert_eq!(response.status, 200, "token: {}", response.text());
    let json = response.json();
    json["token"]
        .as_str()
        .or_else(|| json["access_token"].as_str())
        .expect("a token")
        .to_owned()
}

/// Runs curl, returns its wall time in seconds.
fn curl(args: &[&str]) -> f64 {
    let started = Instant::now();
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-o", "/dev/null"])
        .args(args)
        .output()
        .expect("run curl");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    seconds
}

fn curl_text(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn hash_file(program: &str, args: &[&str], file: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .expect("hash the file");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A valid wheel of about `bytes` bytes (a random payload, stored uncompressed).
fn big_wheel(dir: &Path, name: &str, version: &str, bytes: u64) -> PathBuf {
    let payload = dir.join("payload.bin");
    let status = Command::new("head")
        .args(["-c", &bytes.to_string(), "/dev/urandom"])
        .stdout(fs::File::create(&payload).expect("payload file"))
        .status()
        .expect("head");
    assert!(status.success());
    let wheel = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let script = r#"
import sys, zipfile
wheel, payload, name, version = sys.argv[1:]
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
    archive.write(payload, name + "/payload.bin")
    info = name + "-" + version + ".dist-info/"
    archive.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n")
    archive.writestr(info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    archive.writestr(info + "RECORD", "")
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&wheel)
        .arg(&payload)
        .args([name, version])
        .status()
        .expect("python3");
    assert!(status.success());
    fs::remove_file(&payload).expect("remove payload");
    wheel
}

fn transfers(settings: &Settings, setup: &Setup) {
    let bytes = (settings.gib * 1024.0 * 1024.0 * 1024.0) as u64;
    let gib = bytes as f64 / (1u64 << 30) as f64;
    println!("## 3 and 4. Transfers of {gib:.2} GiB, registry on loopback");
    println!();
    println!("| transfer | PyOCI | direct to the registry | PyOCI ÷ direct (throughput) | PyOCI CPU s per GiB | PyOCI peak RSS |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let registry = setup.registry.url();
    let dir = setup.work.path().join("transfers");
    fs::create_dir_all(&dir).expect("transfers dir");
    let name = "bigpkg";
    let mut uploaded = None;
    for (version, declared) in [("1.0.0", "sha256"), ("2.0.0", "sha256, md5, blake2_256")] {
        let wheel = big_wheel(&dir, name, version, bytes);
        let size = fs::metadata(&wheel).expect("wheel size").len();
        let sha256 = hash_file("sha256sum", &[], &wheel);
        let wheel_arg = format!("content=@{}", wheel.display());
        let filename = wheel.file_name().unwrap().to_string_lossy().into_owned();

        // Direct: a monolithic blob push (one POST, one PUT of the whole file).
        let repo = format!("{NAMESPACE}/direct");
        let token = format!("Authorization: Bearer {}", registry_token(setup, &repo));
        let location = curl_text(&[
            "-X",
            "POST",
            "-H",
            &token,
            "-D",
            "-",
            "-o",
            "/dev/null",
            &format!("{registry}/v2/{repo}/blobs/uploads/"),
        ])
        .lines()
        .find_map(|line| {
            line.strip_prefix("Location: ")
                .or_else(|| line.strip_prefix("location: "))
                .map(|l| l.trim().to_owned())
        })
        .expect("an upload location");
        let location = if location.starts_with('/') {
            format!("{registry}{location}")
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let direct_upload = curl(&[
            "-X",
            "PUT",
            "-H",
            &token,
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            &wheel.display().to_string(),
            &format!("{location}{separator}digest=sha256:{sha256}"),
        ]);

        // Through PyOCI, a fresh process each time so its peak RSS is the upload's.
        let pyoci = start_pyoci(settings, &[]);
        let url = format!("{}/", index_base(&pyoci, &setup.registry.url_segment()));
        let mut form = vec![
            "-H".to_owned(),
            format!("Authorization: {}", setup.auth),
            "-F".into(),
            ":action=file_upload".into(),
            "-F".into(),
            "protocol_version=1".into(),
            "-F".into(),
            format!("name={name}"),
            "-F".into(),
            format!("version={version}"),
            "-F".into(),
            "filetype=bdist_wheel".into(),
            "-F".into(),
            "pyversion=py3".into(),
            "-F".into(),
            format!("sha256_digest={sha256}"),
        ];
        if declared.contains("md5") {
            let md5 = hash_file("md5sum", &[], &wheel);
            let blake2 = hash_file("b2sum", &["-l", "256"], &wheel);
            form.extend([
                "-F".into(),
                format!("md5_digest={md5}"),
                "-F".into(),
                format!("blake2_256_digest={blake2}"),
            ]);
        }
        form.extend(["-F".into(), wheel_arg, url.clone()]);
        let form: Vec<&str> = form.iter().map(String::as_str).collect();
        let cpu_before = cpu_seconds(pyoci.pid());
        let pyoci_upload = curl(&form);
        let cpu = cpu_seconds(pyoci.pid()) - cpu_before;
        let rss = peak_rss_mib(pyoci.pid());
        fs::remove_file(&wheel).expect("remove the wheel");
        if settings.runs("upload") {
            println!(
                "| upload, {declared} declared | {:.0} MiB/s | {:.0} MiB/s | {:.2} | {:.2} | {rss:.1} MiB |",
                mib_per_s(size, pyoci_upload),
                mib_per_s(size, direct_upload),
                direct_upload / pyoci_upload,
                cpu / gib,
            );
        }
        uploaded.get_or_insert((version, sha256, size, filename, url));
        drop(pyoci);
    }

    if settings.runs("download") {
        let (_, sha256, size, filename, _) = uploaded.expect("an uploaded file");
        let repo = format!("{NAMESPACE}/{name}");
        let token = format!("Authorization: Bearer {}", registry_token(setup, &repo));
        let blob = format!("{registry}/v2/{repo}/blobs/sha256:{sha256}");
        let direct = curl(&["-H", &token, &blob]);
        let pyoci = start_pyoci(settings, &[]);
        let url = format!(
            "{}/{name}/{filename}",
            index_base(&pyoci, &setup.registry.url_segment())
        );
        let auth = format!("Authorization: {}", setup.auth);
        let cpu_before = cpu_seconds(pyoci.pid());
        let through = curl(&["-H", &auth, &url]);
        let cpu = cpu_seconds(pyoci.pid()) - cpu_before;
        println!(
            "| download | {:.0} MiB/s | {:.0} MiB/s | {:.2} | {:.2} | {:.1} MiB |",
            mib_per_s(size, through),
            mib_per_s(size, direct),
            direct / through,
            cpu / gib,
            peak_rss_mib(pyoci.pid())
        );
    }
    println!();
}

fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1048576.0 / seconds
}

// --- 5: uv pip install of a dependency chain ---------------------------------------------

fn install_chain(settings: &Settings, setup: &Setup) {
    let length = settings.chain;
    println!("## 5. `uv pip install` of a {length}-package dependency chain, cold client cache");
    println!();
    let files = setup.work.path().join("chain");
    fs::create_dir_all(&files).expect("chain dir");
    let specs: Vec<DistSpec> = (0..length)
        .map(|i| {
            let spec = DistSpec::new(&format!("chain{i:02}"), "1.0.0");
            if i + 1 < length {
                spec.requires(&format!("chain{:02}", i + 1))
            } else {
                spec
            }
        })
        .collect();
    let dists = write_dists(&files, &specs);
    let pyoci = start_pyoci(settings, &[]);
    let base = index_base(&pyoci, &setup.registry.url_segment());
    for (dist, spec) in dists.iter().zip(0..) {
        let form = pyoci_test_support::upload_form(dist, &format!("chain{spec:02}"), "1.0.0");
        let response = setup.http.post_multipart(
            &format!("{base}/"),
            form,
            &[("Authorization", setup.auth.as_str())],
        );
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let pypiserver = PypiServer::start(settings, &files);
    let (user, password) = ALICE;
    let pyoci_index = format!(
        "http://{user}:{password}@127.0.0.1:{}/{}/{NAMESPACE}/",
        pyoci.port(),
        setup.registry.url_segment()
    );
    let pypi_index = pypiserver.url("/simple/");
    let install_from = |source: &[&str]| {
        let target = tempfile::tempdir_in(setup.work.path()).expect("target dir");
        let started = Instant::now();
        let output = Command::new(&settings.uv)
            .args(["pip", "install", "--no-cache", "--target"])
            .arg(target.path())
            .args(source)
            .arg("chain00")
            .env("UV_NO_CONFIG", "1")
            .output()
            .expect("run uv");
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            output.status.success(),
            "uv pip install from {source:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        seconds
    };
    let install = |index: &str| install_from(&["--index-url", index]);
    // uv's own work with no server at all: the same wheels from a local directory. No index
    // can make an install faster than this.
    let files_dir = files.display().to_string();
    let no_server = || install_from(&["--no-index", "--find-links", &files_dir]);
    // Alternate, best of three each, so all see the same noise.
    let (mut through, mut local, mut floor) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..3 {
        through = through.min(install(&pyoci_index));
        local = local.min(install(&pypi_index));
        floor = floor.min(no_server());
    }
    println!(
        "| PyOCI | pypiserver (local files) | PyOCI ÷ pypiserver (time) | no server (uv --find-links) | no server ÷ pypiserver |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {through:.2} s | {local:.2} s | {:.2} | {floor:.2} s | {:.2} |",
        through / local,
        floor / local
    );
    println!();
    println!(
        "(best of three runs each, alternating; PyOCI with its default settings; \"no server\" \
         installs the same wheels from a local directory, uv's own cost)"
    );
    println!();

    // The same install with the registry RELAY_DELAY away, where each registry round trip
    // PyOCI saves (tokens asked ahead, downloads through the caches) shows. No comparison
    // serves from that far, so the rows compare a fresh PyOCI with one already warm.
    setup.relay.set(Fault::Delay(RELAY_DELAY));
    let far = start_pyoci(settings, &[]);
    let far_index = format!(
        "http://{user}:{password}@127.0.0.1:{}/{}/{NAMESPACE}/",
        far.port(),
        setup.relay.url_segment()
    );
    setup.relay.forget_seen();
    let cold = install(&far_index);
    let cold_requests = setup.relay.seen().len();
    setup.relay.forget_seen();
    let warm = install(&far_index);
    let warm_requests = setup.relay.seen().len();
    setup.relay.clear();
    setup.relay.forget_seen();
    println!(
        "| registry {} ms away | fresh PyOCI | PyOCI warm (second install) |",
        RELAY_DELAY.as_millis()
    );
    println!("| --- | ---: | ---: |");
    println!("| `uv pip install` time | {cold:.2} s | {warm:.2} s |");
    println!("| registry requests | {cold_requests} | {warm_requests} |");
    println!();
}

// --- 6: hostile input ---------------------------------------------------------------------

/// Descriptions that took seconds to minutes to render before their bounds (issue 17).
fn hostile_descriptions() -> Vec<String> {
    vec![
        (0..8_000).map(|n| format!("<font x={n}>")).collect(),
        ">".repeat(200_000),
        "<div>".repeat(40_000),
        "<ul><li>".repeat(8_000),
        (0..100).map(|n| format!("<b x={n}>")).collect::<String>() + &"\n\np\n\n".repeat(20_000),
    ]
}

/// Other users' listing latency while strangers ask for expensive pages for people and send
/// anonymous forms of 200 fields of 1 MiB, beside the same listing with nobody hostile, and
/// PyOCI's peak memory in both.
fn hostile(settings: &Settings, setup: &Setup) {
    println!(
        "## 6. Hostile input: a listing, {CLIENTS} clients (wrk, {} s), alone and beside strangers",
        settings.seconds
    );
    println!();
    let files = setup.work.path().join("hostile");
    fs::create_dir_all(&files).expect("hostile dir");
    let mut specs: Vec<DistSpec> = hostile_descriptions()
        .iter()
        .enumerate()
        .map(|(n, description)| DistSpec::new(&format!("hostile{n}"), "1.0").description(description))
        .collect();
    specs.extend((0..20).map(|n| DistSpec::new("calm", &format!("1.{n}"))));
    let dists = write_dists(&files, &specs);
    let seeder = start_pyoci(settings, &[]);
    let base = index_base(&seeder, &setup.registry.url_segment());
    for dist in &dists {
        let name = dist.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let (project, version) = name.split_once('-').expect("a wheel name");
        let version = version.split('-').next().unwrap_or_default();
        let form = pyoci_test_support::upload_form(dist, project, version);
        let response = setup.http.post_multipart(
            &format!("{base}/"),
            form,
            &[("Authorization", setup.auth.as_str())],
        );
        assert_eq!(response.status, 200, "{}", response.text());
    }
    drop(seeder);

    println!("| run | listing req/s | p50 ms | p99 ms | hostile answers | PyOCI peak RSS MiB |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut p99 = Vec::new();
    for with_strangers in [false, true] {
        let pyoci = start_pyoci(settings, &[]);
        let base = index_base(&pyoci, &setup.registry.url_segment());
        let listing = format!("{base}/calm/");
        let first = setup.http.get_with(&listing, &[("Authorization", &setup.auth)]);
        assert_eq!(first.status, 200, "{}", first.text());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let answers = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let strangers: Vec<_> = if with_strangers {
            let pages = (0..hostile_descriptions().len())
                .map(|n| format!("{base}/+about/hostile{n}/"))
                .map(move |url| (url, None))
                .collect::<Vec<_>>();
            let forms = (0..2).map(|_| (format!("{base}/"), Some(pyoci.port())));
            pages
                .into_iter()
                .chain(forms)
                .map(|(url, form_port)| {
                    let (stop, answers) = (stop.clone(), answers.clone());
                    let auth = setup.auth.clone();
                    let upload_path = url.split_once(&format!(":{}", pyoci.port()))
                        .map(|(_, path)| path.to_owned())
                        .unwrap_or_default();
                    std::thread::spawn(move || {
                        let http = HttpClient::new();
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let answered = match form_port {
                                Some(port) => anonymous_form(port, &upload_path),
                                None => http
                                    .try_request("GET", &url, &[("Authorization", &auth)], None)
                                    .is_ok(),
                            };
                            if answered {
                                answers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let result = wrk(settings, &listing, Some(&setup.auth));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for stranger in strangers {
            let _ = stranger.join();
        }
        println!(
            "| {} | {:.0} | {:.1} | {:.1} | {} | {:.0} |",
            if with_strangers {
                "beside 5 clients asking for hostile pages and 2 sending anonymous 200 MiB forms"
            } else {
                "alone"
            },
            result.requests_per_second,
            result.p50_ms,
            result.p99_ms,
            answers.load(std::sync::atomic::Ordering::Relaxed),
            peak_rss_mib(pyoci.pid())
        );
        p99.push(result.p99_ms);
    }
    println!();
    println!(
        "p99 beside strangers / alone: {:.2}× (the hostile pages are plain text within their \
         bounds and rendered once; the anonymous forms are refused at their 2 MiB total)",
        p99[1] / p99[0]
    );
    println!();
}

/// Sends an anonymous form of 200 text fields of 1 MiB to `path`; whether PyOCI answered.
fn anonymous_form(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let boundary = "stranger";
    let field = |n: usize| {
        let mut part =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"f{n}\"\r\n\r\n")
                .into_bytes();
        part.resize(part.len() + 1024 * 1024, b'x');
        part.extend_from_slice(b"\r\n");
        part
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; \
         boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        200 * (1024 * 1024 + 64)
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for n in 0..200 {
        if stream.write_all(&field(n)).is_err() {
            break;
        }
    }
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.1 ")
}
