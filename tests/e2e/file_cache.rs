//! Downloads through the listing caches, against a real token-auth registry with a
//! request-counting relay (the fault proxy, passing everything) between PyOCI and it:
//!
//! - after a page read, a file, its range, its `HEAD`, its revalidation and its `.metadata`
//!   each cost one registry request: the blob's `GET` (or `HEAD`);
//! - with the caches warm, a wrong password, another user and an anonymous client get the
//!   registry's refusal for each of those, judged on that blob request;
//! - another process's delete shows within `PYOCI_CACHE_TTL`, and so does its re-upload of
//!   the file with other bytes, each answer being whole bytes of one of the two;
//! - a blob gone under a cached tag (registry garbage collection) makes PyOCI read the tag
//!   again at once instead of answering 404;
//! - `PYOCI_CACHE_TTL=0` reads the tag for every download.

use std::time::{Duration, Instant};

use pyoci_test_support::{basic_auth, sha256_hex, wait_for};

use crate::support::relayed::{Stack, COLLEAGUE, OWNER, STRANGER};

const NAMESPACE: &str = "filecache";
const PROJECT: &str = "dlpkg";
/// How often a test waiting for a change asks for the file again.
const POLL: Duration = Duration::from_millis(50);

fn blob_path(sha256: &str) -> String {
    format!("/v2/{NAMESPACE}/{PROJECT}/blobs/sha256:{sha256}")
}

/// The sha256 of the wheel's METADATA the page gives (PEP 658).
fn core_metadata_sha256(page: &serde_json::Value, filename: &str) -> String {
    let files = page["files"].as_array().cloned().unwrap_or_default();
    let file = files
        .iter()
        .find(|file| file["filename"] == filename)
        .unwrap_or_else(|| panic!("{filename} is not on the page: {page}"));
    file["core-metadata"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("{filename} has no core-metadata on the page: {page}"))
        .to_owned()
}

/// A download request of a kind, for each caller.
struct Ask<'a> {
    method: &'a str,
    what: &'a str,
    url: &'a str,
    header: Option<(&'a str, &'a str)>,
}

impl<'a> Ask<'a> {
    fn new(method: &'a str, what: &'a str, url: &'a str) -> Ask<'a> {
        Ask {
            method,
            what,
            url,
            header: None,
        }
    }

    fn header(mut self, name: &'a str, value: &'a str) -> Ask<'a> {
        self.header = Some((name, value));
        self
    }
}

#[test]
fn after_a_page_read_each_download_costs_one_registry_request() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    let wheel = stack.upload_with(0, "1.0", b"one registry request");
    let page = stack.page(0, OWNER);
    let url = stack.wheel_url(0, "1.0");
    let owner = basic_auth(OWNER.0, OWNER.1);
    let owner = [("Authorization", owner.as_str())];
    let wheel_blob = blob_path(&sha256_hex(&wheel));

    // uv and pip read the page, then the wheel's METADATA, then the wheel.
    let metadata_sha256 = core_metadata_sha256(&page, &stack.wheel_name("1.0"));
    let (metadata, requests) = stack.counted("GET", &format!("{url}.metadata"), &owner);
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    assert_eq!(sha256_hex(&metadata.body), metadata_sha256);
    assert_eq!(
        requests,
        [format!("GET {}", blob_path(&metadata_sha256))],
        "a .metadata GET after a page read"
    );
    // Read once, it is kept: the registry accepted these credentials for the project when
    // the page was read, less than a TTL ago, so the next read costs nothing.
    let (again, requests) = stack.counted("GET", &format!("{url}.metadata"), &owner);
    assert_eq!(again.body, metadata.body);
    assert_eq!(
        requests,
        Vec::<String>::new(),
        "a .metadata GET read before"
    );

    let (file, requests) = stack.counted("GET", &url, &owner);
    assert_eq!(file.status, 200, "{}", file.text());
    assert_eq!(file.body, wheel);
    assert_eq!(
        requests,
        [format!("GET {wheel_blob}")],
        "a wheel GET after a page read\n{}",
        stack.logs()
    );
    let etag = file.header("etag").expect("files carry an ETag").to_owned();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&wheel)));

    let mut ranged = owner.to_vec();
    ranged.push(("Range", "bytes=0-9"));
    let (part, requests) = stack.counted("GET", &url, &ranged);
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.body, wheel[..10]);
    assert_eq!(requests, [format!("GET {wheel_blob}")], "a range GET");

    // No bytes to send, and these credentials were accepted for the project within the
    // TTL (the page read): nothing to ask the registry.
    let (head, requests) = stack.counted("HEAD", &url, &owner);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(wheel.len().to_string().as_str())
    );
    assert_eq!(requests, Vec::<String>::new(), "a HEAD");

    let mut revalidating = owner.to_vec();
    revalidating.push(("If-None-Match", &etag));
    let (not_modified, requests) = stack.counted("GET", &url, &revalidating);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(requests, Vec::<String>::new(), "a revalidation");
}

