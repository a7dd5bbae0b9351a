//! A section of the report: the pull-through mirror (issue 21). A 20-package public chain
//! (`pubchain00` requiring `pubchain01` and so on) served by a local PEP 691 JSON index
//! ([`StaticIndex`], upload times 30 days ago), installed with `uv pip install --no-cache`
//! through a PyOCI mirroring it (`PYOCI_MIRROR_INDEX`), the registry 25 ms away through the
//! relay:
//!
//! - the first install (every file fetched from the public index and stored in the
//!   registry) beside installing straight from the same public index, no PyOCI;
//! - a later install (the files in the registry) beside the same install of the same chain
//!   published as private packages (`prvchain00`...) through the same PyOCI.
//!
//! A first install can be made only once per mirror namespace, so each of the three is
//! made by a fresh PyOCI into a fresh namespace (`pypi1`, `pypi2`, `pypi3`).

use std::{
    collections::BTreeMap,
    fs,
    time::{Duration, SystemTime},
};

use pyoci_test_support::{
    write_dists, DistSpec, Fault, Pyoci, SeenRequest, StaticIndex, StaticRequest, ALICE,
    PUBLIC_INDEX_HOST,
};

use crate::{
    install::{publish_chain, uv_index, uv_install},
    start_pyoci, Settings, Setup, RELAY_DELAY,
};

const PUBLIC_PREFIX: &str = "pubchain";
const PRIVATE_PREFIX: &str = "prvchain";
const RUNS: usize = 3;
const PUBLISHED_AGO: Duration = Duration::from_secs(30 * 86_400);

/// One timed install and the requests it made.
struct Run {
    seconds: f64,
    /// Requests the relay in front of the registry received while uv ran.
    registry: Vec<SeenRequest>,
    /// Requests the public index received while uv ran.
    public: Vec<StaticRequest>,
    /// Requests to the token issuer (not behind the relay) while uv ran.
    tokens: usize,
}

