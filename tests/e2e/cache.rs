//! The listing caches against a real token-auth registry, with a request-counting relay
//! (the fault proxy, passing everything) between PyOCI and the registry:
//!
//! - a page cached for some credentials costs no registry request, a warm listing for
//!   other accepted credentials one (the tag list), and both give the same page;
//! - a cached page only ever goes to the credentials it was read with: a wrong password,
//!   another user and an anonymous client are judged by the registry;
//! - uploads, deletes and yanks through a process show in its listings at once;
//! - another process's writes show within `PYOCI_CACHE_TTL`;
//! - pages carry an `ETag` (304 on `If-None-Match`, for accepted credentials only) and
//!   are gzip-compressed for clients that accept it.

use std::{
    io::Read,
    thread,
    time::{Duration, Instant},
};

use pyoci_test_support::{basic_auth, wait_for, wheel_bytes, Fault, FaultRule, HttpClient};

use crate::support::relayed::{Stack, COLLEAGUE, OWNER, STRANGER};

const NAMESPACE: &str = "cached";
const PROJECT: &str = "cachepkg";
/// How often a test waiting for a change asks for the page again.
const POLL: Duration = Duration::from_millis(50);

fn auth(credentials: (&str, &str)) -> Vec<(&'static str, String)> {
    vec![("Authorization", basic_auth(credentials.0, credentials.1))]
}

/// Headers as the HTTP client takes them.
fn headers<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

fn wheels(stack: &Stack, versions: &[&str]) -> Vec<String> {
    versions
        .iter()
        .map(|version| stack.wheel_name(version))
        .collect()
}

#[test]
fn warm_listings_cost_one_registry_request_and_none_while_the_page_is_cached() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    for version in ["1.0", "1.1", "1.2"] {
        stack.upload(0, version);
    }
    stack.proxy.forget_seen();
    let cold = stack.page(0, OWNER);
    let cold_requests = stack.registry_requests();
    assert!(
        cold_requests.len() >= 4,
        "a cold listing reads the tag list and every version: {cold_requests:?}"
    );

    // The same credentials again: the cached page, no registry request at all.
    stack.proxy.forget_seen();
    assert_eq!(stack.page(0, OWNER), cold);
    assert_eq!(stack.registry_requests(), Vec::<String>::new());

    // The colleague reads the JSON API first (the registry accepts them, their token is
    // cached, and so are the project's tags and documents)...
    let json_api = format!("{}json", stack.page_url(0));
    let api = stack.http.get_with(&json_api, &headers(&auth(COLLEAGUE)));
    assert_eq!(api.status, 200, "{}", api.text());
    // ...so their first page costs exactly one request: the tag list, which is where the
    // registry judges their credentials for this repository.
    stack.proxy.forget_seen();
    assert_eq!(stack.page(0, COLLEAGUE), cold);
    let warm_requests = stack.registry_requests();
    assert_eq!(
        warm_requests,
        [format!("GET /v2/{NAMESPACE}/{PROJECT}/tags/list")],
        "{}",
        stack.logs()
    );
}

#[test]
fn caching_off_reads_the_registry_every_time() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 0, &[]);
    stack.upload(0, "1.0");
    stack.page(0, OWNER);
    stack.proxy.forget_seen();
    stack.page(0, OWNER);
    let requests = stack.registry_requests();
    assert!(
        requests.len() >= 2,
        "PYOCI_CACHE_TTL=0 caches nothing: {requests:?}"
    );
}

#[test]
fn a_cached_page_goes_only_to_the_credentials_it_was_read_with() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    stack.upload(0, "1.0");
    let owner = stack.get(0, &headers(&auth(OWNER)));
    assert_eq!(owner.status, 200, "{}", owner.text());
    let etag = owner
        .header("etag")
        .expect("pages carry an ETag")
        .to_owned();
    // Cached now: the owner's next listing costs nothing.
    stack.proxy.forget_seen();
    assert_eq!(stack.get(0, &headers(&auth(OWNER))).status, 200);
    assert!(stack.registry_requests().is_empty());

    let wrong_password = auth((OWNER.0, "not-the-password"));
    let stranger = auth(STRANGER);
    let anonymous = Vec::new();
    for (who, credentials) in [
        ("the owner with a wrong password", &wrong_password),
        ("a user without rights here", &stranger),
        ("an anonymous client", &anonymous),
    ] {
        for revalidating in [false, true] {
            stack.proxy.forget_seen();
            let mut request = headers(credentials);
            if revalidating {
                request.push(("If-None-Match", &etag));
            }
            let response = stack.get(0, &request);
            assert!(
                response.status == 401 || response.status == 403,
                "{who} (revalidating: {revalidating}) got {}: {}",
                response.status,
                response.text()
            );
            assert!(
                !stack.registry_requests().is_empty(),
                "{who} was judged by the registry"
            );
        }
    }
    // The owner's page is still cached for the owner.
    stack.proxy.forget_seen();
    assert_eq!(stack.get(0, &headers(&auth(OWNER))).status, 200);
    assert!(stack.registry_requests().is_empty());
}

