//! End to end against a token-auth registry (the ghcr.io / Docker Hub scheme): PyOCI trades
//! the client's Basic credentials for Bearer tokens at the registry's issuer, and caches them.

use std::path::Path;

use pyoci_test_support::{
    basic_auth, run_checked, run_expecting_failure, upload_form, Pyoci, RegistryAuth, TokenIssuer,
    ALICE, BOB,
};

use crate::support::{dists, listed, text, Stack, MODULE, PROJECT};

const NAMESPACE: &str = "testns";
const GREETING: &str = "Hello from hello-pyoci 0.1.0 via PyOCI";

fn start() -> (Stack, TokenIssuer) {
    let issuer = TokenIssuer::start();
    let stack = Stack::start(RegistryAuth::Token(issuer.clone()));
    (stack, issuer)
}

#[test]
fn alice_uploads_and_installs() {
    let (stack, issuer) = start();
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
    assert_eq!(venv.import_attribute(MODULE, "GREETING"), GREETING);

    let index = stack.skopeo_index("testns/hello_pyoci:0.1.0", Some(ALICE));
    assert_eq!(index["artifactType"], "application/pyoci.package.v1");
    assert!(
        issuer
            .grants()
            .iter()
            .any(|grant| grant.user.as_deref() == Some("alice")
                && grant
                    .access
                    .iter()
                    .any(|access| access.name == "testns/hello_pyoci"
                        && access.actions.iter().any(|action| action == "push"))),
        "PyOCI never got a push token for alice: {:?}",
        issuer.grants()
    );
}

#[test]
fn wrong_passwords_get_401_with_a_basic_challenge() {
    let (stack, _issuer) = start();
    stack.upload(NAMESPACE, ALICE, &dists("0.1.0", "original"));

    let page = stack.get(
        &stack.project_url(NAMESPACE, PROJECT),
        Some((ALICE.0, "wrong")),
    );
    assert_eq!(page.status, 401, "{}\n{}", page.text(), stack.logs());
    assert_eq!(
        page.header("www-authenticate"),
        Some("Basic realm=\"pyoci\"")
    );

    let (_dir, venv) = stack.fresh_venv();
    let index = stack.index_url_as(NAMESPACE, ALICE.0, "wrong");
    let pip = run_expecting_failure(&mut stack.python.pip_install(
        &venv,
        &index,
        "hello-pyoci==0.1.0",
    ));
    assert!(text(&pip).contains("401"), "pip said:\n{}", text(&pip));
}

#[test]
fn anonymous_clients_install_from_the_public_namespace() {
    let (stack, _issuer) = start();
    stack.upload("public", ALICE, &dists("0.1.0", "original"));

    let page = stack.get(&stack.project_url("public", PROJECT), None);
    assert_eq!(page.status, 200, "{}\n{}", page.text(), stack.logs());

    let (_dir, venv) = stack.fresh_venv();
    run_checked(&mut stack.python.pip_install(
        &venv,
        &stack.index_url("public"),
        "hello-pyoci==0.1.0",
    ));
    assert_eq!(venv.import_attribute(MODULE, "GREETING"), GREETING);

    // Outside `public/`, anonymous clients are asked for credentials.
    stack.upload(NAMESPACE, ALICE, &dists("0.1.0", "original"));
    let private = stack.get(&stack.project_url(NAMESPACE, PROJECT), None);
    assert_eq!(private.status, 401, "{}", private.text());
}

#[test]
fn bob_cannot_upload() {
    let (stack, _issuer) = start();
    let dists = dists("0.1.0", "original");

    let twine = run_expecting_failure(&mut stack.twine_upload(NAMESPACE, BOB, &[&dists.wheel]));
    let said = text(&twine);
    assert!(said.contains("403"), "twine said:\n{said}");

    let direct = stack.http.post_multipart(
        &stack.index_url(NAMESPACE),
        upload_form(&dists.wheel, PROJECT, "0.1.0"),
        &[(
            "Authorization",
            &pyoci_test_support::basic_auth(BOB.0, BOB.1),
        )],
    );
    // Bob is known to the registry but may not push: 403, not a prompt for credentials.
    assert!(
        direct.status == 403,
        "bob's upload answered {}: {}\n{}",
        direct.status,
        direct.text(),
        stack.logs()
    );

    // Nothing was stored: alice sees no such project.
    let page = stack.get(&stack.project_url(NAMESPACE, PROJECT), Some(ALICE));
    assert_eq!(page.status, 404, "{}", page.text());
}

