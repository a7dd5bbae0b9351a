//! The cross-replica write window, raced on purpose with the fault proxy.
//!
//! Two PyOCI replicas share one real registry: replica A reaches it through the fault
//! proxy, replica B directly. The proxy holds one of A's index requests back while B writes
//! the same version's index, which reproduces, deterministically, the interleavings that
//! happen by chance in `e2e_concurrency.rs`. Each test asserts that the race really
//! happened in its run (a re-application logged, a 412 answered, a read redone), so none
//! can pass vacuously.
//!
//! The distribution registry ignores `If-Match`/`If-None-Match`; where a test needs a
//! registry that honours them (opencontainers/distribution-spec#251), the proxy evaluates
//! them in its place, as no registry we can run here does.

use std::{
    path::Path,
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use pyoci_test_support::{
    basic_auth, wait_for, wheel_bytes, Fault, FaultProxy, FaultRule, HttpClient, Multipart, Pyoci,
    Registry, RegistryAuth, TokenIssuer, ALICE,
};

const NAMESPACE: &str = "window";
const PROJECT: &str = "windowpkg";

fn wheel_name(version: &str, file: usize) -> String {
    format!("{PROJECT}-{version}-py3-none-plat{file}.whl")
}

fn wheel_form(version: &str, file: usize) -> Multipart {
    let filename = wheel_name(version, file);
    let content = wheel_bytes(
        PROJECT,
        version,
        format!("wheel {file} of {version}: distinct bytes")
            .repeat(64)
            .as_bytes(),
    );
    pyoci_test_support::content_form(PROJECT, version, &filename, &content)
}

/// Replica A through the fault proxy, replica B straight to the registry.
struct Race {
    registry: Registry,
    proxy: FaultProxy,
    via_proxy: Pyoci,
    direct: Pyoci,
}

impl Race {
    fn start(settle_ms: u64) -> Arc<Race> {
        let binary = Path::new(env!("CARGO_BIN_EXE_pyoci"));
        let settle = settle_ms.to_string();
        let env = [("PYOCI_WRITE_SETTLE_MS", settle.as_str())];
        let registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        Arc::new(Race {
            via_proxy: Pyoci::start(binary, &env),
            direct: Pyoci::start(binary, &env),
            registry,
            proxy,
        })
    }

    fn url_a(&self) -> String {
        format!(
            "{}/{}/{NAMESPACE}/",
            self.via_proxy.base_url(),
            self.proxy.url_segment()
        )
    }

    fn url_b(&self) -> String {
        self.direct.index_url(&self.registry, NAMESPACE)
    }

    /// Uploads file `file` of `version` through replica A in the background.
    fn upload_a(self: &Arc<Self>, version: &str, file: usize) -> thread::JoinHandle<(u16, String)> {
        let race = self.clone();
        let version = version.to_owned();
        thread::spawn(move || {
            let response =
                HttpClient::new().post_multipart(&race.url_a(), wheel_form(&version, file), &[]);
            (response.status, response.text())
        })
    }

    fn upload_b(&self, version: &str, file: usize) -> (u16, String) {
        let response =
            HttpClient::new().post_multipart(&self.url_b(), wheel_form(version, file), &[]);
        (response.status, response.text())
    }

    /// The files of `version` the project page lists.
    fn listed(&self, version: &str) -> Vec<String> {
        let page = HttpClient::new().get(&format!("{}{PROJECT}/", self.url_b()));
        assert_eq!(page.status, 200, "{}", page.text());
        crate::support::links(&page.text())
            .into_iter()
            .map(|link| link.filename)
            .filter(|name| name.contains(&format!("-{version}-")))
            .collect()
    }

    /// Waits until the proxy has received `count` requests with `method` and `path_part`.
    fn wait_for_requests(&self, method: &str, path_part: &str, count: usize) {
        wait_for(
            Duration::from_millis(5),
            Duration::from_secs(20),
            || self.proxy.count(method, path_part) >= count,
            || {
                format!(
                    "the proxy never saw {count} {method} {path_part}: {:?}\n--- replica A ---\n{}",
                    self.proxy.seen(),
                    self.via_proxy.log()
                )
            },
        );
    }

    fn logs(&self) -> String {
        format!(
            "--- replica A ---\n{}\n--- replica B ---\n{}",
            self.via_proxy.log(),
            self.direct.log()
        )
    }
}

const REAPPLIED: &str = "a concurrent write undid this change";

/// A's index PUT is held back by `delay` after A read the index; meanwhile B reads the
/// same (older) index, writes its file and waits out its settle delay. Returns the
/// statuses of A's and B's uploads.
fn race_a_delayed_index_put(race: &Arc<Race>, version: &str, delay: Duration) -> (u16, u16) {
    let tag_path = format!("/manifests/{version}");
    race.proxy.set(
        FaultRule::new(Fault::Delay(delay))
            .method("PUT")
            .path_contains(&tag_path)
            .times(1),
    );
    let a = race.upload_a(version, 0);
    // A has read the index and sent its write, which the proxy now holds back.
    race.wait_for_requests("PUT", &tag_path, 1);
    let (b_status, b_body) = race.upload_b(version, 1);
    let (a_status, a_body) = a.join().expect("upload thread panicked");
    assert_eq!(b_status, 200, "B: {b_body}\n{}", race.logs());
    assert_eq!(a_status, 200, "A: {a_body}\n{}", race.logs());
    let delayed = race
        .proxy
        .seen()
        .into_iter()
        .filter(|seen| seen.method == "PUT" && seen.path.ends_with(&tag_path))
        .find(|seen| seen.fault == Fault::Delay(delay));
    assert!(
        delayed.is_some(),
        "A's index PUT was not delayed: {:?}",
        race.proxy.seen()
    );
    (a_status, b_status)
}

#[test]
fn an_index_write_delayed_less_than_the_settle_delay_loses_nothing() {
    let race = Race::start(2000);
    race_a_delayed_index_put(&race, "1.0.0", Duration::from_millis(800));
    let listed = race.listed("1.0.0");
    assert_eq!(
        listed.len(),
        2,
        "a file was lost: {listed:?}\n{}",
        race.logs()
    );
    // The race happened: A's late write dropped B's file, and B's re-check put it back.
    assert!(
        race.direct.log().contains(REAPPLIED),
        "B never had to re-apply its file, so the race did not happen\n{}",
        race.logs()
    );
}

#[test]
fn an_index_write_delayed_past_the_settle_delay_loses_a_file_where_conditions_are_ignored() {
    // The limit docs/concurrency.md states: a write that lands after the other writer's
    // settle check, at a registry that ignores conditional requests, drops that writer's
    // file although both clients got 200.
    let race = Race::start(1000);
    race_a_delayed_index_put(&race, "2.0.0", Duration::from_millis(2500));
    let listed = race.listed("2.0.0");
    assert_eq!(
        listed,
        [wheel_name("2.0.0", 0)],
        "expected B's file to be lost past the bound\n{}",
        race.logs()
    );
    let conditional = race
        .proxy
        .seen()
        .into_iter()
        .filter(|seen| seen.method == "PUT" && seen.path.ends_with("/manifests/2.0.0"))
        .all(|seen| seen.if_none_match.as_deref() == Some("*") || seen.if_match.is_some());
    assert!(
        conditional,
        "every index PUT is conditional: {:?}",
        race.proxy.seen()
    );
}

#[test]
fn an_index_write_delayed_past_the_settle_delay_loses_nothing_where_conditions_are_honoured() {
    let race = Race::start(1000);
    race.proxy.honour_conditionals(true);
    race_a_delayed_index_put(&race, "3.0.0", Duration::from_millis(2500));
    let listed = race.listed("3.0.0");
    assert_eq!(
        listed.len(),
        2,
        "a file was lost: {listed:?}\n{}",
        race.logs()
    );
    // The race happened, and the registry's 412 is what saved B's file.
    assert!(
        race.proxy.preconditions_failed() >= 1,
        "A's late write was never refused: {:?}",
        race.proxy.seen()
    );
    assert!(
        race.via_proxy.log().contains("(412); reading it again"),
        "{}",
        race.logs()
    );
}

#[test]
fn an_index_read_answered_late_is_read_again_before_writing() {
    // The registry serves A's read, but the answer reaches A only after B has written and
    // confirmed its file. Writing on that read would drop B's file after B's check passed;
    // A notices the read is older than half the settle delay and reads again.
    let race = Race::start(1000);
    let version = "4.0.0";
    let tag_path = format!("/manifests/{version}");
    race.proxy.set(
        FaultRule::new(Fault::DelayAnswer(Duration::from_millis(2500)))
            .method("GET")
            .path_contains(&tag_path)
            // The upload handler's check for an existing file reads the index first.
            .skip(1)
            .times(1),
    );
    let a = race.upload_a(version, 0);
    race.wait_for_requests("GET", &tag_path, 2);
    let (b_status, b_body) = race.upload_b(version, 1);
    assert_eq!(b_status, 200, "B: {b_body}");
    let (a_status, a_body) = a.join().expect("upload thread panicked");
    assert_eq!(a_status, 200, "A: {a_body}\n{}", race.logs());
    let listed = race.listed(version);
    assert_eq!(
        listed.len(),
        2,
        "a file was lost: {listed:?}\n{}",
        race.logs()
    );
    assert!(
        race.via_proxy
            .log()
            .contains("older than the write window allows"),
        "A wrote on its late read\n{}",
        race.logs()
    );
    assert!(
        race.proxy.count("GET", &tag_path) >= 3,
        "{:?}",
        race.proxy.seen()
    );
}

#[test]
fn a_412_is_answered_by_reading_again_at_once() {
    // A long settle delay: a re-read that waited for it would take over 3 s.
    let race = Race::start(3000);
    let version = "5.0.0";
    let tag_path = format!("/manifests/{version}");
    let (status, body) = race.upload_a(version, 0).join().expect("upload thread");
    assert_eq!(status, 200, "{body}");
    race.proxy.set(
        FaultRule::new(Fault::Status(412))
            .method("PUT")
            .path_contains(&tag_path)
            .times(1),
    );
    race.proxy.forget_seen();
    let started = Instant::now();
    let (status, body) = race.upload_a(version, 1).join().expect("upload thread");
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}\n{}", race.logs());
    assert_eq!(race.listed(version).len(), 2, "{}", race.logs());
    let puts: Vec<_> = race
        .proxy
        .seen()
        .into_iter()
        .filter(|seen| seen.method == "PUT" && seen.path.ends_with(&tag_path))
        .collect();
    assert_eq!(puts.len(), 2, "one refused, one written: {puts:?}");
    assert_eq!(puts[0].fault, Fault::Status(412));
    // The tag existed, so both writes were conditioned on the digest read; the real
    // registry accepted the second one with its If-Match header.
    for put in &puts {
        let etag = put.if_match.as_deref().unwrap_or_default();
        assert!(
            etag.starts_with("\"sha256:") && etag.ends_with('"'),
            "{puts:?}"
        );
    }
    assert!(
        took < Duration::from_millis(2 * 3000),
        "the re-read waited for a settle round: {took:?}"
    );
    assert!(race.via_proxy.log().contains("(412); reading it again"));
}

