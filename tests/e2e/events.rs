//! Registry events keep the listing caches fresh (`PYOCI_EVENTS_PORT`), against the real
//! CNCF distribution registry with its notifications sent to PyOCI's event listener.
//!
//! Every PyOCI here keeps pages and tags for minutes (`PYOCI_CACHE_TTL=300` where the
//! caller's access allows it), so a change shows within the test only through an event;
//! a PyOCI without events beside it shows that the cache really held the old page.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use hmac::{Hmac, Mac};
use pyoci_test_support::{
    basic_auth, content_form, free_port, wait_for, wheel_bytes, without_proxy_env, HttpClient,
    HttpResponse, Notify, Pyoci, Registry, RegistryAuth, Rule, TokenIssuer,
};
use sha2::Sha256;

const SECRET: &str = "events-test-secret-4Rk9wZ";
const NAMESPACE: &str = "events";
const JSON: &str = "application/vnd.pypi.simple.v1+json";
/// How long a change announced by the registry may take to show. The registry sends its
/// notifications at once; this leaves room for a loaded machine.
const EVENT_DELAY: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(20);

fn start_pyoci(env: &[(&str, &str)]) -> Pyoci {
    let mut all = vec![("PYOCI_WRITE_SETTLE_MS", "0")];
    all.extend_from_slice(env);
    Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &all)
}

/// A PyOCI taking `registry`'s events on `events_port`, keeping pages for minutes.
fn evented_pyoci(registry: &Registry, events_port: u16, extra: &[(&str, &str)]) -> Pyoci {
    let port = events_port.to_string();
    let url = registry.url();
    let mut env = vec![
        ("PYOCI_CACHE_TTL", "300"),
        ("PYOCI_EVENT_CACHE_TTL", "600"),
        ("PYOCI_EVENTS_PORT", port.as_str()),
        ("PYOCI_EVENT_REGISTRIES", url.as_str()),
        ("PYOCI_EVENT_SECRET", SECRET),
    ];
    env.extend_from_slice(extra);
    start_pyoci(&env)
}

fn upload(
    writer: &Pyoci,
    registry: &Registry,
    project: &str,
    version: &str,
    auth: &[(&str, &str)],
) {
    let filename = format!("{project}-{version}-py3-none-any.whl");
    let wheel = wheel_bytes(project, version, version.as_bytes());
    let response = HttpClient::new().post_multipart(
        &writer.index_url(registry, NAMESPACE),
        content_form(project, version, &filename, &wheel),
        auth,
    );
    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        writer.log()
    );
}

fn page(pyoci: &Pyoci, registry: &Registry, project: &str, auth: &[(&str, &str)]) -> HttpResponse {
    let url = format!("{}{project}/", pyoci.index_url(registry, NAMESPACE));
    let mut headers = vec![("Accept", JSON)];
    headers.extend_from_slice(auth);
    HttpClient::new().get_with(&url, &headers)
}

