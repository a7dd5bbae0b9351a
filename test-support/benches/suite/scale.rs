//! Scale (issue 20): many projects written straight into the registry, each listed once
//! through one PyOCI and then again in a loop, with PyOCI's resident memory against
//! `PYOCI_CACHE_BYTES` and the listing caches' hit ratio.

use std::{
    collections::BTreeMap,
    env, fs,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures_util::{stream, StreamExt};
use pyoci_test_support::{free_port, sha256_hex, wheel_bytes, HttpClient, ALICE};

use crate::{index_base, start_pyoci, Settings, Setup, CLIENTS, NAMESPACE};

/// Projects written at once during the fill (each with all its versions at once).
const FILL_PROJECTS_AT_ONCE: usize = 6;
/// The listing caches' TTL for the measured PyOCIs: longer than a loop over every project,
/// as with registry events (`PYOCI_EVENT_CACHE_TTL`), so what is measured is the cache's
/// size, not its expiry.
const CACHE_TTL: &str = "600";
/// Seconds of the reference loop over one page.
const ONE_PAGE_SECONDS: u64 = 10;
const EMPTY_CONFIG: &[u8] = b"{}";
const EMPTY_CONFIG_TYPE: &str = "application/vnd.oci.empty.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const PACKAGE_TYPE: &str = "application/pyoci.package.v1";

fn var(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.into())
}

fn project_name(p: usize) -> String {
    format!("s{p:05}")
}

fn version_of(v: usize) -> String {
    format!("1.{v}.0")
}

