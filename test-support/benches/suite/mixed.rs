//! Mixed load (issue 20): many clients reading pages, downloading and uploading at once
//! through one PyOCI with the registry 25 ms away, beside pypiserver serving the same mix
//! from local disk.

use std::{
    env, fs,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use pyoci_test_support::{content_form, wheel_bytes, Fault};

use crate::{
    cpu_seconds, index_base, peak_rss_mib, start_pyoci, tools::PypiServer, Settings, Setup,
    RELAY_DELAY,
};

const PROJECTS: usize = 50;
const VERSIONS: usize = 4;
/// Bytes of the payload of the wheels uploaded during the run.
const UPLOAD_PAYLOAD: usize = 8 * 1024;
const ROUTES: [&str; 3] = ["page", "download", "upload"];

#[derive(Clone, Copy)]
enum Route {
    Page = 0,
    Download = 1,
    Upload = 2,
}

/// One server's URLs for the mix.
struct Target {
    /// Project page URLs, one per project.
    pages: Vec<String>,
    /// File URLs of the seeded wheels.
    files: Vec<String>,
    /// Where uploads go.
    upload: String,
    authorization: Option<String>,
    /// What the server calls a version uploaded during the run: unique per run.
    upload_series: u32,
}

/// One request's outcome: route, latency in microseconds, success.
type Sample = (Route, u64, bool);

struct Outcome {
    samples: Vec<Sample>,
    elapsed: f64,
    errors: Vec<String>,
}

fn env_number(name: &str, default: u64) -> u64 {
    env::var(name)
        .ok()
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name}: a number, not {value:?}"))
        })
        .unwrap_or(default)
}

/// The seeded wheels: project, version, file name and bytes, a few KiB to 1 MiB.
fn seed_files() -> Vec<(String, String, String, Vec<u8>)> {
    (0..PROJECTS)
        .flat_map(|p| {
            (0..VERSIONS).map(move |v| {
                let name = format!("mixed{p:02}");
                let version = format!("1.{v}.0");
                // 4 KiB × 2^k, k cycling over 0..=8: 4 KiB .. 1 MiB.
                let payload = vec![b'x'; 4096 << ((p * VERSIONS + v) % 9)];
                let wheel = wheel_bytes(&name, &version, &payload);
                let filename = format!("{name}-{version}-py3-none-any.whl");
                (name, version, filename, wheel)
            })
        })
        .collect()
}