#[test]
fn pages_revalidate_with_304_and_compress_with_gzip() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    stack.upload(0, "1.0");
    let owner = auth(OWNER);
    let first = stack.get(0, &headers(&owner));
    assert_eq!(first.status, 200, "{}", first.text());
    let etag = first
        .header("etag")
        .expect("pages carry an ETag")
        .to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    // Clients keep pages privately and revalidate them on every use.
    assert_eq!(first.header("cache-control"), Some("private, no-cache"));

    stack.proxy.forget_seen();
    let mut revalidate = headers(&owner);
    revalidate.push(("If-None-Match", &etag));
    let not_modified = stack.get(0, &revalidate);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert!(
        stack.registry_requests().is_empty(),
        "a repeat resolve costs no registry traffic"
    );

    // A new version changes the page, so the old ETag no longer matches.
    stack.upload(0, "1.1");
    let changed = stack.get(0, &revalidate);
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));

    let mut gzip = headers(&owner);
    gzip.push(("Accept-Encoding", "gzip"));
    let compressed = stack.get(0, &gzip);
    assert_eq!(compressed.status, 200);
    assert_eq!(compressed.header("content-encoding"), Some("gzip"));
    let mut html = String::new();
    flate2::read::GzDecoder::new(compressed.body.as_slice())
        .read_to_string(&mut html)
        .expect("a gzip body");
    assert_eq!(html, changed.text());
    assert!(compressed.body.len() < changed.body.len());
    // Files are archives already: never compressed again.
    let file_url = stack.wheel_url(0, "1.0");
    let file = stack.http.get_with(&file_url, &gzip);
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-encoding"), None);
}

#[test]
fn uploads_deletes_and_yanks_through_this_process_show_at_once() {
    // A TTL far longer than the test: only invalidation can make changes show.
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 600, &[]);
    stack.upload(0, "1.0");
    assert_eq!(stack.files(0, OWNER), wheels(&stack, &["1.0"]));

    stack.upload(0, "1.1");
    assert_eq!(
        stack.files(0, OWNER),
        wheels(&stack, &["1.1", "1.0"]),
        "after an upload"
    );

    let owner = auth(OWNER);
    let yank = format!("{}+yank/1.1", stack.page_url(0));
    let yanked = stack.http.request("POST", &yank, &headers(&owner), None);
    assert_eq!(yanked.status, 200, "{}", yanked.text());
    assert_eq!(
        stack.files(0, OWNER),
        [
            format!("{} (yanked)", stack.wheel_name("1.1")),
            stack.wheel_name("1.0")
        ],
        "after a yank"
    );

    let file_url = stack.wheel_url(0, "1.0");
    let deleted = stack.http.delete(&file_url, &headers(&owner));
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(
        stack.files(0, OWNER),
        [format!("{} (yanked)", stack.wheel_name("1.1"))],
        "after deleting a file"
    );

    stack.upload(0, "1.2");
    assert_eq!(
        stack.files(0, OWNER),
        [
            stack.wheel_name("1.2"),
            format!("{} (yanked)", stack.wheel_name("1.1"))
        ],
    );
    let version_url = format!("{}1.2", stack.page_url(0));
    let deleted = stack.http.delete(&version_url, &headers(&owner));
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(
        stack.files(0, OWNER),
        [format!("{} (yanked)", stack.wheel_name("1.1"))],
        "after deleting a version"
    );
}

