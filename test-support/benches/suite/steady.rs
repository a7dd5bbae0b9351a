//! Section 7 of the report: steady use (issue 20). CI does not install in bursts: the same
//! chain is installed every `BENCH_STEADY_INTERVAL_SECS` (15 s by default, past the default
//! 5 s `PYOCI_CACHE_TTL`) through one long-running PyOCI, with the registry 25 ms away,
//! without and with a registry event source (`PYOCI_EVENTS_PORT`), beside the warm figure
//! (a second install right after a first) and uv's own floor (the same wheels from a local
//! directory).
//!
//! Each PyOCI talks to the registry through a relay of its own, so each relay counts only
//! its PyOCI's requests, and the four measurements take turns within every interval (each
//! in a quarter of its own) so that all see the same noise and no two run at once.

use std::{collections::BTreeMap, thread::sleep, time::Instant};

use pyoci_test_support::{free_port, Fault, FaultProxy, Pyoci, SeenRequest};

use crate::{
    install::{publish_chain, uv_index, uv_install},
    start_pyoci, Settings, Setup, RELAY_DELAY,
};

const PREFIX: &str = "steady";
/// At least 16 bytes, as PYOCI_EVENT_SECRET requires; no event is sent in this bench.
const EVENT_SECRET: &str = "bench-steady-event-secret";

/// One long-running PyOCI behind a relay of its own, and what its installs measured.
struct Subject {
    /// Kept (and so running) as long as the subject.
    _pyoci: Pyoci,
    relay: FaultProxy,
    index: String,
    installs: Vec<Install>,
}

/// One `uv pip install` through a [`Subject`].
struct Install {
    started: Instant,
    seconds: f64,
    /// The registry requests made while uv ran, in order.
    during: Vec<SeenRequest>,
    /// Requests from its start until the next install through the same PyOCI started (or
    /// the interval ran out), so anything PyOCI does in the background is counted too.
    window: usize,
    /// Requests to the token issuer while uv ran (the issuer is not behind the relay).
    tokens: usize,
}

impl Subject {
    fn new(pyoci: Pyoci, relay: FaultProxy) -> Subject {
        let index = uv_index(&pyoci, &relay.url_segment());
        relay.set(Fault::Delay(RELAY_DELAY));
        Subject {
            _pyoci: pyoci,
            relay,
            index,
            installs: Vec::new(),
        }
    }

    /// Closes the previous install's request window, then installs the chain.
    fn install(&mut self, settings: &Settings, setup: &Setup) {
        self.close_window();
        self.relay.forget_seen();
        let tokens_before = setup.issuer.token_requests();
        let started = Instant::now();
        let seconds = uv_install(
            settings,
            setup.work.path(),
            &["--index-url", &self.index],
            &format!("{PREFIX}00"),
        );
        let during = self.relay.seen();
        self.installs.push(Install {
            started,
            seconds,
            window: during.len(),
            during,
            tokens: setup.issuer.token_requests() - tokens_before,
        });
    }

    fn close_window(&mut self) {
        if let Some(last) = self.installs.last_mut() {
            last.window = self.relay.seen().len();
        }
    }
}

