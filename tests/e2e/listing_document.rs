//! The listing document (`PYOCI_LISTING_DOCUMENT`) against a real token-auth registry, with
//! a request-counting relay (the fault proxy) between PyOCI and the registry:
//!
//! - a cold listing costs the tag list and the document's index (read at once), whatever the
//!   number of versions, and gives the same page as without the document;
//! - writes through one process (upload, yank, delete file, delete version) show in another
//!   within the TTL, carried by the document (no version manifest read);
//! - a writer that does not keep the document (the setting off) is caught: a changed version
//!   by the background check (logged), a new version at once;
//! - the document cached from the owner's listing is never given to a caller the registry
//!   refuses;
//! - a document update the registry refuses never fails the upload, and no listing trusts
//!   the stale document afterwards.

use std::{
    thread,
    time::{Duration, Instant},
};

use pyoci_test_support::{basic_auth, wait_for, Fault, FaultRule, Pyoci};

use crate::support::relayed::{Stack, COLLEAGUE, OWNER, STRANGER};

const NAMESPACE: &str = "listed";
const PROJECT: &str = "docpkg";
const DOCUMENT_ON: (&str, &str) = ("PYOCI_LISTING_DOCUMENT", "true");
const DOCUMENT_OFF: (&str, &str) = ("PYOCI_LISTING_DOCUMENT", "false");
/// The document's tag (`layout::listing_document::TAG`).
const DOCUMENT_TAG: &str = "0-pyoci-listing";
const MISMATCH_WARNING: &str = "the listing document disagrees with the version tags";
/// How often a test waiting for a change asks for the page again.
const POLL: Duration = Duration::from_millis(50);

/// Waits until `pyoci`'s background check found its listing document in agreement with
/// the version tags (the first listing from a document starts one).
fn wait_for_agreeing_check(pyoci: &Pyoci) {
    assert!(
        pyoci.wait_for_log(
            "the listing document agrees with the version tags",
            Duration::from_secs(30)
        ),
        "{}",
        pyoci.log()
    );
}

/// A change made through one process: what it is, how to make it, the files it leaves.
type Change<'a> = (&'static str, Box<dyn Fn() + 'a>, Vec<String>);

/// Whether a relayed request read a version's manifest (any tag but the document's).
fn reads_a_version_manifest(request: &str) -> bool {
    request.starts_with("GET ")
        && request.contains("/manifests/")
        && !request.ends_with(&format!("/manifests/{DOCUMENT_TAG}"))
}

#[test]
fn a_cold_listing_costs_two_registry_requests_with_the_document() {
    const VERSIONS: usize = 12;
    let stack = Stack::start(NAMESPACE, PROJECT);
    let writer = stack.pyoci(60, &[DOCUMENT_ON]);
    for minor in 0..VERSIONS {
        stack.upload(&writer, &format!("1.{minor}"));
    }

    // A fresh process's first request for the repository fetches its token: a download of
    // a version that does not exist does that without reading (and caching) any listed
    // version, so the counted listing is the listing alone.
    let fetch_token = |pyoci: &Pyoci| {
        let url = stack.wheel_url(pyoci, "9.9");
        let authorization = basic_auth(OWNER.0, OWNER.1);
        let response = stack
            .http
            .get_with(&url, &[("Authorization", &authorization)]);
        assert_eq!(response.status, 404, "{}", response.text());
    };
    let with_document = stack.pyoci(60, &[DOCUMENT_ON]);
    fetch_token(&with_document);
    stack.proxy.forget_seen();
    let page_with = stack.page(&with_document, OWNER);
    // The first listing from a document checks it in the background, reading each version
    // once; counted apart.
    wait_for_agreeing_check(&with_document);
    let requests = stack.registry_requests();
    let (checked, mut listing): (Vec<String>, Vec<String>) = requests
        .iter()
        .cloned()
        .partition(|request| reads_a_version_manifest(request));
    listing.sort();
    let [index, tags] = listing.as_slice() else {
        panic!(
            "a cold listing costs 2 registry requests: {requests:?}\n{}",
            with_document.log()
        )
    };
    assert_eq!(tags, &format!("GET /v2/{NAMESPACE}/{PROJECT}/tags/list"));
    assert_eq!(
        index,
        &format!("GET /v2/{NAMESPACE}/{PROJECT}/manifests/{DOCUMENT_TAG}")
    );
    assert_eq!(checked.len(), VERSIONS, "the check read each version once");

    let without_document = stack.pyoci(60, &[DOCUMENT_OFF]);
    fetch_token(&without_document);
    stack.proxy.forget_seen();
    let page_without = stack.page(&without_document, OWNER);
    let requests = stack.registry_requests();
    assert!(
        requests.len() > VERSIONS,
        "without the document a cold listing reads every version: {requests:?}"
    );
    assert!(!requests
        .iter()
        .any(|request| request.contains(DOCUMENT_TAG)));
    assert_eq!(page_with, page_without, "the same page with and without");
    assert_eq!(page_with["files"].as_array().map(Vec::len), Some(VERSIONS));
}