/// Other credentials than the page's, even accepted ones, are judged by the registry: a
/// HEAD or revalidation without a page read of theirs costs the blob's HEAD, and their
/// first `.metadata` the blob's GET, although the owner's reads left all of it in memory.
#[test]
fn only_the_credentials_a_page_was_read_with_skip_the_registry() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    let wheel = stack.upload_with(0, "1.0", b"judged per caller");
    let page = stack.page(0, OWNER);
    let url = stack.wheel_url(0, "1.0");
    let owner = basic_auth(OWNER.0, OWNER.1);
    let metadata_url = format!("{url}.metadata");
    let (metadata, _) = stack.counted("GET", &metadata_url, &[("Authorization", &owner)]);
    assert_eq!(metadata.status, 200);
    let (_, requests) = stack.counted("GET", &metadata_url, &[("Authorization", &owner)]);
    assert!(requests.is_empty(), "the owner's METADATA is in memory");

    let reader = basic_auth(COLLEAGUE.0, COLLEAGUE.1);
    let reader = [("Authorization", reader.as_str())];
    let metadata_blob = blob_path(&core_metadata_sha256(&page, &stack.wheel_name("1.0")));
    let (theirs, requests) = stack.counted("GET", &metadata_url, &reader);
    assert_eq!(theirs.body, metadata.body);
    // (Twice: their first request also fetches their token, after the registry's 401.)
    let judged = format!("GET {metadata_blob}");
    assert!(
        !requests.is_empty() && requests.iter().all(|request| *request == judged),
        "{requests:?}"
    );
    let wheel_blob = blob_path(&sha256_hex(&wheel));
    let (head, requests) = stack.counted("HEAD", &url, &reader);
    assert_eq!(head.status, 200);
    assert_eq!(requests, [format!("HEAD {wheel_blob}")]);
}