pub(crate) fn steady(settings: &Settings, setup: &Setup) {
    let length = settings.chain;
    let installs = settings.steady_installs;
    let interval = settings.steady_interval;
    println!(
        "## 7. Steady use: a {length}-package `uv pip install` every {} s through one PyOCI, \
         registry {} ms away, with and without registry events",
        interval.as_secs_f64(),
        RELAY_DELAY.as_millis()
    );
    println!();
    let files = {
        let publisher = start_pyoci(settings, &[]);
        publish_chain(
            setup,
            &publisher,
            &setup.registry.url_segment(),
            PREFIX,
            length,
        )
    };
    let files_dir = files.display().to_string();

    // Default settings (PYOCI_CACHE_TTL 5 s) in all three.
    let mut plain = Subject::new(
        start_pyoci(settings, &[]),
        FaultProxy::start(&setup.registry),
    );
    let evented_relay = FaultProxy::start(&setup.registry);
    let events_port = free_port().to_string();
    let event_registry = evented_relay.url();
    let mut evented = Subject::new(
        start_pyoci(
            settings,
            &[
                ("PYOCI_EVENTS_PORT", events_port.as_str()),
                ("PYOCI_EVENT_REGISTRIES", event_registry.as_str()),
                ("PYOCI_EVENT_SECRET", EVENT_SECRET),
                ("PYOCI_EVENT_CACHE_TTL", "600"),
            ],
        ),
        evented_relay,
    );
    // Installs twice in a row each turn: the second is the warm figure.
    let mut warm = Subject::new(
        start_pyoci(settings, &[]),
        FaultProxy::start(&setup.registry),
    );
    let mut floor = Vec::new();

    // Turn 0 is each PyOCI's cold install (not counted); turns 1..=installs are the steady
    // ones, each started `interval` after the previous one through the same PyOCI.
    let begin = Instant::now();
    let at = |turn: u32, quarter: u32| begin + interval * turn + interval / 4 * quarter;
    for turn in 0..=installs {
        sleep_until(at(turn, 0));
        plain.install(settings, setup);
        sleep_until(at(turn, 1));
        warm.install(settings, setup);
        warm.install(settings, setup);
        sleep_until(at(turn, 2));
        evented.install(settings, setup);
        sleep_until(at(turn, 3));
        floor.push(uv_install(
            settings,
            setup.work.path(),
            &["--no-index", "--find-links", &files_dir],
            &format!("{PREFIX}00"),
        ));
    }
    // The last installs' windows run to where the next turn would have started.
    sleep_until(at(installs + 1, 0));
    plain.close_window();
    sleep_until(at(installs + 1, 1));
    warm.close_window();
    sleep_until(at(installs + 1, 2));
    evented.close_window();

    let warm_installs: Vec<&Install> = warm.installs.iter().skip(1).step_by(2).collect();
    let rows = [
        ("warm (second install right after a first)", warm_installs),
        ("steady, without events", counted(&plain)),
        ("steady, with events", counted(&evented)),
    ];
    let warm_time = median(rows[0].1.iter().map(|i| i.seconds));
    println!(
        "| {length}-package install, registry {} ms away | time per install | registry \
         requests per install | per package | time ÷ warm |",
        RELAY_DELAY.as_millis()
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, list) in &rows {
        let time = median(list.iter().map(|i| i.seconds));
        let requests = median(list.iter().map(|i| i.window as f64));
        println!(
            "| {name} | {time:.2} s | {requests:.0} | {:.2} | {:.2} |",
            requests / length as f64,
            time / warm_time
        );
    }
    let floor_time = median(floor.iter().copied());
    println!(
        "| uv's floor (`--no-index --find-links`, no server) | {floor_time:.2} s | – | – | {:.2} |",
        floor_time / warm_time
    );
    println!();
    println!(
        "(medians: steady rows of {installs} installs each started {} s after the previous one \
         through the same long-running PyOCI, after a cold install not counted; warm and floor \
         of {} each, taken in the same intervals; every install with a cold uv cache \
         (`--no-cache`); PyOCI with its default settings, PYOCI_CACHE_TTL 5 s, and with \
         events PYOCI_EVENT_CACHE_TTL 600 s; registry token-auth, tokens valid 300 s; \
         requests are those a relay in front of the registry received from the install's \
         start to the next install's start)",
        interval.as_secs_f64(),
        installs + 1
    );
    println!();
    let events_time = median(rows[2].1.iter().map(|i| i.seconds));
    let events_requests = median(rows[2].1.iter().map(|i| i.window as f64));
    let ratio = events_time / warm_time;
    let per_package = events_requests / length as f64;
    let verdict = |met: bool| if met { "met" } else { "**not met**" };
    println!("Targets (issue 20), with events:");
    println!();
    println!(
        "- within 1.5× of the warm figure: {events_time:.2} s vs {warm_time:.2} s, {ratio:.2}× \
         — {}",
        verdict(ratio <= 1.5)
    );
    println!(
        "- at most 1 registry request per package: {events_requests:.0} requests for \
         {length} packages, {per_package:.2} per package — {}",
        verdict(per_package <= 1.0)
    );
    println!();

    println!("Each install, and what its registry requests were:");
    println!();
    println!(
        "| PyOCI | install | started after the previous | time | registry requests (while \
         uv ran / to the next install) | of which | token requests |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
    let subjects = [
        ("without events", &plain),
        ("warm pairs", &warm),
        ("with events", &evented),
    ];
    for (name, subject) in subjects {
        for (n, install) in subject.installs.iter().enumerate() {
            let after = match n.checked_sub(1).map(|p| &subject.installs[p]) {
                Some(previous) => format!(
                    "{:.2} s",
                    install
                        .started
                        .duration_since(previous.started)
                        .as_secs_f64()
                ),
                None => "–".into(),
            };
            let role = match (n, name) {
                (0, _) => " (cold)",
                (_, "warm pairs") if n % 2 == 1 => " (warm)",
                (_, "warm pairs") => " (first of a pair)",
                _ => "",
            };
            println!(
                "| {name} | {n}{role} | {after} | {:.2} s | {} / {} | {} | {} |",
                install.seconds,
                install.during.len(),
                install.window,
                kinds(&install.during),
                install.tokens
            );
        }
    }
    println!();
}

fn counted(subject: &Subject) -> Vec<&Install> {
    subject.installs[1..].iter().collect()
}

fn sleep_until(when: Instant) {
    if let Some(left) = when.checked_duration_since(Instant::now()) {
        sleep(left);
    }
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

/// Registry requests by method and kind: `GET blob 20, GET manifest by tag 20, GET tag list 20`.
fn kinds(requests: &[SeenRequest]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for request in requests {
        let path = request.path.trim_end_matches('/');
        let kind = if path.ends_with("/tags/list") {
            "tag list"
        } else if path.ends_with("/manifests/0-pyoci-listing") {
            "listing document"
        } else if path.contains("/manifests/sha256:") {
            "manifest by digest"
        } else if path.contains("/manifests/") {
            "manifest by tag"
        } else if path.contains("/blobs/") {
            "blob"
        } else if path == "/v2" {
            "/v2/"
        } else {
            "other"
        };
        *counts
            .entry(format!("{} {kind}", request.method))
            .or_default() += 1;
    }
    if counts.is_empty() {
        return "–".into();
    }
    counts
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
