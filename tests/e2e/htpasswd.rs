//! End to end against a registry with htpasswd (Basic) auth: PyOCI forwards the client's
//! credentials, and answers for the registry with a Basic challenge of its own. A password
//! changed at the registry ends what PyOCI's caches give the old one as soon as the
//! registry refuses it once.

use std::time::{Duration, Instant};

use pyoci_test_support::{
    basic_auth, run_checked, run_expecting_failure, sha256_hex, HttpResponse, RegistryAuth,
};

use crate::support::{dists, listed, text, Stack, MODULE, PROJECT};

const NAMESPACE: &str = "testns";
const ALICE: (&str, &str) = ("alice", "secret");
const USERS: &[(&str, &str)] = &[ALICE];

fn assert_basic_challenge(response: &HttpResponse, stack: &Stack) {
    assert_eq!(
        response.status,
        401,
        "{}\n{}",
        response.text(),
        stack.logs()
    );
    assert_eq!(
        response.header("www-authenticate"),
        Some("Basic realm=\"pyoci\""),
        "{:?}",
        response.headers
    );
}

#[test]
fn alice_uploads_and_installs_with_her_credentials() {
    let stack = Stack::start(RegistryAuth::Htpasswd(USERS));
    let dists = dists("0.1.0", "original");
    stack.upload(NAMESPACE, ALICE, &dists);

    let page = stack.get(&stack.project_url(NAMESPACE, PROJECT), Some(ALICE));
    assert_eq!(page.status, 200, "{}\n{}", page.text(), stack.logs());
    assert_eq!(listed(&page).len(), 2, "{}", page.text());

    let (_dir, venv) = stack.fresh_venv();
    let index = stack.index_url_as(NAMESPACE, ALICE.0, ALICE.1);
    run_checked(
        &mut stack
            .python
            .pip_install(&venv, &index, "hello-pyoci==0.1.0"),
    );
    assert_eq!(
        venv.import_attribute(MODULE, "GREETING"),
        "Hello from hello-pyoci 0.1.0 via PyOCI"
    );

    let index = stack.skopeo_index("testns/hello_pyoci:0.1.0", Some(ALICE));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");
}

#[test]
fn wrong_passwords_are_rejected_with_a_basic_challenge() {
    let stack = Stack::start(RegistryAuth::Htpasswd(USERS));
    stack.upload(NAMESPACE, ALICE, &dists("0.1.0", "original"));
    let wrong = ("alice", "not-the-password");

    let page = stack.get(&stack.project_url(NAMESPACE, PROJECT), Some(wrong));
    assert_basic_challenge(&page, &stack);

    let (_dir, venv) = stack.fresh_venv();
    let index = stack.index_url_as(NAMESPACE, wrong.0, wrong.1);
    let pip = run_expecting_failure(&mut stack.python.pip_install(
        &venv,
        &index,
        "hello-pyoci==0.1.0",
    ));
    assert!(text(&pip).contains("401"), "pip said:\n{}", text(&pip));

    let upload = run_expecting_failure(&mut stack.twine_upload(
        NAMESPACE,
        wrong,
        &[&dists("0.1.0", "original").wheel],
    ));
    assert!(
        text(&upload).contains("401"),
        "twine said:\n{}",
        text(&upload)
    );
}

#[test]
fn missing_credentials_get_a_basic_challenge() {
    let stack = Stack::start(RegistryAuth::Htpasswd(USERS));
    stack.upload(NAMESPACE, ALICE, &dists("0.1.0", "original"));

    let page = stack.get(&stack.project_url(NAMESPACE, PROJECT), None);
    assert_basic_challenge(&page, &stack);
    let file = stack.get(
        &format!(
            "{}{}",
            stack.project_url(NAMESPACE, PROJECT),
            dists("0.1.0", "original").wheel_name()
        ),
        None,
    );
    assert_basic_challenge(&file, &stack);

    let (_dir, venv) = stack.fresh_venv();
    run_expecting_failure(&mut stack.python.pip_install(
        &venv,
        &stack.index_url(NAMESPACE),
        "hello-pyoci==0.1.0",
    ));
}