pub(crate) fn mixed(settings: &Settings, setup: &Setup) {
    let clients = env_number("BENCH_MIXED_CLIENTS", 200) as usize;
    let seconds = env_number("BENCH_MIXED_SECONDS", 60);
    println!(
        "## Mixed load: {clients} clients for {seconds} s, 80 % page reads, 15 % downloads, 5 % uploads"
    );
    println!();
    let files_dir = setup.work.path().join("mixed");
    fs::create_dir_all(&files_dir).expect("mixed dir");
    let seeds = seed_files();
    let total_bytes: usize = seeds.iter().map(|(_, _, _, wheel)| wheel.len()).sum();
    {
        let seeder = start_pyoci(settings, &[]);
        let url = format!("{}/", index_base(&seeder, &setup.registry.url_segment()));
        std::thread::scope(|scope| {
            for part in seeds.chunks(seeds.len().div_ceil(4)) {
                let (http, url, auth) = (&setup.http, &url, &setup.auth);
                scope.spawn(move || {
                    for (name, version, filename, wheel) in part {
                        let form = content_form(name, version, filename, wheel);
                        let response =
                            http.post_multipart(url, form, &[("Authorization", auth.as_str())]);
                        assert_eq!(response.status, 200, "seeding: {}", response.text());
                    }
                });
            }
        });
    }
    for (_, _, filename, wheel) in &seeds {
        fs::write(files_dir.join(filename), wheel).expect("write wheel");
    }
    eprintln!(
        "mixed: seeded {PROJECTS} projects × {VERSIONS} versions ({:.1} MiB)",
        total_bytes as f64 / 1048576.0
    );

    println!("| server | route | requests | errors | req/s | p50 ms | p99 ms | max ms |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut totals = Vec::new();

    // PyOCI, default settings, the registry RELAY_DELAY away.
    setup.relay.set(Fault::Delay(RELAY_DELAY));
    let pyoci = start_pyoci(settings, &[]);
    let base = index_base(&pyoci, &setup.relay.url_segment());
    let target = Target {
        pages: (0..PROJECTS)
            .map(|p| format!("{base}/mixed{p:02}/"))
            .collect(),
        files: seeds
            .iter()
            .map(|(name, _, filename, _)| format!("{base}/{name}/{filename}"))
            .collect(),
        upload: format!("{base}/"),
        authorization: Some(setup.auth.clone()),
        upload_series: 2,
    };
    let alone = alone(setup, &target, &seeds[0].2);
    setup.relay.forget_seen();
    let registry_pid = registry_pid();
    let registry_cpu_before = registry_pid.map_or(0.0, cpu_seconds);
    let cpu_before = cpu_seconds(pyoci.pid());
    let outcome = run_mix(&target, clients, Duration::from_secs(seconds));
    let cpu = cpu_seconds(pyoci.pid()) - cpu_before;
    let registry_cpu = registry_pid.map(|pid| cpu_seconds(pid) - registry_cpu_before);
    let registry_requests = setup.relay.seen().len();
    setup.relay.clear();
    setup.relay.forget_seen();
    let rss = peak_rss_mib(pyoci.pid());
    print_rows("PyOCI", &outcome);
    totals.push((
        "PyOCI",
        outcome,
        cpu,
        rss,
        Some((registry_requests, registry_cpu)),
    ));
    drop(pyoci);

    // pypiserver: the same files from local disk, uploads into the same directory.
    let pypiserver = PypiServer::start(settings, &files_dir);
    let target = Target {
        pages: (0..PROJECTS)
            .map(|p| pypiserver.url(&format!("/simple/mixed{p:02}/")))
            .collect(),
        files: seeds
            .iter()
            .map(|(_, _, filename, _)| pypiserver.url(&format!("/packages/{filename}")))
            .collect(),
        upload: pypiserver.url("/"),
        authorization: None,
        upload_series: 3,
    };
    let cpu_before = cpu_seconds(pypiserver.pid());
    let outcome = run_mix(&target, clients, Duration::from_secs(seconds));
    let cpu = cpu_seconds(pypiserver.pid()) - cpu_before;
    let rss = peak_rss_mib(pypiserver.pid());
    print_rows("pypiserver (local files)", &outcome);
    totals.push(("pypiserver (local files)", outcome, cpu, rss, None));
    drop(pypiserver);
    println!();

    println!(
        "| server | requests/s, all routes | errors | CPU s | CPU ms per request | peak RSS MiB | registry requests | registry CPU s |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (server, outcome, cpu, rss, registry) in &totals {
        let requests = outcome.samples.len();
        let errors = outcome.samples.iter().filter(|s| !s.2).count();
        println!(
            "| {server} | {:.0} | {errors} | {cpu:.1} | {:.2} | {rss:.0} | {} | {} |",
            requests as f64 / outcome.elapsed,
            cpu * 1000.0 / requests.max(1) as f64,
            registry.map_or("—".into(), |r| r.0.to_string()),
            registry
                .and_then(|r| r.1)
                .map_or("—".into(), |cpu| format!("{cpu:.1}"))
        );
    }
    println!();
    println!(
        "({PROJECTS} projects of {VERSIONS} versions seeded before the run, wheels of 4 KiB to \
         1 MiB ({:.1} MiB in all); each client picks a page (80 %), one of those wheels (15 %) or \
         an upload of a new version of one of the projects ({} KiB wheel, 5 %) at random, one \
         request at a time. PyOCI runs with its default settings and the registry {} ms away \
         (every registry request delayed by the relay); pypiserver serves the same files from \
         local disk and stores its uploads there (`-a . -P .`, no authentication). CPU and peak \
         RSS are the server process's own, from /proc; PyOCI's peak is since its start, \
         pypiserver's includes its start-up.)",
        total_bytes as f64 / 1048576.0,
        UPLOAD_PAYLOAD / 1024,
        RELAY_DELAY.as_millis()
    );
    println!();
    println!(
        "For reference, each route alone through the same PyOCI just before the run (no other \
         load): {alone}."
    );
    println!();
    for (server, outcome, ..) in &totals {
        for error in outcome.errors.iter().take(5) {
            eprintln!("mixed: {server}: {error}");
        }
    }
}

/// The registry's process: the bench's child named `docker-registry`.
fn registry_pid() -> Option<u32> {
    let me = std::process::id().to_string();
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
        let (name, rest) = stat.split_once(" (")?.1.rsplit_once(')')?;
        let parent = rest.split_whitespace().nth(1)?;
        (name.starts_with("docker-registry") && parent == me).then_some(pid)
    })
}

/// One upload, the page read after it, and one download through PyOCI with nothing else
/// going on: time and registry requests of each.
fn alone(setup: &Setup, target: &Target, filename: &str) -> String {
    let auth = [("Authorization", setup.auth.as_str())];
    let mut parts = Vec::new();
    let mut timed = |what: &str, run: &dyn Fn() -> u16| {
        setup.relay.forget_seen();
        let started = Instant::now();
        let status = run();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(status, 200, "{what} alone");
        parts.push(format!(
            "{what} {ms:.0} ms and {} registry requests",
            setup.relay.seen().len()
        ));
    };
    timed("an upload", &|| {
        let (project, version) = ("mixed00", "9.0.0");
        let wheel = wheel_bytes(project, version, &vec![b'u'; UPLOAD_PAYLOAD]);
        let filename = format!("{project}-{version}-py3-none-any.whl");
        let form = content_form(project, version, &filename, &wheel);
        setup
            .http
            .post_multipart(&target.upload, form, &auth)
            .status
    });
    timed("the page read after it", &|| {
        setup.http.get_with(&target.pages[0], &auth).status
    });
    timed("a download", &|| {
        let url = target.pages[0].clone() + filename;
        setup.http.get_with(&url, &auth).status
    });
    parts.join(", ")
}