pub(crate) fn scale(settings: &Settings, setup: &Setup) {
    let projects: usize = var("BENCH_SCALE_PROJECTS", "1000")
        .parse()
        .expect("BENCH_SCALE_PROJECTS: a number");
    let versions: usize = var("BENCH_SCALE_VERSIONS", "20")
        .parse()
        .expect("BENCH_SCALE_VERSIONS: a number");
    let loop_seconds: u64 = var("BENCH_SCALE_LOOP_SECS", "30")
        .parse()
        .expect("BENCH_SCALE_LOOP_SECS: a number of seconds");
    let caches: Vec<String> = var("BENCH_SCALE_CACHES", "64MiB,16MiB")
        .split(',')
        .map(|size| size.trim().to_owned())
        .collect();
    println!(
        "## Scale: {projects} projects × {versions} versions, each listed once, then in a loop"
    );
    println!();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .expect("an HTTP client");

    let started = Instant::now();
    let wheel = wheel_bytes("tiny", "0", b"");
    runtime.block_on(fill(&client, setup, &wheel, projects, versions));
    let fill_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "scale: wrote {projects} × {versions} in {fill_seconds:.1} s ({:.0} versions/s)",
        (projects * versions) as f64 / fill_seconds
    );
    check_one_listing(settings, setup, &wheel, versions);

    println!(
        "| PYOCI_CACHE_BYTES | idle RSS MiB | first pass: pages/s | RSS max MiB | loop: pages/s | p99 ms | RSS max MiB | bound (cache + idle) MiB | within? | RSS max, loop over 1 page | within cache + that? | errors |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |");
    let mut ratios = Vec::new();
    let mut series = Vec::new();
    for cache in &caches {
        let metrics_port = free_port();
        let env = [
            ("PYOCI_CACHE_BYTES", cache.as_str()),
            ("PYOCI_CACHE_TTL", CACHE_TTL),
        ];
        // The same load on one page: what PyOCI holds under this load with next to nothing
        // cached (buffers, connections, the allocator's free memory).
        let one_page = {
            let pyoci = start_pyoci(settings, &env);
            let sampler = RssSampler::start(pyoci.pid());
            let page = format!(
                "{}/{}/",
                index_base(&pyoci, &setup.registry.url_segment()),
                project_name(0)
            );
            runtime.block_on(list(
                &client,
                setup,
                &[page],
                Some(Duration::from_secs(ONE_PAGE_SECONDS)),
            ));
            let max = sampler.max_since_mark();
            sampler.stop();
            max
        };
        let mut env = env.to_vec();
        let metrics_port_text = metrics_port.to_string();
        env.push(("PYOCI_METRICS_PORT", &metrics_port_text));
        let pyoci = start_pyoci(settings, &env);
        std::thread::sleep(Duration::from_secs(1));
        let idle = rss_mib(pyoci.pid(), "VmRSS:");
        let sampler = RssSampler::start(pyoci.pid());
        let base = index_base(&pyoci, &setup.registry.url_segment());
        let pages: Vec<String> = (0..projects)
            .map(|p| format!("{base}/{}/", project_name(p)))
            .collect();
        let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
        let before = lookups(&setup.http, &metrics_url);
        let first = runtime.block_on(list(&client, setup, &pages, None));
        let first_rss = sampler.max_since_mark();
        let after_first = lookups(&setup.http, &metrics_url);
        let looped = runtime.block_on(list(
            &client,
            setup,
            &pages,
            Some(Duration::from_secs(loop_seconds)),
        ));
        let loop_rss = sampler.max_since_mark();
        let after_loop = lookups(&setup.http, &metrics_url);
        let samples = sampler.stop();
        let cache_mib = parse_mib(cache);
        let bound = cache_mib + idle;
        let peak = first_rss.max(loop_rss);
        let verdict = |bound: f64| if peak <= bound { "yes" } else { "**no**" };
        println!(
            "| {cache} | {idle:.1} | {:.0} | {first_rss:.1} | {:.0} | {:.1} | {loop_rss:.1} | {bound:.1} | {} | {one_page:.1} | {} ({:.1}) | {} |",
            first.pages as f64 / first.seconds,
            looped.pages as f64 / looped.seconds,
            looped.p99_ms,
            verdict(bound),
            verdict(cache_mib + one_page),
            cache_mib + one_page,
            first.errors + looped.errors
        );
        ratios.push((
            cache.clone(),
            difference(&after_first, &before),
            difference(&after_loop, &after_first),
        ));
        series.push((cache.clone(), samples));
        for error in first.first_errors.iter().chain(&looped.first_errors) {
            eprintln!("scale: {error}");
        }
    }
    println!();
    println!("Listing cache lookups (`pyoci_listing_cache_lookups_total`), hit ratio by cache:");
    println!();
    println!("| PYOCI_CACHE_BYTES | pass | page | tag | document |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for (cache, first, looped) in &ratios {
        for (pass, counts) in [("first", first), ("loop", looped)] {
            let ratio = |kind: &str| {
                let hit = counts.get(&(kind.to_owned(), "hit".to_owned())).copied();
                let miss = counts.get(&(kind.to_owned(), "miss".to_owned())).copied();
                let (hit, miss) = (hit.unwrap_or(0.0), miss.unwrap_or(0.0));
                if hit + miss == 0.0 {
                    "—".to_owned()
                } else {
                    format!("{:.1} % of {:.0}", 100.0 * hit / (hit + miss), hit + miss)
                }
            };
            println!(
                "| {cache} | {pass} | {} | {} | {} |",
                ratio("page"),
                ratio("tag"),
                ratio("document")
            );
        }
    }
    println!();
    println!("PyOCI's RSS over time (MiB, the highest in each 10 s):");
    println!();
    for (cache, samples) in &series {
        let mut maxima: Vec<f64> = Vec::new();
        for (at, mib) in samples {
            let slot = (at / 10.0) as usize;
            if maxima.len() <= slot {
                maxima.resize(slot + 1, 0.0);
            }
            maxima[slot] = maxima[slot].max(*mib);
        }
        let text: Vec<String> = maxima.iter().map(|m| format!("{m:.0}")).collect();
        println!("- {cache}: {}", text.join(", "));
    }
    println!();
    println!(
        "({projects} projects of {versions} versions written straight into the registry \
         (loopback, no delay) in {fill_seconds:.0} s: one {}-byte wheel blob shared by all, one \
         image manifest per file and one image index per version tag, as PyOCI writes them, no \
         listing documents. Then, per cache size, one PyOCI with PYOCI_CACHE_TTL={CACHE_TTL} \
         (longer than a loop, as with registry events, so the loop measures the cache's size, \
         not its expiry) and its defaults otherwise lists every project page once with \
         {CLIENTS} clients, then cycles through all of them in order for {loop_seconds} s. The \
         idle RSS is the fresh PyOCI's before its first request; \"loop over 1 page\" is \
         another fresh PyOCI under the same {CLIENTS} clients asking for one page for \
         {ONE_PAGE_SECONDS} s: the memory the load itself takes. RSS is read from \
         /proc/<pid>/status every 250 ms. The issue's size is `BENCH_SCALE_PROJECTS=10000 \
         BENCH_SCALE_VERSIONS=20`; writing it took too long here for the default run (see \
         docs/performance.md).)",
        wheel.len()
    );
    println!();
}

