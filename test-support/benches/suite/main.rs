//! PyOCI's benchmark: every figure beside its comparison, measured in the same run (the
//! machine is shared and noisy, so only ratios within one run mean much).
//!
//! Run it through `scripts/bench`, which builds PyOCI in release mode, installs wrk and a
//! pypiserver virtualenv, and passes their paths here (it runs
//! `cargo bench -p pyoci-test-support --bench suite`):
//!
//! - `PYOCI_BIN`: the pyoci binary; `BENCH_WRK`: wrk; `BENCH_PYPISERVER`: pypi-server;
//!   `BENCH_UV`: uv.
//! - `BENCH_GIB` (default 1): size of the download and upload files, in GiB (fractions
//!   allowed: 0.1 for a quick run); `BENCH_SECONDS` (default 10): each wrk run's duration;
//!   `BENCH_VERSIONS` (default `100,1000`): project sizes listed; `BENCH_CHAIN` (default
//!   20): length of the `uv pip install` dependency chain; `BENCH_STEADY_INSTALLS`
//!   (default 4) and `BENCH_STEADY_INTERVAL_SECS` (default 15): how many installs of the
//!   chain the steady-use section times, and how far apart they start; `BENCH_ONLY`: a
//!   comma-separated subset of
//!   `listing,delayed,download,upload,install,hostile,steady,mixed,scale,mirror`.
//! - Mixed load and scale (`BENCH_ONLY=mixed`, `scale`): `BENCH_MIXED_CLIENTS` (default
//!   200) and `BENCH_MIXED_SECONDS` (60); `BENCH_SCALE_PROJECTS` (1000),
//!   `BENCH_SCALE_VERSIONS` (20), `BENCH_SCALE_LOOP_SECS` (30) and `BENCH_SCALE_CACHES`
//!   (`64MiB,16MiB`).
//! - The pull-through mirror (`BENCH_ONLY=mirror`, issue 21): a `BENCH_CHAIN`-package public
//!   chain installed through `PYOCI_MIRROR_INDEX`, first and later installs, beside the
//!   public index itself and private packages.
//!
//! The registry is the CNCF distribution registry with token auth, as in the tests. A relay
//! ([`FaultProxy`]) stands in front of it: it counts the requests PyOCI makes, and delays
//! each by 25 ms for the "registry 25 ms away" figures.

use std::{env, fs, path::PathBuf, process::Command, time::Duration};

use pyoci_test_support::{
    basic_auth, FaultProxy, HttpClient, Pyoci, Registry, RegistryAuth, TokenIssuer, ALICE,
};

mod hostile;
mod install;
mod listings;
mod mirror;
mod mixed;
mod scale;
mod steady;
mod tools;
mod transfers;

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
    steady_installs: u32,
    steady_interval: Duration,
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
            steady_installs: var("BENCH_STEADY_INSTALLS", "4")
                .parse()
                .expect("BENCH_STEADY_INSTALLS: a number"),
            steady_interval: Duration::from_secs_f64(
                var("BENCH_STEADY_INTERVAL_SECS", "15")
                    .parse()
                    .expect("BENCH_STEADY_INTERVAL_SECS: a number of seconds"),
            ),
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
    // `cargo test --all-targets` runs benches once as tests: nothing to measure there.
    if !env::args().any(|arg| arg == "--bench") {
        return;
    }
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
        let projects = listings::seed_listings(&settings, &setup);
        if settings.runs("listing") {
            listings::listing(&settings, &setup, &projects);
        }
        if settings.runs("delayed") {
            listings::delayed(&settings, &setup, &projects);
        }
    }
    if settings.runs("download") || settings.runs("upload") {
        transfers::transfers(&settings, &setup);
    }
    if settings.runs("install") {
        install::install_chain(&settings, &setup);
    }
    if settings.runs("hostile") {
        hostile::hostile(&settings, &setup);
    }
    if settings.runs("steady") {
        steady::steady(&settings, &setup);
    }
    if settings.runs("mixed") {
        mixed::mixed(&settings, &setup);
    }
    if settings.runs("scale") {
        scale::scale(&settings, &setup);
    }
    if settings.runs("mirror") {
        mirror::mirror(&settings, &setup);
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