pub(crate) fn mirror(settings: &Settings, setup: &Setup) {
    let length = settings.chain;
    println!(
        "## The pull-through mirror (issue 21): a {length}-package public chain through \
         `PYOCI_MIRROR_INDEX`, registry {} ms away",
        RELAY_DELAY.as_millis()
    );
    println!();

    // The public chain, on a public index of its own.
    let public_files = setup.work.path().join(PUBLIC_PREFIX);
    fs::create_dir_all(&public_files).expect("public chain dir");
    let name = |i: usize| format!("{PUBLIC_PREFIX}{i:02}");
    let specs: Vec<DistSpec> = (0..length)
        .map(|i| {
            let spec = DistSpec::new(&name(i), "1.0.0");
            if i + 1 < length {
                spec.requires(&name(i + 1))
            } else {
                spec
            }
        })
        .collect();
    let wheels = write_dists(&public_files, &specs);
    let uploaded = SystemTime::now() - PUBLISHED_AGO;
    let names: Vec<String> = (0..length).map(name).collect();
    let listed: Vec<(&str, &std::path::Path, SystemTime, Option<&str>)> = names
        .iter()
        .zip(&wheels)
        .map(|(name, wheel)| (name.as_str(), wheel.as_path(), uploaded, None))
        .collect();
    let public = StaticIndex::start(PUBLIC_INDEX_HOST, &listed);
    let public_url = public.url();

    // The same chain as private packages, published straight to the registry (not through
    // the relay: only the installs are measured).
    {
        let publisher = start_pyoci(settings, &[]);
        publish_chain(
            setup,
            &publisher,
            &setup.registry.url_segment(),
            PRIVATE_PREFIX,
            length,
        );
    }

    // The mirror writes with ALICE's credentials, as the caller reads with them.
    let password = setup.work.path().join("mirror-password");
    fs::write(&password, format!("{}\n", ALICE.1)).expect("mirror password file");
    let password = password.display().to_string();
    let mirroring = |namespace: &str| {
        start_pyoci(
            settings,
            &[
                ("PYOCI_MIRROR_INDEX", public_url.as_str()),
                ("PYOCI_MIRROR_NAMESPACE", namespace),
                ("PYOCI_MIRROR_USERNAME", ALICE.0),
                ("PYOCI_MIRROR_PASSWORD_FILE", password.as_str()),
            ],
        )
    };

    setup.relay.set(Fault::Delay(RELAY_DELAY));
    // The public index as far away as the registry: PyPI is on the internet too, and a
    // comparison with a public index on loopback measures only the registry's distance.
    public.set_delay(RELAY_DELAY);
    let segment = setup.relay.url_segment();
    let measure = |source: &[&str], top: &str| {
        setup.relay.forget_seen();
        public.forget_requests();
        let tokens_before = setup.issuer.token_requests();
        let seconds = uv_install(settings, setup.work.path(), source, top);
        Run {
            seconds,
            registry: setup.relay.seen(),
            public: public.requests(),
            tokens: setup.issuer.token_requests() - tokens_before,
        }
    };
    let public_top = format!("{PUBLIC_PREFIX}00");
    let private_top = format!("{PRIVATE_PREFIX}00");

    // Alternating, so both see the same noise: straight from the public index, then a first
    // install through a fresh PyOCI into a fresh namespace.
    let (mut straight, mut first) = (Vec::new(), Vec::new());
    let mut last: Option<Pyoci> = None;
    for run in 1..=RUNS {
        straight.push(measure(&["--index-url", &public_url], &public_top));
        let pyoci = mirroring(&format!("pypi{run}"));
        let index = uv_index(&pyoci, &segment);
        first.push(measure(&["--index-url", &index], &public_top));
        last = Some(pyoci);
    }
    let pyoci = last.expect("at least one run");
    let index = uv_index(&pyoci, &segment);

    // Later installs through the last PyOCI (files now in its namespace), beside the private
    // chain through the same PyOCI; the private chain is installed once first, not counted,
    // so both are as warm (the mirror's first install warmed it for the public chain).
    measure(&["--index-url", &index], &private_top);
    let (mut later, mut private) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        later.push(measure(&["--index-url", &index], &public_top));
        private.push(measure(&["--index-url", &index], &private_top));
    }
    setup.relay.clear();
    setup.relay.forget_seen();

    let time = |runs: &[Run]| median(runs.iter().map(|run| run.seconds));
    let registry = |runs: &[Run]| median(runs.iter().map(|run| run.registry.len() as f64));
    let publics = |runs: &[Run]| median(runs.iter().map(|run| run.public.len() as f64));
    let (first_time, straight_time) = (time(&first), time(&straight));
    let (later_time, private_time) = (time(&later), time(&private));
    println!(
        "| {length}-package `uv pip install`, registry {} ms away | time | registry requests | \
         public index requests | time ratio |",
        RELAY_DELAY.as_millis()
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| first install via the mirror (files fetched and stored) | {first_time:.2} s | {:.0} | \
         {:.0} | {:.2}× straight |",
        registry(&first),
        publics(&first),
        first_time / straight_time
    );
    println!(
        "| straight from the public index (no PyOCI) | {straight_time:.2} s | – | {:.0} | 1.00 |",
        publics(&straight)
    );
    println!(
        "| later install via the mirror (files in the registry) | {later_time:.2} s | {:.0} | \
         {:.0} | {:.2}× private |",
        registry(&later),
        publics(&later),
        later_time / private_time
    );
    println!(
        "| private packages (same PyOCI) | {private_time:.2} s | {:.0} | – | 1.00 |",
        registry(&private)
    );
    println!();
    println!(
        "(medians of {RUNS} runs each, every install `uv pip install --no-cache` into a fresh \
         target; first installs each by a fresh PyOCI into a fresh mirror namespace (`pypi1`, \
         `pypi2`, `pypi3`), alternating with the straight installs; later and private installs \
         alternating through the last of those PyOCIs, after one private install not counted; \
         PyOCI with its default settings (PYOCI_CACHE_TTL 5 s, PYOCI_MIRROR_PAGE_TTL 300 s, \
         no cooldown); registry token-auth, the mirror writing with the caller's credentials; \
         the public index and the registry both {} ms away (every answer of the public \
         index delayed, the registry through the relay); requests are those the relay and \
         the public index received while uv ran)",
        RELAY_DELAY.as_millis()
    );
    println!();
    let verdict = |met: bool| if met { "met" } else { "**not met**" };
    let first_ratio = first_time / straight_time;
    let later_ratio = later_time / private_time;
    println!("Targets (issue 21):");
    println!();
    println!(
        "- first install within 1.3× of going straight to the public index: {first_time:.2} s \
         vs {straight_time:.2} s, {first_ratio:.2}× — {}",
        verdict(first_ratio <= 1.3)
    );
    println!(
        "- later installs within 1.1× of private packages: {later_time:.2} s vs \
         {private_time:.2} s, {later_ratio:.2}× — {}",
        verdict(later_ratio <= 1.1)
    );
    println!();

    println!("Each install, and what its requests were:");
    println!();
    println!(
        "| install | run | time | registry requests | of which | public index requests | of \
         which | token requests |"
    );
    println!("| --- | ---: | ---: | ---: | --- | ---: | --- | ---: |");
    let rows = [
        ("first via the mirror", &first),
        ("straight from the public index", &straight),
        ("later via the mirror", &later),
        ("private packages", &private),
    ];
    for (label, runs) in rows {
        for (n, run) in runs.iter().enumerate() {
            println!(
                "| {label} | {} | {:.2} s | {} | {} | {} | {} | {} |",
                n + 1,
                run.seconds,
                run.registry.len(),
                registry_kinds(&run.registry),
                run.public.len(),
                public_kinds(&run.public),
                run.tokens
            );
        }
    }
    println!();

    // One project's requests in order, to show where a mirrored project's extra round trips
    // go: the middle of the chain, in the last run of each kind.
    let traced = length / 2;
    let project = |prefix: &str| format!("/{prefix}{traced:02}/");
    println!(
        "Registry requests for one project (`{PUBLIC_PREFIX}{traced:02}` / \
         `{PRIVATE_PREFIX}{traced:02}`), in order, in the last run of each:"
    );
    println!();
    let last_of = |runs: &[Run], prefix: &str| {
        runs.last()
            .map(|run| trace(&run.registry, &project(prefix)))
            .unwrap_or_default()
    };
    for (label, requests) in [
        ("first via the mirror", last_of(&first, PUBLIC_PREFIX)),
        ("later via the mirror", last_of(&later, PUBLIC_PREFIX)),
        ("private packages", last_of(&private, PRIVATE_PREFIX)),
    ] {
        println!("- {label} ({}): {}", requests.len(), requests.join(", "));
    }
    let others: Vec<String> = first
        .iter()
        .chain(&later)
        .flat_map(|run| &run.registry)
        .filter(|request| request.path.matches('/').count() <= 2)
        .map(|request| format!("{} {}", request.method, request.path))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    println!(
        "- requests outside any repository (first and later installs): {}",
        others.join(", ")
    );
    println!();
}