#[test]
fn the_distribution_registry_accepts_conditional_index_writes() {
    // The first write of a tag carries `If-None-Match: *`, later ones `If-Match`: the
    // CNCF registry must accept both (it ignores them).
    let race = Race::start(200);
    for file in 0..2 {
        let (status, body) = race.upload_a("6.0.0", file).join().expect("upload thread");
        assert_eq!(status, 200, "{body}\n{}", race.registry.log());
    }
    let puts: Vec<_> = race
        .proxy
        .seen()
        .into_iter()
        .filter(|seen| seen.method == "PUT" && seen.path.ends_with("/manifests/6.0.0"))
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert_eq!(puts[0].if_none_match.as_deref(), Some("*"), "{puts:?}");
    assert!(puts[1].if_match.is_some(), "{puts:?}");
    assert_eq!(race.listed("6.0.0").len(), 2);
}

#[test]
fn the_write_token_is_fetched_with_the_read_not_between_read_and_write() {
    // A yank through a PyOCI with no cached token: its index read asks the token service
    // for the write's scope, so its index PUT goes out once, authorized, and never waits
    // for a 401 and a token exchange between the read and the write.
    let registry = Registry::start(RegistryAuth::Token(TokenIssuer::start()));
    let proxy = FaultProxy::start(&registry);
    let binary = Path::new(env!("CARGO_BIN_EXE_pyoci"));
    let alice = basic_auth(ALICE.0, ALICE.1);
    let url = |pyoci: &Pyoci| format!("{}/{}/{NAMESPACE}/", pyoci.base_url(), proxy.url_segment());
    let uploader = Pyoci::start(binary, &[("PYOCI_WRITE_SETTLE_MS", "100")]);
    let uploaded = HttpClient::new().post_multipart(
        &url(&uploader),
        wheel_form("7.0.0", 0),
        &[("Authorization", alice.as_str())],
    );
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());

    let fresh = Pyoci::start(binary, &[("PYOCI_WRITE_SETTLE_MS", "100")]);
    proxy.forget_seen();
    let yanked = HttpClient::new().request(
        "POST",
        &format!("{}{PROJECT}/+yank/7.0.0", url(&fresh)),
        &[("Authorization", alice.as_str())],
        Some(br#"{"reason": "broken"}"#.to_vec()),
    );
    assert_eq!(yanked.status, 200, "{}\n{}", yanked.text(), fresh.log());
    let index_puts = proxy.count("PUT", "/manifests/7.0.0");
    assert_eq!(
        index_puts,
        1,
        "the index write was challenged and sent again: {:?}",
        proxy.seen()
    );
    assert!(
        proxy.count("GET", "/manifests/7.0.0") >= 2,
        "the read was challenged (no cached token), so the token came with it: {:?}",
        proxy.seen()
    );
}

#[test]
fn a_registry_slower_than_the_window_still_gets_writes_with_a_warning() {
    // Every index read of A is answered 300 ms late, more than half the 400 ms settle delay:
    // reading again cannot help, so after three reads A writes on the last one and says
    // to raise the delay, rather than refuse every upload.
    let race = Race::start(400);
    let version = "8.0.0";
    let tag_path = format!("/manifests/{version}");
    race.proxy.set(
        FaultRule::new(Fault::DelayAnswer(Duration::from_millis(300)))
            .method("GET")
            .path_contains(&tag_path),
    );
    let (status, body) = race.upload_a(version, 0).join().expect("upload thread");
    assert_eq!(status, 200, "{body}\n{}", race.logs());
    assert_eq!(race.listed(version), [wheel_name(version, 0)]);
    let log = race.via_proxy.log();
    assert_eq!(
        log.matches("older than the write window allows").count(),
        2,
        "{log}"
    );
    assert!(log.contains("Raise PYOCI_WRITE_SETTLE_MS"), "{log}");
}