/// Within the TTL, the acceptance a page read recorded answers `.metadata` (from memory),
/// `HEAD` and revalidations of the old password without asking the registry. The first
/// refusal the registry answers that password (here a range, which always asks it) ends all
/// of that at once, well before the TTL.
#[test]
fn a_refusal_of_a_changed_password_ends_what_the_caches_give_it_at_once() {
    const TTL: Duration = Duration::from_secs(60);
    const CACHED: &str = "cachedpkg";
    let stack = Stack::start_with(
        RegistryAuth::Htpasswd(USERS),
        &[("PYOCI_CACHE_TTL", "60"), ("PYOCI_WRITE_SETTLE_MS", "0")],
    );
    let old = basic_auth(ALICE.0, ALICE.1);
    let old = [("Authorization", old.as_str())];
    let (filename, wheel) = stack.upload_wheel(NAMESPACE, CACHED, b"revoked within the TTL", &old);

    let page_url = stack.project_url(NAMESPACE, CACHED);
    let file_url = format!("{page_url}{filename}");
    let metadata_url = format!("{file_url}.metadata");
    let etag = format!("\"{}\"", sha256_hex(&wheel));
    let with = |extra: (&'static str, &'static str)| {
        let mut headers = old.to_vec();
        headers.push(extra);
        headers
    };
    let range = with(("Range", "bytes=0-9"));
    let revalidation = {
        let mut headers = old.to_vec();
        headers.push(("If-None-Match", etag.as_str()));
        headers
    };
    let page = stack.http.get_with(&page_url, &old);
    assert_eq!(page.status, 200, "{}\n{}", page.text(), stack.logs());
    let read_at = Instant::now();
    let metadata = stack.http.get_with(&metadata_url, &old);
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    assert!(!metadata.body.is_empty());

    stack
        .registry
        .set_htpasswd_users(&[(ALICE.0, "a-new-password")]);
    // The registry itself refuses the old password from now on.
    let direct = stack.get(
        &format!("{}/v2/{NAMESPACE}/{CACHED}/tags/list", stack.registry.url()),
        Some(ALICE),
    );
    assert_eq!(
        direct.status, 401,
        "the registry still takes the old password"
    );

    // Until the registry is asked, the caches answer the old password: so they were in
    // play, and what follows is their doing.
    let head = stack.http.request("HEAD", &file_url, &old, None);
    assert_eq!(
        head.status,
        200,
        "a HEAD before any refusal\n{}",
        stack.logs()
    );
    let before = stack.http.get_with(&metadata_url, &old);
    assert_eq!(
        (before.status, &before.body),
        (200, &metadata.body),
        "a .metadata GET before any refusal"
    );
    let not_modified = stack.http.get_with(&file_url, &revalidation);
    assert_eq!(
        not_modified.status, 304,
        "a revalidation before any refusal"
    );
    assert_eq!(stack.http.get_with(&page_url, &old).status, 200, "the page");

    // One refusal: a range is always asked of the registry.
    let refused = stack.http.get_with(&file_url, &range);
    assert_eq!(refused.status, 401, "{}\n{}", refused.text(), stack.logs());

    for (what, method, url, headers) in [
        ("a .metadata GET", "GET", &metadata_url, old.to_vec()),
        ("a HEAD", "HEAD", &file_url, old.to_vec()),
        ("a range GET", "GET", &file_url, range.clone()),
        ("a revalidation", "GET", &file_url, revalidation.clone()),
        ("the page", "GET", &page_url, old.to_vec()),
    ] {
        let response = stack.http.request(method, url, &headers, None);
        assert_eq!(
            response.status,
            401,
            "{what} after the refusal: {}\n{}",
            response.text(),
            stack.logs()
        );
    }
    assert!(
        read_at.elapsed() < TTL / 2,
        "the old password's entries would have expired or been refreshed anyway"
    );

    // The new password is the registry's to judge, and it accepts it.
    let new = basic_auth(ALICE.0, "a-new-password");
    let new = [("Authorization", new.as_str())];
    assert_eq!(
        stack.http.request("HEAD", &file_url, &new, None).status,
        200
    );
}