/// A yank is a write even when it changes nothing (the file is already yanked, or not
/// yanked): bob, who may pull but not push, is refused whatever the index already says, and
/// alice is answered 200 for the same requests.
#[test]
fn bob_cannot_yank_even_when_the_yank_would_change_nothing() {
    const YANKED: &str = "yankpkg";
    let (stack, _issuer) = start();
    let alice = basic_auth(ALICE.0, ALICE.1);
    let alice = [("Authorization", alice.as_str())];
    let bob = basic_auth(BOB.0, BOB.1);
    let bob = [("Authorization", bob.as_str())];
    stack.upload_wheel(NAMESPACE, YANKED, b"yanked by pushers only", &alice);
    let page_url = stack.project_url(NAMESPACE, YANKED);
    let yanked = |who: &[(&str, &str)]| {
        let page = stack.http.get_with(
            &page_url,
            &[who, &[("Accept", "application/vnd.pypi.simple.v1+json")]].concat(),
        );
        assert_eq!(page.status, 200, "{}\n{}", page.text(), stack.logs());
        let yanked = &page.json()["files"][0]["yanked"];
        // PEP 691: `false`, or `true` or the reason when yanked.
        !(yanked.is_null() || *yanked == false)
    };
    // Bob may read: a refusal below is about pushing.
    assert!(!yanked(&bob));

    let post = |action: &str, who: &[(&str, &str)]| {
        let url = format!("{page_url}{action}/1.0");
        stack.http.request("POST", &url, who, None)
    };
    let steps = [
        (
            "bob unyanks what is not yanked",
            "+unyank",
            &bob,
            403,
            false,
        ),
        (
            "alice unyanks what is not yanked",
            "+unyank",
            &alice,
            200,
            false,
        ),
        ("alice yanks", "+yank", &alice, 200, true),
        ("bob yanks what is yanked", "+yank", &bob, 403, true),
        ("alice yanks what is yanked", "+yank", &alice, 200, true),
    ];
    for (what, action, who, status, after) in steps {
        let answer = post(action, who);
        assert_eq!(
            answer.status,
            status,
            "{what}: {}\n{}",
            answer.text(),
            stack.logs()
        );
        assert_eq!(yanked(&alice), after, "{what}");
    }
}

#[test]
fn tokens_are_cached_between_listings() {
    let (stack, issuer) = start();
    stack.upload(NAMESPACE, ALICE, &dists("0.1.0", "original"));
    // A second PyOCI that has not seen alice yet, so its first listing needs a token.
    let fresh = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
    let page_url = format!("{}{PROJECT}/", fresh.index_url(&stack.registry, NAMESPACE));
    let before = issuer.token_requests();

    let first = stack.get(&page_url, Some(ALICE));
    assert_eq!(first.status, 200, "{}\n{}", first.text(), fresh.log());
    let after_first = issuer.token_requests();
    assert!(
        after_first > before,
        "a PyOCI without cached tokens listed a token-auth registry without a token"
    );

    let second = stack.get(&page_url, Some(ALICE));
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.body, first.body);
    eprintln!(
        "token requests at the issuer: first listing {}, second listing {}",
        after_first - before,
        issuer.token_requests() - after_first
    );
    assert_eq!(
        issuer.token_requests(),
        after_first,
        "the second listing fetched a new token; grants: {:?}",
        issuer.grants()
    );
}

#[test]
fn a_token_service_on_another_host_gets_the_users_credentials() {
    // Docker Hub's and GitLab.com's layout: the registry (here addressed as 127.0.0.1) names
    // a token service on another host (here `localhost`).
    let issuer = TokenIssuer::builder()
        .user(
            ALICE.0,
            ALICE.1,
            vec![pyoci_test_support::Rule::everything()],
        )
        .realm_host("localhost")
        .start();
    assert!(issuer.realm().starts_with("http://localhost:"));
    let stack = Stack::start(RegistryAuth::Token(issuer.clone()));
    let dists = dists("0.1.0", "original");

    run_checked(&mut stack.twine_upload(NAMESPACE, ALICE, &[&dists.sdist, &dists.wheel]));
    let (_dir, venv) = stack.fresh_venv();
    let index = stack.index_url_as(NAMESPACE, ALICE.0, ALICE.1);
    run_checked(
        &mut stack
            .python
            .pip_install(&venv, &index, "hello-pyoci==0.1.0"),
    );
    assert_eq!(venv.import_attribute(MODULE, "GREETING"), GREETING);
    let grants = issuer.grants();
    assert!(
        grants
            .iter()
            .any(|grant| grant.user.as_deref() == Some("alice")
                && grant
                    .access
                    .iter()
                    .any(|access| access.actions.iter().any(|action| action == "push"))),
        "the token service on localhost never got alice's credentials: {grants:?}"
    );
}
