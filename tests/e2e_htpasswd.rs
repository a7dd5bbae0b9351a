//! End to end against a registry with htpasswd (Basic) auth: PyOCI forwards the client's
//! credentials, and answers for the registry with a Basic challenge of its own.

mod support;

use pyoci_test_support::{run_checked, run_expecting_failure, HttpResponse, RegistryAuth};
use support::{dists, listed, text, Stack, MODULE, PROJECT};

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