/// Writes `projects` × `versions` into the registry the way PyOCI stores them.
async fn fill(
    client: &reqwest::Client,
    setup: &Setup,
    wheel: &[u8],
    projects: usize,
    versions: usize,
) {
    let registry = setup.registry.url();
    let blob = format!("sha256:{}", sha256_hex(wheel));
    let config = format!("sha256:{}", sha256_hex(EMPTY_CONFIG));
    let first = format!("{NAMESPACE}/{}", project_name(0));
    let failures = Mutex::new(Vec::<String>::new());
    let write_project = |p: usize| {
        let (registry, blob, config, first, failures) =
            (&registry, &blob, &config, &first, &failures);
        async move {
            let repo = format!("{NAMESPACE}/{}", project_name(p));
            let token = token(client, setup, &[&repo, first]).await;
            let bearer = format!("Bearer {token}");
            for (digest, bytes) in [(blob, wheel), (config, EMPTY_CONFIG)] {
                put_blob(client, registry, &bearer, &repo, first, digest, bytes).await;
            }
            let results = futures_util::future::join_all((0..versions).map(|v| {
                let (bearer, repo) = (&bearer, &repo);
                async move {
                    let created = format!("2026-12-01T00:{:02}:{:02}.000000Z", v / 60 % 60, v % 60);
                    let manifest = serde_json::json!({
                        "schemaVersion": 2,
                        "mediaType": MANIFEST_TYPE,
                        "artifactType": PACKAGE_TYPE,
                        "config": {"mediaType": EMPTY_CONFIG_TYPE, "digest": config, "size": EMPTY_CONFIG.len()},
                        "layers": [{"mediaType": PACKAGE_TYPE, "digest": blob, "size": wheel.len()}],
                        "annotations": {"org.opencontainers.image.created": created},
                    })
                    .to_string();
                    let manifest_digest = format!("sha256:{}", sha256_hex(manifest.as_bytes()));
                    put_manifest(client, registry, bearer, repo, &manifest_digest, MANIFEST_TYPE, &manifest).await?;
                    let index = serde_json::json!({
                        "schemaVersion": 2,
                        "mediaType": INDEX_TYPE,
                        "artifactType": PACKAGE_TYPE,
                        "manifests": [{
                            "mediaType": MANIFEST_TYPE,
                            "digest": manifest_digest,
                            "size": manifest.len(),
                            "platform": {"architecture": "py3-none-any.whl", "os": "any"},
                            "annotations": {
                                "org.opencontainers.image.created": created,
                                "com.pyoci.sha256_digest": sha256_hex(wheel),
                                "com.pyoci.size": wheel.len().to_string(),
                            },
                        }],
                        "annotations": {"org.opencontainers.image.created": created},
                    })
                    .to_string();
                    put_manifest(client, registry, bearer, repo, &version_of(v), INDEX_TYPE, &index).await
                }
            }))
            .await;
            for error in results.into_iter().filter_map(Result::err) {
                failures.lock().expect("failures").push(error);
            }
        }
    };
    // The first project alone: the others mount its blobs.
    write_project(0).await;
    stream::iter(1..projects)
        .for_each_concurrent(FILL_PROJECTS_AT_ONCE, write_project)
        .await;
    let failures = failures.into_inner().expect("failures");
    assert!(
        failures.is_empty(),
        "{} writes failed, the first: {}",
        failures.len(),
        failures[0]
    );
}