/// The versions on `project`'s page through `pyoci`, which must answer 200.
fn versions(pyoci: &Pyoci, registry: &Registry, project: &str) -> Vec<String> {
    let response = page(pyoci, registry, project, &[]);
    assert_eq!(response.status, 200, "{}\n{}", response.text(), pyoci.log());
    let page: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    page["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| version.as_str().unwrap().to_owned())
        .collect()
}

/// Waits until `project`'s versions through `pyoci` are `expected`; how long it took.
fn shows(pyoci: &Pyoci, registry: &Registry, project: &str, expected: &[&str]) -> Duration {
    let started = Instant::now();
    wait_for(
        POLL,
        EVENT_DELAY,
        || versions(pyoci, registry, project) == expected,
        || {
            format!(
                "{project} did not show {expected:?} within {EVENT_DELAY:?}: {:?}\n--- pyoci ---\n{}\n--- registry ---\n{}",
                versions(pyoci, registry, project),
                pyoci.log(),
                registry.log()
            )
        },
    );
    started.elapsed()
}

/// The sum of `pyoci_registry_requests_total` on `pyoci`'s metrics listener.
fn registry_requests(metrics_port: u16) -> f64 {
    let response = HttpClient::new().get(&format!("http://127.0.0.1:{metrics_port}/metrics"));
    assert_eq!(response.status, 200);
    response
        .text()
        .lines()
        .filter(|line| line.starts_with("pyoci_registry_requests_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn pushes_and_deletes_made_straight_to_the_registry_show_at_once_despite_long_ttls() {
    let events_port = free_port();
    let registry = Registry::start_notifying(
        RegistryAuth::None,
        Notify {
            url: format!("http://127.0.0.1:{events_port}/events/distribution/{{registry}}"),
            authorization: format!("Bearer {SECRET}"),
        },
    );
    let metrics_port = free_port().to_string();
    let evented = evented_pyoci(
        &registry,
        events_port,
        &[("PYOCI_METRICS_PORT", &metrics_port)],
    );
    let quiet = start_pyoci(&[("PYOCI_CACHE_TTL", "300")]);
    // Another writer: its writes reach the other processes only through the registry.
    let writer = start_pyoci(&[("PYOCI_CACHE_TTL", "0")]);

    upload(&writer, &registry, "demo", "1.0", &[]);
    upload(&writer, &registry, "other", "1.0", &[]);
    for pyoci in [&evented, &quiet] {
        assert_eq!(versions(pyoci, &registry, "demo"), ["1.0"]);
    }
    assert_eq!(versions(&evented, &registry, "other"), ["1.0"]);

    upload(&writer, &registry, "demo", "1.1", &[]);
    let took = shows(&evented, &registry, "demo", &["1.1", "1.0"]);
    eprintln!("a push showed after {took:?}");
    assert_eq!(
        versions(&quiet, &registry, "demo"),
        ["1.0"],
        "without events the page stays cached: the event made the difference"
    );

    // A delete with skopeo, straight to the registry.
    let mut skopeo = Command::new("skopeo");
    without_proxy_env(&mut skopeo);
    let output = skopeo
        .args(["delete", "--tls-verify=false"])
        .arg(format!(
            "docker://{}/{NAMESPACE}/demo:1.0",
            registry.host_port()
        ))
        .output()
        .expect("run skopeo");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let took = shows(&evented, &registry, "demo", &["1.1"]);
    eprintln!("a delete showed after {took:?}");
    assert_eq!(versions(&quiet, &registry, "demo"), ["1.0"]);

    // The events named `demo` only: `other` is still served from the cache.
    let before = registry_requests(metrics_port.parse().unwrap());
    assert_eq!(versions(&evented, &registry, "other"), ["1.0"]);
    assert_eq!(
        registry_requests(metrics_port.parse().unwrap()),
        before,
        "an unrelated page was read from the registry again"
    );
}

fn github_signature(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

fn github_package_event(name: &str) -> Vec<u8> {
    serde_json::json!({
        "action": "published",
        "registry_package": {
            "name": name,
            "namespace": NAMESPACE,
            "ecosystem": "CONTAINER",
            "package_type": "CONTAINER",
            "package_version": {"container_metadata": {"tag": {"name": "1.1"}}},
        },
    })
    .to_string()
    .into_bytes()
}

#[test]
fn only_authenticated_events_drop_caches_and_only_for_what_they_name() {
    // This registry sends nothing: every event here is posted by the test.
    let registry = Registry::start(RegistryAuth::None);
    let events_port = free_port();
    let evented = evented_pyoci(&registry, events_port, &[]);
    let writer = start_pyoci(&[("PYOCI_CACHE_TTL", "0")]);
    upload(&writer, &registry, "demo", "1.0", &[]);
    assert_eq!(versions(&evented, &registry, "demo"), ["1.0"]);
    upload(&writer, &registry, "demo", "1.1", &[]);

    let segment = registry.url_segment();
    let events = |source: &str| format!("http://127.0.0.1:{events_port}/events/{source}/{segment}");
    let http = HttpClient::new();
    let post = |url: &str, body: &[u8], headers: &[(&str, &str)]| {
        http.request("POST", url, headers, Some(body.to_vec()))
    };
    let demo = github_package_event("demo");
    let bearer = format!("Bearer {SECRET}");
    let changed_demo = br#"{"repositories":["events/demo"]}"#;
    let refused = [
        (
            "a GitHub event signed with another secret",
            events("github"),
            demo.clone(),
            vec![
                ("X-GitHub-Event", "registry_package".to_owned()),
                (
                    "X-Hub-Signature-256",
                    github_signature(&demo, "another-secret-of-some-length"),
                ),
            ],
        ),
        (
            "an unsigned GitHub event",
            events("github"),
            demo.clone(),
            vec![("X-GitHub-Event", "registry_package".to_owned())],
        ),
        (
            "a call with a wrong secret",
            events("changed"),
            changed_demo.to_vec(),
            vec![(
                "Authorization",
                "Bearer not-the-secret-at-all-123".to_owned(),
            )],
        ),
        (
            "a call without a secret",
            events("changed"),
            changed_demo.to_vec(),
            vec![],
        ),
    ];
    for (what, url, body, headers) in refused {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = post(&url, &body, &headers);
        assert_eq!(response.status, 401, "{what}: {}", response.text());
        assert_eq!(
            versions(&evented, &registry, "demo"),
            ["1.0"],
            "{what} changed the cache"
        );
    }

    // Signed, but about another repository; then about a registry PyOCI takes no events for.
    let elsewhere = github_package_event("elsewhere");
    let signature = github_signature(&elsewhere, SECRET);
    let headers = [
        ("X-GitHub-Event", "registry_package"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    let response = post(&events("github"), &elsewhere, &headers);
    assert!(response.status / 100 == 2, "{}", response.text());
    assert_eq!(versions(&evented, &registry, "demo"), ["1.0"]);
    let unknown = format!("http://127.0.0.1:{events_port}/events/changed/ghcr.io");
    let response = post(
        &unknown,
        changed_demo,
        &[("Authorization", bearer.as_str())],
    );
    assert_eq!(response.status, 404, "{}", response.text());
    assert_eq!(versions(&evented, &registry, "demo"), ["1.0"]);

    // Signed and about this repository: the next page is read again.
    let signature = github_signature(&demo, SECRET);
    let headers = [
        ("X-GitHub-Event", "registry_package"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    let response = post(&events("github"), &demo, &headers);
    assert!(response.status / 100 == 2, "{}", response.text());
    assert_eq!(versions(&evented, &registry, "demo"), ["1.1", "1.0"]);

    // The generic call, as a CI job makes it after publishing with another tool.
    upload(&writer, &registry, "demo", "1.2", &[]);
    assert_eq!(versions(&evented, &registry, "demo"), ["1.1", "1.0"]);
    let response = post(
        &events("changed"),
        changed_demo,
        &[("Authorization", bearer.as_str())],
    );
    assert!(response.status / 100 == 2, "{}", response.text());
    assert_eq!(versions(&evented, &registry, "demo"), ["1.2", "1.1", "1.0"]);
}

/// Answers of `pyoci` to `user` for the page, a `.metadata` and a `HEAD` of `project` 1.0.
fn statuses(
    pyoci: &Pyoci,
    registry: &Registry,
    project: &str,
    (user, password): (&str, &str),
) -> [u16; 3] {
    let auth = basic_auth(user, password);
    let auth = [("Authorization", auth.as_str())];
    let page_url = format!("{}{project}/", pyoci.index_url(registry, NAMESPACE));
    let file_url = format!("{page_url}{project}-1.0-py3-none-any.whl");
    let http = HttpClient::new();
    [
        page(pyoci, registry, project, &auth).status,
        http.get_with(&format!("{file_url}.metadata"), &auth).status,
        http.request("HEAD", &file_url, &auth, None).status,
    ]
}

/// Revokes a user at `revoke` (after the first answers) and returns when, after it, the
/// page, `.metadata` and `HEAD` answers first stopped being 200, polling every 100 ms for
/// at most `within`; asserts they were all 200 just after the revocation (so the caches
/// were in play) and all 401 once they stopped.
fn stops_after(
    pyoci: &Pyoci,
    registry: &Registry,
    project: &str,
    user: (&str, &str),
    revoke: impl FnOnce(),
    within: Duration,
) -> Duration {
    assert_eq!(
        statuses(pyoci, registry, project, user),
        [200, 200, 200],
        "{}",
        pyoci.log()
    );
    revoke();
    let revoked = Instant::now();
    assert_eq!(
        statuses(pyoci, registry, project, user),
        [200, 200, 200],
        "just after the revocation the caches still answer"
    );
    loop {
        let now = statuses(pyoci, registry, project, user);
        if now != [200, 200, 200] {
            assert_eq!(now, [401, 401, 401], "{}", pyoci.log());
            return revoked.elapsed();
        }
        assert!(
            revoked.elapsed() < within,
            "still answered {within:?} after the revocation\n{}",
            pyoci.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_revoked_password_stops_within_the_cache_ttl_however_long_events_keep_pages() {
    const ALICE: (&str, &str) = ("alice", "alice-pw-events-1");
    let registry = Registry::start(RegistryAuth::Htpasswd(&[ALICE]));
    let pyoci = evented_pyoci(&registry, free_port(), &[("PYOCI_CACHE_TTL", "2")]);
    let auth = basic_auth(ALICE.0, ALICE.1);
    upload(
        &pyoci,
        &registry,
        "basicpkg",
        "1.0",
        &[("Authorization", auth.as_str())],
    );
    let stopped = stops_after(
        &pyoci,
        &registry,
        "basicpkg",
        ALICE,
        || registry.set_htpasswd_users(&[(ALICE.0, "a-new-password")]),
        Duration::from_secs(4),
    );
    eprintln!("a revoked password stopped after {stopped:?} (PYOCI_CACHE_TTL=2)");
}

#[test]
fn a_revoked_token_user_stops_when_the_token_held_for_them_expires() {
    const ALICE: (&str, &str) = ("alice", "alice-pw-events-2");
    // Tokens for 9 s: PyOCI stops using one 5 s before it expires, so it holds one for 4 s.
    let issuer = TokenIssuer::builder()
        .user(ALICE.0, ALICE.1, vec![Rule::everything()])
        .token_lifetime(9)
        .start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let pyoci = evented_pyoci(&registry, free_port(), &[("PYOCI_CACHE_TTL", "1")]);
    let auth = basic_auth(ALICE.0, ALICE.1);
    upload(
        &pyoci,
        &registry,
        "tokenpkg",
        "1.0",
        &[("Authorization", auth.as_str())],
    );
    // A fresh token for the read: the page read now is accepted until it expires.
    std::thread::sleep(Duration::from_secs(4));
    let read = Instant::now();
    let stopped = stops_after(
        &pyoci,
        &registry,
        "tokenpkg",
        ALICE,
        || issuer.revoke(ALICE.0),
        Duration::from_secs(8),
    );
    let since_read = read.elapsed();
    eprintln!("a revoked token user stopped {stopped:?} after the revocation, {since_read:?} after the read");
    assert!(
        stopped > Duration::from_secs(1),
        "stopped within PYOCI_CACHE_TTL: the held token did not lengthen the acceptance"
    );
    assert!(
        since_read <= Duration::from_secs(5) + Duration::from_millis(500),
        "answered past the held token's end"
    );
}

#[test]
fn with_events_and_long_ttls_a_cached_page_still_goes_to_no_one_else() {
    const ALICE: (&str, &str) = ("alice", "alice-pw-events-3");
    const STRANGER: (&str, &str) = ("stranger", "stranger-pw-events-3");
    let issuer = TokenIssuer::builder()
        .user(ALICE.0, ALICE.1, vec![Rule::everything()])
        .user(
            STRANGER.0,
            STRANGER.1,
            vec![Rule::repositories("elsewhere/", &["pull"])],
        )
        .start();
    let registry = Registry::start(RegistryAuth::Token(issuer));
    let pyoci = evented_pyoci(&registry, free_port(), &[]);
    let alice = basic_auth(ALICE.0, ALICE.1);
    upload(
        &pyoci,
        &registry,
        "guarded",
        "1.0",
        &[("Authorization", alice.as_str())],
    );
    let page_of = |auth: Option<String>| {
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|auth| vec![("Authorization", auth)])
            .unwrap_or_default();
        page(&pyoci, &registry, "guarded", &headers).status
    };
    assert_eq!(page_of(Some(alice.clone())), 200);
    assert_eq!(page_of(Some(alice.clone())), 200, "cached, for minutes");
    for (who, auth) in [
        (
            "a wrong password",
            Some(basic_auth(ALICE.0, "not-her-password")),
        ),
        ("another user", Some(basic_auth(STRANGER.0, STRANGER.1))),
        ("an anonymous caller", None),
    ] {
        let status = page_of(auth);
        assert!(status == 401 || status == 403, "{who} got {status}");
    }
    assert_eq!(
        page_of(Some(alice)),
        200,
        "the owner's cached page is still hers"
    );
}