#[test]
fn another_processs_writes_show_within_the_ttl() {
    const TTL: Duration = Duration::from_secs(3);
    // Slack for a listing that starts just before the TTL ends, on a busy machine.
    const SLACK: Duration = Duration::from_secs(3);
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(2, TTL.as_secs(), &[]);
    stack.upload(0, "1.0");

    // The second process caches the page...
    let cached_at = Instant::now();
    assert_eq!(stack.files(1, OWNER), wheels(&stack, &["1.0"]));
    // ...the first publishes a new version...
    stack.upload(0, "2.0");
    let published = Instant::now();
    // ...which the second shows within its TTL, after serving the cached page meanwhile.
    let mut stale_answers = 0;
    wait_for(
        POLL,
        TTL + SLACK,
        || {
            let files = stack.files(1, OWNER);
            if files == wheels(&stack, &["1.0"]) {
                stale_answers += 1;
            }
            files == wheels(&stack, &["2.0", "1.0"])
        },
        || format!("the new version never showed\n{}", stack.logs()),
    );
    assert!(published.elapsed() <= TTL + SLACK);
    if published.duration_since(cached_at) < TTL / 2 {
        assert!(stale_answers > 0, "the cache was in play");
    }

    // Same for a deleted file.
    let cached_at = Instant::now();
    assert_eq!(stack.files(1, OWNER), wheels(&stack, &["2.0", "1.0"]));
    let file_url = stack.wheel_url(0, "1.0");
    let deleted = stack.http.delete(&file_url, &headers(&auth(OWNER)));
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let removed = Instant::now();
    let mut stale_answers = 0;
    wait_for(
        POLL,
        TTL + SLACK,
        || {
            let files = stack.files(1, OWNER);
            if files.len() == 2 {
                stale_answers += 1;
            }
            files == wheels(&stack, &["2.0"])
        },
        || format!("the deleted file never went\n{}", stack.logs()),
    );
    assert!(removed.elapsed() <= TTL + SLACK);
    if removed.duration_since(cached_at) < TTL / 2 {
        assert!(stale_answers > 0, "the cache was in play");
    }
}

/// A cold listing reads its version indexes at once, not a few at a time: with every
/// manifest read held up at the relay, all of them are in flight together. It takes at
/// most half the ordinary registry budget, so other clients still get slots.
#[test]
fn a_cold_listing_reads_its_versions_at_once_within_half_the_budget() {
    const VERSIONS: usize = 24;
    let slow_manifests = || {
        // Long enough that every read of a listing arrives while the first is held, even
        // on a busy machine.
        FaultRule::new(Fault::Delay(Duration::from_secs(1)))
            .method("GET")
            .path_contains("/manifests/")
    };
    for (budget, expected) in [(None, VERSIONS), (Some("20"), 10)] {
        let env: Vec<(&str, &str)> = budget
            .map(|budget| ("PYOCI_MAX_REGISTRY_REQUESTS", budget))
            .into_iter()
            .collect();
        let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &env);
        for minor in 0..VERSIONS {
            stack.upload(0, &format!("1.{minor}"));
        }
        assert!(
            stack.proxy.max_in_flight() < expected,
            "uploads ran one at a time"
        );
        stack.proxy.set(slow_manifests());
        assert_eq!(stack.files(0, OWNER).len(), VERSIONS);
        assert_eq!(
            stack.proxy.max_in_flight(),
            expected,
            "manifest reads in flight at once (PYOCI_MAX_REGISTRY_REQUESTS={budget:?})"
        );
    }
}

/// When a page is missing from the cache (after a write, or once expired) and many
/// requests of the same caller ask at once, one reads it from the registry and the others
/// take its result, instead of each reading every version again.
#[test]
fn concurrent_requests_for_a_missing_page_read_it_once() {
    const CLIENTS: usize = 8;
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    stack.upload(0, "1.0");
    stack.upload(0, "1.1");
    // The owner's token is cached; the page is not (the upload invalidated it).
    stack.proxy.forget_seen();
    // Manifest reads held, so every client asks while the first read is under way.
    stack.proxy.set(
        FaultRule::new(Fault::Delay(Duration::from_millis(500)))
            .method("GET")
            .path_contains("/manifests/"),
    );
    let url = stack.page_url(0);
    let pages: Vec<_> = thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let url = url.clone();
                scope.spawn(move || {
                    let authorization = basic_auth(OWNER.0, OWNER.1);
                    HttpClient::new().get_with(&url, &[("Authorization", &authorization)])
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().unwrap())
            .collect()
    });
    assert!(pages.iter().all(|page| page.status == 200));
    assert!(pages.windows(2).all(|pair| pair[0].body == pair[1].body));
    let tag_lists = stack
        .registry_requests()
        .iter()
        .filter(|request| request.ends_with("/tags/list"))
        .count();
    assert!(
        stack.proxy.faults_injected() >= 2,
        "the manifest reads were held"
    );
    assert_eq!(
        tag_lists, 1,
        "{CLIENTS} concurrent requests read the page once"
    );
}