/// A token for ALICE to push and pull `repos`.
async fn token(client: &reqwest::Client, setup: &Setup, repos: &[&str]) -> String {
    let mut query = vec![("service".to_owned(), setup.issuer.service().to_owned())];
    for repo in repos {
        query.push(("scope".to_owned(), format!("repository:{repo}:pull,push")));
    }
    let response = client
        .get(setup.issuer.realm())
        .query(&query)
        .basic_auth(ALICE.0, Some(ALICE.1))
        .send()
        .await
        .expect("the token service answers");
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.expect("a token")).expect("a token");
    body["token"].as_str().expect("a token").to_owned()
}

/// Puts a blob into `repo`: mounted from `from` when it is there, else uploaded.
async fn put_blob(
    client: &reqwest::Client,
    registry: &str,
    bearer: &str,
    repo: &str,
    from: &str,
    digest: &str,
    bytes: &[u8],
) {
    let mount = client
        .post(format!(
            "{registry}/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"
        ))
        .header("Authorization", bearer)
        .header("Content-Length", "0")
        .send()
        .await
        .expect("the registry answers a mount");
    if mount.status().as_u16() == 201 {
        return;
    }
    assert_eq!(mount.status().as_u16(), 202, "blob upload of {repo}");
    let location = mount
        .headers()
        .get("Location")
        .and_then(|l| l.to_str().ok())
        .expect("an upload location")
        .to_owned();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{registry}{location}")
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = client
        .put(format!("{location}{separator}digest={digest}"))
        .header("Authorization", bearer)
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("the registry answers a blob PUT");
    assert_eq!(put.status().as_u16(), 201, "blob PUT into {repo}");
}

async fn put_manifest(
    client: &reqwest::Client,
    registry: &str,
    bearer: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &str,
) -> Result<(), String> {
    let response = client
        .put(format!("{registry}/v2/{repo}/manifests/{reference}"))
        .header("Authorization", bearer)
        .header("Content-Type", media_type)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|err| format!("PUT {repo}:{reference}: {err}"))?;
    if response.status().as_u16() == 201 {
        Ok(())
    } else {
        let status = response.status();
        Err(format!(
            "PUT {repo}:{reference}: {status} {}",
            response.text().await.unwrap_or_default()
        ))
    }
}

/// A PyOCI lists the first project as it lists what it wrote itself: every version's wheel,
/// with its sha256.
fn check_one_listing(settings: &Settings, setup: &Setup, wheel: &[u8], versions: usize) {
    let pyoci = start_pyoci(settings, &[]);
    let name = project_name(0);
    let url = format!(
        "{}/{name}/",
        index_base(&pyoci, &setup.registry.url_segment())
    );
    let page = setup.http.get_with(&url, &[("Authorization", &setup.auth)]);
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    let sha = sha256_hex(wheel);
    for v in 0..versions {
        let file = format!("{name}-{}-py3-none-any.whl#sha256={sha}", version_of(v));
        assert!(text.contains(&file), "{url} lacks {file}:\n{text}");
    }
    assert_eq!(
        text.matches(".whl#sha256=").count(),
        versions,
        "{url}:\n{text}"
    );
    let file = setup.http.get_with(
        &format!("{url}{name}-{}-py3-none-any.whl", version_of(0)),
        &[("Authorization", &setup.auth)],
    );
    assert_eq!(file.status, 200, "download: {}", file.text());
    assert_eq!(file.body, wheel, "the wheel downloaded");
}

struct Pass {
    pages: usize,
    seconds: f64,
    p99_ms: f64,
    errors: usize,
    first_errors: Vec<String>,
}