#[test]
fn writes_through_one_process_show_in_another_within_the_ttl_from_the_document() {
    const TTL: Duration = Duration::from_secs(2);
    // Slack for a listing that starts just before the TTL ends, on a busy machine.
    const SLACK: Duration = Duration::from_secs(4);
    let stack = Stack::start(NAMESPACE, PROJECT);
    let writer = stack.pyoci(600, &[DOCUMENT_ON]);
    // No background check after the first: only the document can carry the changes.
    let reader = stack.pyoci(
        TTL.as_secs(),
        &[DOCUMENT_ON, ("PYOCI_LISTING_CHECK_SECS", "3600")],
    );
    stack.upload(&writer, "1.0");
    stack.upload(&writer, "2.0");
    assert_eq!(
        stack.files(&reader, OWNER),
        [stack.wheel_name("2.0"), stack.wheel_name("1.0")]
    );
    wait_for_agreeing_check(&reader);

    let page = stack.page_url(&writer);
    let changes: [Change; 4] = [
        (
            "a second file",
            Box::new(|| stack.upload_sdist(&writer, "1.0")),
            vec![
                stack.wheel_name("2.0"),
                stack.wheel_name("1.0"),
                stack.sdist_name("1.0"),
            ],
        ),
        (
            "a yank",
            Box::new(|| stack.owner_request("POST", &format!("{page}+yank/2.0"))),
            vec![
                format!("{} (yanked)", stack.wheel_name("2.0")),
                stack.wheel_name("1.0"),
                stack.sdist_name("1.0"),
            ],
        ),
        (
            "a deleted file",
            Box::new(|| {
                stack.owner_request("DELETE", &format!("{page}{}", stack.wheel_name("1.0")))
            }),
            vec![
                format!("{} (yanked)", stack.wheel_name("2.0")),
                stack.sdist_name("1.0"),
            ],
        ),
        (
            "a deleted version",
            Box::new(|| stack.owner_request("DELETE", &format!("{page}2.0"))),
            vec![stack.sdist_name("1.0")],
        ),
    ];
    for (change, make, expected) in changes {
        make();
        let made = Instant::now();
        stack.proxy.forget_seen();
        wait_for(
            POLL,
            TTL + SLACK,
            || stack.files(&reader, OWNER) == expected,
            || {
                format!(
                    "{change} never showed: {:?}\n{}",
                    stack.files(&reader, OWNER),
                    reader.log()
                )
            },
        );
        assert!(made.elapsed() <= TTL + SLACK);
        let requests = stack.registry_requests();
        assert!(
            requests
                .iter()
                .any(|request| request.contains(DOCUMENT_TAG)),
            "{change}: the reader read the document: {requests:?}"
        );
        assert!(
            !requests
                .iter()
                .any(|request| reads_a_version_manifest(request)),
            "{change} was carried by the document, not read from the version: {requests:?}"
        );
    }
}

#[test]
fn a_foreign_change_to_a_version_shows_after_the_check_and_is_logged() {
    const TTL: Duration = Duration::from_secs(1);
    const CHECK: Duration = Duration::from_secs(1);
    const SLACK: Duration = Duration::from_secs(5);
    let stack = Stack::start(NAMESPACE, PROJECT);
    let writer = stack.pyoci(600, &[DOCUMENT_ON]);
    let check = CHECK.as_secs().to_string();
    let reader = stack.pyoci(
        TTL.as_secs(),
        &[DOCUMENT_ON, ("PYOCI_LISTING_CHECK_SECS", check.as_str())],
    );
    // A writer that does not keep the document: a replica with the setting off.
    let foreign = stack.pyoci(600, &[DOCUMENT_OFF]);
    stack.upload(&writer, "1.0");
    assert_eq!(stack.files(&reader, OWNER), [stack.wheel_name("1.0")]);
    wait_for_agreeing_check(&reader);

    stack.upload_sdist(&foreign, "1.0");
    let changed = Instant::now();
    let expected = [stack.wheel_name("1.0"), stack.sdist_name("1.0")];
    let mut stale_answers = 0;
    wait_for(
        POLL,
        CHECK + TTL + SLACK,
        || {
            let files = stack.files(&reader, OWNER);
            if files == [stack.wheel_name("1.0")] {
                stale_answers += 1;
            }
            files == expected
        },
        || format!("the foreign change never showed\n{}", reader.log()),
    );
    assert!(changed.elapsed() <= CHECK + TTL + SLACK);
    assert!(
        stale_answers > 0,
        "the document hid the change for a while: the check found it"
    );
    assert!(
        reader.log().contains(MISMATCH_WARNING),
        "the reader logged the mismatch\n{}",
        reader.log()
    );
}