fn print_rows(server: &str, outcome: &Outcome) {
    for (i, route) in ROUTES.iter().enumerate() {
        let mut latencies: Vec<u64> = outcome
            .samples
            .iter()
            .filter(|s| s.0 as usize == i)
            .map(|s| s.1)
            .collect();
        let errors = outcome
            .samples
            .iter()
            .filter(|s| s.0 as usize == i && !s.2)
            .count();
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(f64::NAN, |&us| us as f64 / 1000.0)
        };
        println!(
            "| {server} | {route} | {} | {errors} | {:.0} | {:.1} | {:.1} | {:.1} |",
            latencies.len(),
            latencies.len() as f64 / outcome.elapsed,
            at(0.5),
            at(0.99),
            latencies.last().map_or(f64::NAN, |&us| us as f64 / 1000.0)
        );
    }
}

/// Runs `clients` clients against `target` for `duration`, each sending one request at a
/// time; requests started before the end are waited for and counted.
fn run_mix(target: &Target, clients: usize, duration: Duration) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the clients");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let target = Arc::new(Target {
        pages: target.pages.clone(),
        files: target.files.clone(),
        upload: target.upload.clone(),
        authorization: target.authorization.clone(),
        upload_series: target.upload_series,
    });
    runtime.block_on(async {
        // Every page and one file once first: the servers answer, and the run starts warm
        // as a server in use would be.
        for url in target.pages.iter().chain(target.files.first()) {
            let (ok, _, error) = send(&client, &target, Route::Page, url, 0).await;
            assert!(ok, "before the mix: {}", error.unwrap_or_default());
        }
        let uploads = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + duration;
        let tasks: Vec<_> = (0..clients)
            .map(|n| {
                let (client, target, uploads) = (client.clone(), target.clone(), uploads.clone());
                tokio::spawn(async move {
                    let mut random = Random::new(n as u64 + 1);
                    let mut samples = Vec::new();
                    let mut errors = Vec::new();
                    while Instant::now() < deadline {
                        let roll = random.below(100);
                        let (route, url, project) = if roll < 80 {
                            let p = random.below(target.pages.len());
                            (Route::Page, target.pages[p].clone(), p)
                        } else if roll < 95 {
                            let f = random.below(target.files.len());
                            (Route::Download, target.files[f].clone(), 0)
                        } else {
                            (Route::Upload, target.upload.clone(), 0)
                        };
                        let serial = match route {
                            Route::Upload => uploads.fetch_add(1, Ordering::Relaxed),
                            _ => project as u64,
                        };
                        let begun = Instant::now();
                        let (ok, _, error) = send(&client, &target, route, &url, serial).await;
                        samples.push((route, begun.elapsed().as_micros() as u64, ok));
                        if let Some(error) = error {
                            if errors.len() < 5 {
                                errors.push(error);
                            }
                        }
                    }
                    (samples, errors)
                })
            })
            .collect();
        let mut outcome = Outcome {
            samples: Vec::new(),
            elapsed: 0.0,
            errors: Vec::new(),
        };
        for task in tasks {
            let (samples, errors) = task.await.expect("a client task");
            outcome.samples.extend(samples);
            outcome.errors.extend(errors);
        }
        outcome.elapsed = started.elapsed().as_secs_f64();
        outcome
    })
}

/// Sends one request of `route`; for an upload, `serial` makes the version unique and picks
/// the project. Whether it succeeded, its status, and what went wrong if not.
async fn send(
    client: &reqwest::Client,
    target: &Target,
    route: Route,
    url: &str,
    serial: u64,
) -> (bool, u16, Option<String>) {
    let mut request = match route {
        Route::Page | Route::Download => client.get(url),
        Route::Upload => {
            let project = format!("mixed{:02}", serial as usize % target.pages.len());
            let version = format!("{}.{}.0", target.upload_series, serial);
            let filename = format!("{project}-{version}-py3-none-any.whl");
            let payload = vec![b'u'; UPLOAD_PAYLOAD];
            let wheel = wheel_bytes(&project, &version, &payload);
            let form = content_form(&project, &version, &filename, &wheel);
            client
                .post(url)
                .header("Content-Type", form.content_type())
                .body(form.into_body())
        }
    };
    if let Some(authorization) = &target.authorization {
        request = request.header("Authorization", authorization);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return (false, 0, Some(format!("{url}: no answer: {err}"))),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(_) if status == 200 => (true, status, None),
        Ok(body) => (
            false,
            status,
            Some(format!(
                "{url}: {status} {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )),
        ),
        Err(err) => (
            false,
            status,
            Some(format!("{url}: {status}, body broke off: {err}")),
        ),
    }
}

/// xorshift64: enough randomness to pick routes, without a crate.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Random {
        Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