/// `requests` whose path contains `project`, as `METHOD /v2/ns/name/kind/ref`, digests and
/// upload ids shortened.
fn trace(requests: &[SeenRequest], project: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|request| request.path.contains(project))
        .map(|request| {
            let path: Vec<String> = request
                .path
                .split('/')
                .map(|part| {
                    if let Some(hex) = part.strip_prefix("sha256:") {
                        format!("sha256:{}…", &hex[..hex.len().min(8)])
                    } else if part.len() > 30 {
                        format!("{}…", &part[..8])
                    } else {
                        part.to_owned()
                    }
                })
                .collect();
            format!("`{} {}`", request.method, path.join("/"))
        })
        .collect()
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Registry requests by method, namespace and kind: `GET pypi1 blob 20, PUT pypi1 blob
/// upload 20, ...`.
fn registry_kinds(requests: &[SeenRequest]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for request in requests {
        let path = request.path.trim_end_matches('/');
        let namespace = path
            .strip_prefix("/v2/")
            .and_then(|rest| rest.split('/').next())
            .filter(|_| path.matches('/').count() > 2)
            .unwrap_or("");
        let kind = if path.ends_with("/tags/list") {
            "tag list"
        } else if path.ends_with("/manifests/0-pyoci-listing") {
            "listing document"
        } else if path.contains("/manifests/sha256:") {
            "manifest by digest"
        } else if path.contains("/manifests/") {
            "manifest by tag"
        } else if path.contains("/blobs/uploads") {
            "blob upload"
        } else if path.contains("/blobs/") {
            "blob"
        } else if path == "/v2" {
            "/v2/"
        } else {
            "other"
        };
        let key = if namespace.is_empty() {
            format!("{} {kind}", request.method)
        } else {
            format!("{} {namespace} {kind}", request.method)
        };
        *counts.entry(key).or_default() += 1;
    }
    joined(counts)
}

/// Public index requests by kind: project pages, wheels, `.metadata` files.
fn public_kinds(requests: &[StaticRequest]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for request in requests {
        let kind = if request.path.starts_with("/simple/") {
            "page"
        } else if request.path.ends_with(".metadata") {
            "metadata"
        } else if request.path.starts_with("/files/") {
            "file"
        } else {
            "other"
        };
        *counts.entry(kind.to_owned()).or_default() += 1;
    }
    joined(counts)
}

fn joined(counts: BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "–".into();
    }
    counts
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