#[test]
fn a_version_the_document_lacks_shows_at_once_on_a_cold_listing() {
    let stack = Stack::start(NAMESPACE, PROJECT);
    let writer = stack.pyoci(600, &[DOCUMENT_ON]);
    let foreign = stack.pyoci(600, &[DOCUMENT_OFF]);
    stack.upload(&writer, "1.0");
    stack.upload(&foreign, "2.0");
    let reader = stack.pyoci(600, &[DOCUMENT_ON]);
    stack.proxy.forget_seen();
    assert_eq!(
        stack.files(&reader, OWNER),
        [stack.wheel_name("2.0"), stack.wheel_name("1.0")]
    );
    let requests = stack.registry_requests();
    assert!(
        requests
            .iter()
            .any(|request| request.ends_with(&format!("/manifests/{DOCUMENT_TAG}"))),
        "the reader used the document: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|request| request.ends_with("/manifests/2.0")),
        "and read the version it lacks: {requests:?}"
    );
}

#[test]
fn a_document_cached_for_the_owner_is_never_given_to_a_refused_caller() {
    let stack = Stack::start(NAMESPACE, PROJECT);
    let pyoci = stack.pyoci(60, &[DOCUMENT_ON]);
    stack.upload(&pyoci, "1.0");
    assert_eq!(stack.files(&pyoci, OWNER), [stack.wheel_name("1.0")]);
    let url = stack.page_url(&pyoci);
    let wrong_password = basic_auth(OWNER.0, "not-the-password");
    let stranger = basic_auth(STRANGER.0, STRANGER.1);
    for (who, authorization) in [
        ("the owner with a wrong password", Some(&wrong_password)),
        ("a user without rights here", Some(&stranger)),
        ("an anonymous client", None),
    ] {
        stack.proxy.forget_seen();
        let headers: Vec<(&str, &str)> = authorization
            .map(|value| ("Authorization", value.as_str()))
            .into_iter()
            .collect();
        let response = stack.http.get_with(&url, &headers);
        assert!(
            response.status == 401 || response.status == 403,
            "{who} got {}: {}",
            response.status,
            response.text()
        );
        assert!(
            !stack.registry_requests().is_empty(),
            "{who} was judged by the registry"
        );
    }
    assert_eq!(stack.files(&pyoci, OWNER), [stack.wheel_name("1.0")]);
}

#[test]
fn a_refused_document_update_keeps_the_upload_and_no_listing_trusts_the_stale_document() {
    let stack = Stack::start(NAMESPACE, PROJECT);
    let writer = stack.pyoci(600, &[DOCUMENT_ON]);
    stack.upload(&writer, "1.0");
    stack.proxy.set(
        FaultRule::new(Fault::Status(500))
            .method("PUT")
            .path_contains(&format!("/manifests/{DOCUMENT_TAG}")),
    );
    stack.upload_sdist(&writer, "1.0");
    assert!(
        stack.proxy.faults_injected() >= 1,
        "the document update was refused"
    );
    assert!(
        writer
            .log()
            .contains("updating the listing document failed"),
        "{}",
        writer.log()
    );
    stack.proxy.clear();

    let reader = stack.pyoci(600, &[DOCUMENT_ON]);
    assert_eq!(
        stack.files(&reader, OWNER),
        [stack.wheel_name("1.0"), stack.sdist_name("1.0")],
        "{}",
        writer.log()
    );
}