/// A page in steady use is read again in the background once past half its TTL, so it is
/// replaced before it expires and no request waits for the registry. Every tag list is held
/// up for a second at the relay; a client asking every 100 ms over several TTLs is always
/// answered from the cache, while the relay shows the page was read again meanwhile.
#[test]
fn a_page_in_steady_use_is_read_again_before_it_expires_and_no_request_waits() {
    const TTL: Duration = Duration::from_secs(4);
    const HELD: Duration = Duration::from_secs(1);
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, TTL.as_secs(), &[]);
    stack.upload(0, "1.0");
    assert_eq!(stack.files(0, OWNER), wheels(&stack, &["1.0"]));
    stack.proxy.forget_seen();
    stack.proxy.set(
        FaultRule::new(Fault::Delay(HELD))
            .method("GET")
            .path_contains("/tags/list"),
    );
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < TTL * 5 / 2 {
        let asked = Instant::now();
        assert_eq!(stack.files(0, OWNER), wheels(&stack, &["1.0"]));
        slowest = slowest.max(asked.elapsed());
        thread::sleep(Duration::from_millis(100));
    }
    let reads = stack.proxy.count("GET", "/tags/list");
    assert!(
        reads >= 2,
        "the page was read again {reads} times: the TTL did not pass in this run\n{}",
        stack.logs()
    );
    assert!(
        slowest < HELD,
        "a request waited {slowest:?}, as long as the registry's tag list\n{}",
        stack.logs()
    );
}

/// A refresh ahead of expiry that the registry refuses drops the cached page at once, so it
/// is not served for the rest of its TTL: the next request is judged by the registry again.
/// The relay answers the refresh's tag list with 401, as the registry answers a revoked
/// password (the relay stands in because the test issuer cannot revoke one).
#[test]
fn a_refused_refresh_drops_the_cached_page_before_its_ttl_ends() {
    const TTL: Duration = Duration::from_secs(6);
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, TTL.as_secs(), &[]);
    stack.upload(0, "1.0");
    let read_at = Instant::now();
    assert_eq!(stack.files(0, OWNER), wheels(&stack, &["1.0"]));
    stack.proxy.forget_seen();
    stack
        .proxy
        .set(FaultRule::new(Fault::Status(401)).path_contains("/tags/list"));
    // Time passing is the point here: the page becomes due for a refresh at half its TTL.
    thread::sleep((TTL / 2 + Duration::from_millis(200)).saturating_sub(read_at.elapsed()));
    // Answered from the cache; starts the refresh.
    assert_eq!(stack.files(0, OWNER), wheels(&stack, &["1.0"]));
    let owner = auth(OWNER);
    let mut last = 200;
    wait_for(
        POLL,
        TTL / 4,
        || {
            last = stack.get(0, &headers(&owner)).status;
            last != 200
        },
        || {
            format!(
                "the page was still served after its refresh was refused\n{}",
                stack.logs()
            )
        },
    );
    assert!(
        read_at.elapsed() < TTL,
        "only refused after the TTL, when the page would have expired anyway"
    );
    assert!(
        stack.proxy.faults_injected() >= 1,
        "the refusal was injected"
    );
    assert_eq!(last, 401, "the registry's refusal is passed on");
}

/// The first read of a second project on a registry asks the token service that registry
/// named for the first project before asking the registry itself: the second listing
/// reaches the registry once per document, with no 401 round trip before it.
#[test]
fn a_second_projects_first_listing_meets_no_token_challenge() {
    const OTHER: &str = "otherpkg";
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    stack.upload(0, "1.0");
    let other_wheel = format!("{OTHER}-1.0-py3-none-any.whl");
    let content = wheel_bytes(OTHER, "1.0", b"another project");
    stack.upload_file(0, (OTHER, "1.0"), &other_wheel, &content);

    let fresh = stack.pyoci(60, &[]);
    let owner = basic_auth(OWNER.0, OWNER.1);
    let list = |project: &str| {
        stack.proxy.forget_seen();
        let url = format!("{}{project}/", stack.index_url(&fresh));
        let page = stack.http.get_with(&url, &[("Authorization", &owner)]);
        assert_eq!(page.status, 200, "{}", page.text());
        stack.registry_requests()
    };
    let tags = |project: &str| format!("GET /v2/{NAMESPACE}/{project}/tags/list");
    // A fresh process meets the registry's challenge on its first request.
    let first = list(PROJECT);
    assert_eq!(
        first.iter().filter(|seen| **seen == tags(PROJECT)).count(),
        2,
        "the first tag list was challenged, then sent with a token: {first:?}"
    );
    // The next project's token is asked for before its first request.
    assert_eq!(
        list(OTHER),
        [
            tags(OTHER),
            format!("GET /v2/{NAMESPACE}/{OTHER}/manifests/1.0")
        ],
        "{}",
        fresh.log()
    );
}