#[test]
fn a_warm_cache_gives_refused_callers_the_registrys_refusal() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 60, &[]);
    let wheel = stack.upload_with(0, "1.0", b"for the owner only");
    stack.page(0, OWNER);
    let url = stack.wheel_url(0, "1.0");
    let metadata_url = format!("{url}.metadata");
    let etag = format!("\"{}\"", sha256_hex(&wheel));

    // Warm: the owner's download is answered from the caches and the blob request, and
    // the METADATA file is kept in memory.
    let owner = basic_auth(OWNER.0, OWNER.1);
    let (metadata, _) = stack.counted("GET", &metadata_url, &[("Authorization", &owner)]);
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    let (file, requests) = stack.counted("GET", &url, &[("Authorization", &owner)]);
    assert_eq!((file.status, file.body.len()), (200, wheel.len()));
    assert_eq!(
        requests,
        [format!("GET {}", blob_path(&sha256_hex(&wheel)))]
    );

    let wrong_password = basic_auth(OWNER.0, "not-the-password");
    let stranger = basic_auth(STRANGER.0, STRANGER.1);
    let callers: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "the owner with a wrong password",
            vec![("Authorization", &wrong_password)],
        ),
        (
            "a user without rights here",
            vec![("Authorization", &stranger)],
        ),
        ("an anonymous client", vec![]),
    ];
    let asks = [
        Ask::new("GET", "a GET", &url),
        Ask::new("HEAD", "a HEAD", &url),
        Ask::new("GET", "a range GET", &url).header("Range", "bytes=0-9"),
        Ask::new("GET", "a revalidation", &url).header("If-None-Match", &etag),
        Ask::new("GET", "a .metadata GET", &metadata_url),
        Ask::new("GET", "a .metadata revalidation", &metadata_url).header("If-None-Match", "*"),
    ];
    for (who, credentials) in &callers {
        for Ask {
            method,
            what,
            url: target,
            header,
        } in &asks
        {
            let mut request = credentials.clone();
            request.extend(header);
            let (response, requests) = stack.counted(method, target, &request);
            assert!(
                response.status == 401 || response.status == 403,
                "{who}, {what}: got {}: {}",
                response.status,
                response.text()
            );
            // Judged by the registry on the blob, which only the caches could have named:
            // the cached resolution was in play, and refused all the same.
            assert!(
                !requests.is_empty() && requests.iter().all(|request| request.contains("/blobs/")),
                "{who}, {what}: {requests:?}"
            );
        }
    }

    // The owner's downloads are still served from the caches.
    let (file, requests) = stack.counted("GET", &url, &[("Authorization", &owner)]);
    assert_eq!(file.body, wheel);
    assert_eq!(requests.len(), 1, "{requests:?}");
}

#[test]
fn another_processs_delete_and_reupload_show_within_the_ttl() {
    const TTL: Duration = Duration::from_secs(3);
    // Slack for a request that starts just before the TTL ends, on a busy machine.
    const SLACK: Duration = Duration::from_secs(3);
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(2, TTL.as_secs(), &[]);
    let owner = basic_auth(OWNER.0, OWNER.1);
    let owner = [("Authorization", owner.as_str())];

    // The second process reads the page and the file...
    let old = stack.upload_with(0, "1.0", b"deleted soon");
    stack.page(1, OWNER);
    let cached_at = Instant::now();
    let (file, requests) = stack.counted("GET", &stack.wheel_url(1, "1.0"), &owner);
    assert_eq!(file.body, old);
    assert_eq!(requests.len(), 1, "the caches are warm: {requests:?}");
    // ...the first deletes it...
    stack.owner_request("DELETE", &stack.wheel_url(0, "1.0"));
    let deleted = Instant::now();
    // ...and the second stops serving it within its TTL (its blob is still in the registry).
    let mut stale_answers = 0;
    wait_for(
        POLL,
        TTL + SLACK,
        || {
            let answer = stack.http.get_with(&stack.wheel_url(1, "1.0"), &owner);
            match answer.status {
                200 => {
                    assert_eq!(answer.body, old);
                    stale_answers += 1;
                    false
                }
                404 => true,
                other => panic!("{other}: {}", answer.text()),
            }
        },
        || format!("the deleted file was still served\n{}", stack.logs()),
    );
    assert!(deleted.elapsed() <= TTL + SLACK);
    if deleted.duration_since(cached_at) < TTL / 2 {
        assert!(stale_answers > 0, "the cache was in play");
    }

    // Same for a file deleted and uploaded again with other bytes: whole old bytes until
    // the TTL ends, then whole new ones.
    let old = stack.upload_with(0, "2.0", b"the first bytes");
    stack.page(1, OWNER);
    let cached_at = Instant::now();
    let (file, requests) = stack.counted("GET", &stack.wheel_url(1, "2.0"), &owner);
    assert_eq!(file.body, old);
    assert_eq!(requests.len(), 1, "the caches are warm: {requests:?}");
    stack.owner_request("DELETE", &stack.wheel_url(0, "2.0"));
    let new = stack.upload_with(0, "2.0", b"the second bytes, other ones");
    let replaced = Instant::now();
    let (old_sha256, new_sha256) = (sha256_hex(&old), sha256_hex(&new));
    let mut stale_answers = 0;
    wait_for(
        POLL,
        TTL + SLACK,
        || {
            let answer = stack.http.get_with(&stack.wheel_url(1, "2.0"), &owner);
            assert_eq!(answer.status, 200, "{}", answer.text());
            let sha256 = sha256_hex(&answer.body);
            assert!(
                sha256 == old_sha256 || sha256 == new_sha256,
                "bytes of neither upload"
            );
            assert_eq!(
                answer.header("etag"),
                Some(format!("\"{sha256}\"").as_str())
            );
            if sha256 == old_sha256 {
                stale_answers += 1;
            }
            sha256 == new_sha256
        },
        || format!("the new bytes never showed\n{}", stack.logs()),
    );
    assert!(replaced.elapsed() <= TTL + SLACK);
    if replaced.duration_since(cached_at) < TTL / 2 {
        assert!(stale_answers > 0, "the cache was in play");
    }
}