#[test]
fn a_warm_listing_for_other_credentials_costs_only_the_tag_list() {
    let stack = Stack::start(NAMESPACE, PROJECT);
    let pyoci = stack.pyoci(60, &[DOCUMENT_ON]);
    stack.upload(&pyoci, "1.0");
    stack.upload(&pyoci, "1.1");
    let owners = stack.page(&pyoci, OWNER);
    wait_for_agreeing_check(&pyoci);
    // The colleague's token is fetched by a download (which reads no listing)...
    let file = stack.wheel_url(&pyoci, "1.0");
    let colleague = basic_auth(COLLEAGUE.0, COLLEAGUE.1);
    let download = stack
        .http
        .get_with(&file, &[("Authorization", colleague.as_str())]);
    assert_eq!(download.status, 200, "{}", download.text());
    // ...so their first page costs the tag list alone: the document's tag and the document
    // are cached from the owner's listing, used once the registry accepted the colleague.
    stack.proxy.forget_seen();
    assert_eq!(stack.page(&pyoci, COLLEAGUE), owners);
    let requests: Vec<String> = stack
        .registry_requests()
        .into_iter()
        // The colleague's first listing from the document starts its own check.
        .filter(|request| !reads_a_version_manifest(request))
        .collect();
    assert_eq!(
        requests,
        [format!("GET /v2/{NAMESPACE}/{PROJECT}/tags/list")],
        "{}",
        pyoci.log()
    );
}

#[test]
fn an_unreadable_document_is_ignored_and_the_listing_reads_every_version() {
    let stack = Stack::start(NAMESPACE, PROJECT);
    let writer = stack.pyoci(600, &[DOCUMENT_ON]);
    stack.upload(&writer, "1.0");
    stack.upload(&writer, "2.0");
    // The document's index comes back holding something else (another tool's index, a
    // corrupted store).
    stack.proxy.set(
        FaultRule::new(Fault::Answer {
            status: 200,
            content_type: "application/vnd.oci.image.index.v1+json".into(),
            body: br#"{"schemaVersion": 2, "manifests": [], "annotations": {"com.pyoci.listing.v1": "{\"not\": \"a listing document\"}"}}"#.to_vec(),
        })
        .method("GET")
        .path_contains(&format!("/manifests/{DOCUMENT_TAG}")),
    );
    let reader = stack.pyoci(600, &[DOCUMENT_ON]);
    stack.proxy.forget_seen();
    assert_eq!(
        stack.files(&reader, OWNER),
        [stack.wheel_name("2.0"), stack.wheel_name("1.0")]
    );
    assert!(
        stack.proxy.faults_injected() >= 1,
        "the document's index was replaced"
    );
    assert!(
        reader.log().contains("ignoring the listing document"),
        "{}",
        reader.log()
    );
    let requests = stack.registry_requests();
    for version in ["1.0", "2.0"] {
        assert!(
            requests
                .iter()
                .any(|request| request.ends_with(&format!("/manifests/{version}"))),
            "{version} was read from its tag: {requests:?}"
        );
    }
}

/// Two processes update the document at once (their writes held at the relay, which honours
/// `If-Match` as a registry implementing conditional writes would): the later write is
/// refused with 412, read again and written with both versions, so a fresh process takes
/// all three versions from the document.
#[test]
fn concurrent_document_updates_from_two_processes_keep_both_versions() {
    let stack = Stack::start_open(NAMESPACE, PROJECT);
    let first = stack.pyoci(600, &[DOCUMENT_ON]);
    let second = stack.pyoci(600, &[DOCUMENT_ON]);
    stack.upload(&first, "1.0");
    stack.proxy.honour_conditionals(true);
    stack.proxy.set(
        FaultRule::new(Fault::Delay(Duration::from_secs(1)))
            .method("PUT")
            .path_contains(&format!("/manifests/{DOCUMENT_TAG}")),
    );
    thread::scope(|scope| {
        scope.spawn(|| stack.upload(&first, "2.0"));
        scope.spawn(|| stack.upload(&second, "3.0"));
    });
    assert!(
        stack.proxy.preconditions_failed() >= 1,
        "the two document updates raced\n{}\n{}",
        first.log(),
        second.log()
    );
    stack.proxy.clear();

    let reader = stack.pyoci(600, &[DOCUMENT_ON]);
    assert_eq!(
        stack.files(&reader, OWNER),
        [
            stack.wheel_name("3.0"),
            stack.wheel_name("2.0"),
            stack.wheel_name("1.0")
        ]
    );
    assert!(
        reader.wait_for_log("from_document=3 from_tags=0", Duration::from_secs(10)),
        "every version came from the document\n{}",
        reader.log()
    );
}