/// Lists `pages` with CLIENTS clients: each once (`duration` None), or round and round
/// until `duration` is over.
async fn list(
    client: &reqwest::Client,
    setup: &Setup,
    pages: &[String],
    duration: Option<Duration>,
) -> Pass {
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let urls: Box<dyn Iterator<Item = &String> + Send> = match deadline {
        None => Box::new(pages.iter()),
        Some(deadline) => Box::new(
            pages
                .iter()
                .cycle()
                .take_while(move |_| Instant::now() < deadline),
        ),
    };
    let results: Vec<(u64, Result<(), String>)> = stream::iter(urls)
        .map(|url| async move {
            let begun = Instant::now();
            let result = match client
                .get(url)
                .header("Authorization", &setup.auth)
                .send()
                .await
            {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(_) if status == 200 => Ok(()),
                        Ok(body) => Err(format!(
                            "{url}: {status} {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        )),
                        Err(err) => Err(format!("{url}: {err}")),
                    }
                }
                Err(err) => Err(format!("{url}: {err}")),
            };
            (begun.elapsed().as_micros() as u64, result)
        })
        .buffer_unordered(CLIENTS as usize)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u64> = results.iter().map(|r| r.0).collect();
    latencies.sort_unstable();
    let p99 = latencies
        .get((latencies.len() as f64 * 0.99) as usize)
        .or(latencies.last())
        .map_or(f64::NAN, |&us| us as f64 / 1000.0);
    let failed: Vec<String> = results.into_iter().filter_map(|r| r.1.err()).collect();
    Pass {
        pages: latencies.len(),
        seconds,
        p99_ms: p99,
        errors: failed.len(),
        first_errors: failed.into_iter().take(5).collect(),
    }
}

/// `pyoci_listing_cache_lookups_total` by (cache, outcome).
fn lookups(http: &HttpClient, url: &str) -> BTreeMap<(String, String), f64> {
    let text = http.get(url).text();
    let mut counts = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("pyoci_listing_cache_lookups_total{"))
    {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split_once(&format!("{name}=\""))
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(value, _)| value.to_owned())
                .unwrap_or_default()
        };
        counts.insert(
            (label("cache"), label("outcome")),
            value.parse().unwrap_or(0.0),
        );
    }
    counts
}

fn difference(
    after: &BTreeMap<(String, String), f64>,
    before: &BTreeMap<(String, String), f64>,
) -> BTreeMap<(String, String), f64> {
    after
        .iter()
        .map(|(key, value)| (key.clone(), value - before.get(key).copied().unwrap_or(0.0)))
        .collect()
}

fn rss_mib(pid: u32, field: &str) -> f64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// `64MiB`, `16MiB`, `1GiB` in MiB.
fn parse_mib(size: &str) -> f64 {
    let (number, unit) = size
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((size, ""), |at| size.split_at(at));
    let number: f64 = number.parse().expect("a cache size");
    number
        * match unit {
            "GiB" => 1024.0,
            "MiB" => 1.0,
            "KiB" => 1.0 / 1024.0,
            "" => 1.0 / 1048576.0,
            other => panic!("BENCH_SCALE_CACHES: unit {other} (use KiB, MiB or GiB)"),
        }
}

/// Reads a process's RSS every 250 ms in a thread of its own.
struct RssSampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(f64, f64)>>>,
    mark: Mutex<usize>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, samples) = (stop.clone(), samples.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let rss = rss_mib(pid, "VmRSS:");
                    samples
                        .lock()
                        .expect("samples")
                        .push((started.elapsed().as_secs_f64(), rss));
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        };
        RssSampler {
            stop,
            samples,
            mark: Mutex::new(0),
            thread,
        }
    }

    /// The highest RSS since the last call (or the start), read now too.
    fn max_since_mark(&self) -> f64 {
        let samples = self.samples.lock().expect("samples");
        let mut mark = self.mark.lock().expect("mark");
        let max = samples[*mark..].iter().map(|s| s.1).fold(0.0, f64::max);
        *mark = samples.len();
        max
    }

    fn stop(self) -> Vec<(f64, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        Arc::try_unwrap(self.samples)
            .map(|m| m.into_inner().expect("samples"))
            .unwrap_or_default()
    }
}