#[test]
fn a_blob_gone_under_a_cached_tag_is_read_again() {
    // A TTL far longer than the test: only reading the tag again can show the new bytes.
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(2, 600, &[]);
    let owner = basic_auth(OWNER.0, OWNER.1);
    let owner = [("Authorization", owner.as_str())];
    let old = stack.upload_with(0, "1.0", b"collected soon");
    stack.page(1, OWNER);
    let (file, requests) = stack.counted("GET", &stack.wheel_url(1, "1.0"), &owner);
    assert_eq!(file.body, old);
    assert_eq!(requests.len(), 1, "the caches are warm: {requests:?}");

    // Another process replaces the file, and the old blob is collected.
    stack.owner_request("DELETE", &stack.wheel_url(0, "1.0"));
    let new = stack.upload_with(0, "1.0", b"the bytes that replaced them");
    stack.remove_blob(&sha256_hex(&old));

    let (file, requests) = stack.counted("GET", &stack.wheel_url(1, "1.0"), &owner);
    assert_eq!(file.status, 200, "{}\n{}", file.text(), stack.logs());
    assert_eq!(file.body, new);
    assert_eq!(
        requests.first(),
        Some(&format!("GET {}", blob_path(&sha256_hex(&old)))),
        "the cached resolution was tried first: {requests:?}"
    );
    assert!(
        requests.contains(&format!("GET /v2/{NAMESPACE}/{PROJECT}/manifests/1.0")),
        "then the tag was read again: {requests:?}"
    );
    // Cached anew.
    let (file, requests) = stack.counted("GET", &stack.wheel_url(1, "1.0"), &owner);
    assert_eq!(file.body, new);
    assert_eq!(requests, [format!("GET {}", blob_path(&sha256_hex(&new)))]);
}

#[test]
fn caching_off_downloads_read_the_tag_every_time() {
    let stack = Stack::start(NAMESPACE, PROJECT).with_replicas(1, 0, &[]);
    let wheel = stack.upload_with(0, "1.0", b"uncached");
    let page = stack.page(0, OWNER);
    let url = stack.wheel_url(0, "1.0");
    let owner = basic_auth(OWNER.0, OWNER.1);
    let owner = [("Authorization", owner.as_str())];
    let tag = format!("GET /v2/{NAMESPACE}/{PROJECT}/manifests/1.0");
    for _ in 0..2 {
        let (file, requests) = stack.counted("GET", &url, &owner);
        assert_eq!(file.body, wheel);
        assert_eq!(requests.first(), Some(&tag), "{requests:?}");
        assert_eq!(requests.len(), 3, "tag, manifest, blob: {requests:?}");
        let (metadata, requests) = stack.counted("GET", &format!("{url}.metadata"), &owner);
        assert_eq!(
            sha256_hex(&metadata.body),
            core_metadata_sha256(&page, &stack.wheel_name("1.0"))
        );
        assert_eq!(requests.first(), Some(&tag), "{requests:?}");
        assert_eq!(requests.len(), 2, "tag, blob: {requests:?}");
    }
}