/// When the document can neither be updated nor deleted (every request for it refused),
/// the writing process stops trusting it, so its own listings read every version; its next
/// write builds the document afresh from every tag, and trusts it again.
#[test]
fn a_document_that_could_not_be_updated_nor_deleted_is_not_trusted_by_its_writer() {
    let stack = Stack::start(NAMESPACE, PROJECT);
    let writer = stack.pyoci(600, &[DOCUMENT_ON]);
    stack.upload(&writer, "1.0");
    stack.proxy.set(
        FaultRule::new(Fault::Status(500)).path_contains(&format!("/manifests/{DOCUMENT_TAG}")),
    );
    stack.upload_sdist(&writer, "1.0");
    assert!(
        writer.wait_for_log(
            "the stale listing document could not be deleted",
            Duration::from_secs(10)
        ),
        "{}",
        writer.log()
    );
    stack.proxy.clear();
    // The document in the registry still lacks the sdist; the writer does not use it.
    assert_eq!(
        stack.files(&writer, OWNER),
        [stack.wheel_name("1.0"), stack.sdist_name("1.0")],
        "{}",
        writer.log()
    );

    stack.upload(&writer, "2.0");
    let reader = stack.pyoci(600, &[DOCUMENT_ON]);
    assert_eq!(
        stack.files(&reader, OWNER),
        [
            stack.wheel_name("2.0"),
            stack.wheel_name("1.0"),
            stack.sdist_name("1.0")
        ]
    );
    assert!(
        reader.wait_for_log("from_document=2 from_tags=0", Duration::from_secs(10)),
        "the next write built the document afresh\n{}",
        reader.log()
    );
    stack.proxy.forget_seen();
    assert_eq!(
        stack.files(&writer, OWNER),
        [
            stack.wheel_name("2.0"),
            stack.wheel_name("1.0"),
            stack.sdist_name("1.0")
        ]
    );
    assert!(
        writer.wait_for_log("from_document=2 from_tags=0", Duration::from_secs(10)),
        "the writer trusts the document it built\n{}",
        writer.log()
    );
}

/// The original PyOCI lists a project holding the document, reading the real registry as
/// its `list_package_files` and `package_info_for_ref` (`src/pyoci.rs`) do: every tag, each
/// read with its `Accept` header and required to be an image index (by `Content-Type`) of
/// artifact type `application/pyoci.package.v1` whose entries all carry a platform; each
/// entry is a file. And its JSON route (`list_package_json`, `src/app.rs`) needs a file
/// under the last tag in sorted order.
#[test]
fn the_original_pyoci_lists_a_project_holding_the_document() {
    let stack = Stack::start_open(NAMESPACE, PROJECT);
    let writer = stack.pyoci(600, &[DOCUMENT_ON]);
    stack.upload(&writer, "1.0");
    stack.upload_sdist(&writer, "1.0");
    stack.upload(&writer, "2.0");
    let registry = stack.registry.url();
    let repository = format!("{NAMESPACE}/{PROJECT}");
    let tags = stack
        .http
        .get_with(&format!("{registry}/v2/{repository}/tags/list"), &[]);
    assert_eq!(tags.status, 200, "{}", tags.text());
    let mut tags: Vec<String> = serde_json::from_value(tags.json()["tags"].clone()).unwrap();
    tags.sort();
    assert!(tags.iter().any(|tag| tag == DOCUMENT_TAG), "{tags:?}");
    let accept =
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
    let mut files = Vec::new();
    let mut files_of_last = 0;
    for tag in tags.iter().rev() {
        let response = stack.http.get_with(
            &format!("{registry}/v2/{repository}/manifests/{tag}"),
            &[("Accept", accept)],
        );
        assert_eq!(response.status, 200, "{tag}: {}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("application/vnd.oci.image.index.v1+json"),
            "{tag}: the original takes nothing else"
        );
        let index = response.json();
        assert_eq!(
            index["artifactType"], "application/pyoci.package.v1",
            "{tag}"
        );
        let entries = index["manifests"].as_array().expect("manifests");
        for entry in entries {
            let architecture = entry["platform"]["architecture"]
                .as_str()
                .unwrap_or_else(|| panic!("{tag}: an entry without a platform"));
            files.push(format!("{tag}:{architecture}"));
        }
        if Some(tag) == tags.last() {
            files_of_last = entries.len();
        }
    }
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().all(|file| !file.starts_with(DOCUMENT_TAG)));
    assert!(files_of_last > 0, "the last tag holds a file: {tags:?}");
}
