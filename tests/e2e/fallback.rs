//! End to end with the public fallback (`PYOCI_FALLBACK_INDEX`): a real second index
//! (pypiserver on 127.0.0.4, another host than PyOCI's 127.0.0.1), a real registry with
//! htpasswd auth, and real pip, uv and poetry. The public index logs every request with its
//! headers, so the tests count what reached it and check that no credential did.

use std::{fs, path::Path, process::Command};

use pyoci_test_support::{
    build_fixture, run_checked, run_expecting_failure, ClientHome, Fault, FaultProxy, FaultRule,
    PublicIndex, Pyoci, RegistryAuth, Venv,
};

use crate::support::{dists, text, Stack, MODULE, PROJECT};

const NAMESPACE: &str = "testns";
const ALICE: (&str, &str) = ("alice", "secret");
const USERS: &[(&str, &str)] = &[ALICE];
/// Only on the public index.
const PUBLIC: &str = "public-only";
/// On the public index only, under a name `PYOCI_PRIVATE_NAMES` claims.
const CLAIMED: &str = "acme-secret";
const PRIVATE_NAMES: &str = "acme-*,internal-tools";

/// The clients must reach both loopback hosts directly (the hermetic environment sends
/// anything else to a dead proxy).
const NO_PROXY: &str = "127.0.0.1,127.0.0.4,localhost";

/// The public index's packages: `public-only` 1.0.0, an impostor `hello-pyoci` 9.0.0 (a
/// higher version of the private project), and `acme-secret` 1.0.0 (a private name).
fn public_index() -> (tempfile::TempDir, PublicIndex) {
    let packages = tempfile::tempdir().unwrap();
    build_fixture(packages.path(), PUBLIC, "1.0.0", "public");
    build_fixture(packages.path(), PROJECT, "9.0.0", "impostor");
    build_fixture(packages.path(), CLAIMED, "1.0.0", "impostor");
    let index = PublicIndex::start(packages.path());
    (packages, index)
}

/// The registry with the private `hello-pyoci` 0.1.0, and a PyOCI falling back to `public`.
fn stack_with_fallback(public: &PublicIndex, extra: &[(&str, &str)]) -> Stack {
    let json = format!("{}/pypi/", public.base_url());
    let mut env = vec![
        ("PYOCI_FALLBACK_INDEX", public.simple_url()),
        ("PYOCI_FALLBACK_JSON", json),
        ("PYOCI_PRIVATE_NAMES", PRIVATE_NAMES.to_owned()),
        ("PYOCI_WRITE_SETTLE_MS", "0".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = Stack::start_with(RegistryAuth::Htpasswd(USERS), &env);
    stack.upload(NAMESPACE, ALICE, &dists("0.1.0", "original"));
    stack
}

fn with_no_proxy(command: &mut Command) -> &mut Command {
    command.env("NO_PROXY", NO_PROXY).env("no_proxy", NO_PROXY)
}

/// Asserts that requests for `project` reached the public index and none carried an
/// `Authorization` header (files included: they are served from the same host).
fn assert_fetched_without_credentials(public: &PublicIndex, project: &str, since: usize) {
    let requests = public.requests();
    let new = &requests[since.min(requests.len())..];
    assert!(
        new.iter().any(|r| r.path == format!("/simple/{project}/")),
        "the public index never saw /simple/{project}/:\n{}",
        public.log()
    );
    let with_credentials: Vec<_> = new.iter().filter(|r| r.authorization).collect();
    assert!(
        with_credentials.is_empty(),
        "credentials reached the public index: {with_credentials:#?}"
    );
}

fn greeting(venv: &Venv, module: &str) -> String {
    venv.import_attribute(module, "GREETING")
}

#[test]
fn pip_and_uv_install_public_packages_through_pyoci_without_sending_credentials() {
    let (_packages, public) = public_index();
    let stack = stack_with_fallback(&public, &[]);
    let index = stack.index_url_as(NAMESPACE, ALICE.0, ALICE.1);

    // The page redirects, temporarily and uncached, to the public page of the project.
    let page = stack.get(&stack.project_url(NAMESPACE, PUBLIC), Some(ALICE));
    assert_eq!(page.status, 302, "{}\n{}", page.text(), stack.logs());
    assert_eq!(
        page.header("location"),
        Some(format!("{}{PUBLIC}/", public.simple_url()).as_str())
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));

    let since = public.requests().len();
    let (_dir, venv) = stack.fresh_venv();
    run_checked(with_no_proxy(
        &mut stack.python.pip_install(&venv, &index, PUBLIC),
    ));
    assert!(greeting(&venv, "public_only").contains("public-only 1.0.0"));
    assert_fetched_without_credentials(&public, PUBLIC, since);
    // pip sent the same credentials to PyOCI: they were there to leak.
    assert!(stack.registry.log().contains("alice"), "{}", stack.logs());

    let since = public.requests().len();
    let (_dir, venv) = stack.fresh_venv();
    run_checked(with_no_proxy(
        &mut stack.python.uv_pip_install(&venv, &index, PUBLIC),
    ));
    assert!(greeting(&venv, "public_only").contains("public-only 1.0.0"));
    assert_fetched_without_credentials(&public, PUBLIC, since);

    // The private project wins whatever the public index holds under its name.
    for uv in [false, true] {
        let (_dir, venv) = stack.fresh_venv();
        let mut install = if uv {
            stack.python.uv_pip_install(&venv, &index, PROJECT)
        } else {
            stack.python.pip_install(&venv, &index, PROJECT)
        };
        run_checked(with_no_proxy(&mut install));
        assert_eq!(
            greeting(&venv, MODULE),
            "Hello from hello-pyoci 0.1.0 via PyOCI"
        );
    }
    assert_eq!(
        public.requests_for(PROJECT).len(),
        0,
        "{:#?}",
        public.requests()
    );
}

#[test]
fn poetry_installs_public_packages_through_pyoci_without_sending_credentials() {
    let (_packages, public) = public_index();
    let stack = stack_with_fallback(&public, &[]);
    let index = stack.index_url(NAMESPACE);
    let home = ClientHome::new();
    let project = tempfile::tempdir().unwrap();
    fs::write(
        project.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"consumer\"\nversion = \"0.1.0\"\n\
             requires-python = \">=3.8\"\ndependencies = [\"{PUBLIC}\", \"{PROJECT}\"]\n\n\
             [tool.poetry]\npackage-mode = false\n\n\
             [[tool.poetry.source]]\nname = \"pyoci\"\nurl = \"{index}\"\npriority = \"primary\"\n"
        ),
    )
    .unwrap();
    let since = public.requests().len();
    let mut install = home.command(&stack.python, "poetry", project.path());
    install
        .args(["install", "--no-root"])
        .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
        .env("POETRY_VIRTUALENVS_OPTIONS_NO_PIP", "true")
        .env("POETRY_HTTP_BASIC_PYOCI_USERNAME", ALICE.0)
        .env("POETRY_HTTP_BASIC_PYOCI_PASSWORD", ALICE.1);
    run_checked(with_no_proxy(&mut install));
    let venv = Venv::at(&project.path().join(".venv"));
    assert!(greeting(&venv, "public_only").contains("public-only 1.0.0"));
    assert_eq!(
        greeting(&venv, MODULE),
        "Hello from hello-pyoci 0.1.0 via PyOCI"
    );
    assert_fetched_without_credentials(&public, PUBLIC, since);
    assert_eq!(public.requests_for(PROJECT).len(), 0, "{}", public.log());
}

#[test]
fn private_names_and_missing_private_versions_never_fall_back() {
    let (_packages, public) = public_index();
    let stack = stack_with_fallback(&public, &[]);
    let index = stack.index_url_as(NAMESPACE, ALICE.0, ALICE.1);

    // A version only the public index has, of a project the registry knows: not found.
    let (_dir, venv) = stack.fresh_venv();
    let pip = run_expecting_failure(with_no_proxy(&mut stack.python.pip_install(
        &venv,
        &index,
        &format!("{PROJECT}==9.0.0"),
    )));
    assert!(text(&pip).contains("9.0.0"), "{}", text(&pip));
    let uv = run_expecting_failure(with_no_proxy(&mut stack.python.uv_pip_install(
        &venv,
        &index,
        &format!("{PROJECT}==9.0.0"),
    )));
    assert!(text(&uv).contains("9.0.0"), "{}", text(&uv));

    // A name PYOCI_PRIVATE_NAMES claims, never published: a clear 404, never the public one.
    let page = stack.get(&stack.project_url(NAMESPACE, CLAIMED), Some(ALICE));
    assert_eq!(page.status, 404, "{}", page.text());
    assert!(
        page.text().contains("PYOCI_PRIVATE_NAMES"),
        "{}",
        page.text()
    );
    let json = stack.get(
        &format!("{}json", stack.project_url(NAMESPACE, CLAIMED)),
        Some(ALICE),
    );
    assert_eq!(json.status, 404, "{}", json.text());
    let pip = run_expecting_failure(with_no_proxy(
        &mut stack.python.pip_install(&venv, &index, CLAIMED),
    ));
    assert!(text(&pip).contains(CLAIMED), "{}", text(&pip));

    assert_eq!(public.requests_for(PROJECT).len(), 0, "{}", public.log());
    assert_eq!(public.requests_for(CLAIMED).len(), 0, "{}", public.log());

    // hatch's probe for existing files before an upload (devpi's `+simple/`) sees private
    // files only: a public file of the same name must not make it skip the upload.
    let probe = stack.get(
        &format!("{}+simple/{PUBLIC}/", stack.index_url(NAMESPACE)),
        Some(ALICE),
    );
    assert_eq!(probe.status, 404, "{}", probe.text());
    let probe = stack.get(
        &format!("{}+simple/{PROJECT}/", stack.index_url(NAMESPACE)),
        Some(ALICE),
    );
    assert_eq!(probe.status, 200, "{}", probe.text());

    // The namespace's list stays private; /json redirects to the public JSON API.
    let list = stack.get(&stack.index_url(NAMESPACE), Some(ALICE));
    assert_eq!(list.status, 200, "{}", list.text());
    assert!(list.text().contains(PROJECT) && !list.text().contains(PUBLIC));
    let json = stack.get(
        &format!("{}json", stack.project_url(NAMESPACE, PUBLIC)),
        Some(ALICE),
    );
    assert_eq!(json.status, 302, "{}", json.text());
    assert_eq!(
        json.header("location"),
        Some(format!("{}/pypi/{PUBLIC}/json", public.base_url()).as_str())
    );
    let private_json = stack.get(
        &format!("{}json", stack.project_url(NAMESPACE, PROJECT)),
        Some(ALICE),
    );
    assert_eq!(private_json.status, 200, "{}", private_json.text());
}

/// The page of `project` through PyOCI with the registry at `registry_segment`.
fn page_via(stack: &Stack, registry_segment: &str, project: &str) -> (u16, String) {
    let url = format!(
        "{}/{registry_segment}/{NAMESPACE}/{project}/",
        stack.pyoci.base_url()
    );
    let page = stack.get(&url, Some(ALICE));
    (page.status, page.text())
}

#[test]
fn registry_errors_never_fall_back() {
    let (_packages, public) = public_index();
    let mut stack = stack_with_fallback(&public, &[]);
    let proxy = FaultProxy::start(&stack.registry);
    let via_proxy = proxy.url_segment();

    // Without a fault the name falls back: the faults below are what stops it.
    let (status, body) = page_via(&stack, &via_proxy, PUBLIC);
    assert_eq!(status, 302, "{body}\n{}", stack.logs());

    for (fault, expected) in [(401, 401), (403, 403), (429, 429), (500, 502), (503, 503)] {
        let injected = proxy.faults_injected();
        proxy.set(FaultRule::new(Fault::Status(fault)).path_contains("public_only"));
        let (status, body) = page_via(&stack, &via_proxy, PUBLIC);
        assert_eq!(
            status,
            expected,
            "registry {fault}: {body}\n{}",
            stack.logs()
        );
        assert!(
            proxy.faults_injected() > injected,
            "no {fault} was injected"
        );
        proxy.clear();
    }

    // A registry that is down: behind a load balancer (502), and unreachable.
    stack.registry.stop();
    let (status, body) = page_via(&stack, &via_proxy, PUBLIC);
    assert_eq!(status, 502, "{body}");
    let dead = format!(
        "http%3A%2F%2F127.0.0.1%3A{}",
        pyoci_test_support::free_port()
    );
    let (status, body) = page_via(&stack, &dead, PUBLIC);
    assert_eq!(status, 502, "{body}");

    assert_eq!(
        public.requests_for(PUBLIC).len(),
        0,
        "the public index was asked during a registry fault:\n{}",
        public.log()
    );
}

#[test]
fn denied_falls_back_only_where_the_operator_opted_in() {
    // A mock of a hosted registry's quirk (ghcr.io, Docker Hub, ACR, Quay, GAR answer
    // 401/403 for names that do not exist), which the distribution registry does not have.
    let (_packages, public) = public_index();
    let stack = stack_with_fallback(&public, &[]);
    let proxy = FaultProxy::start(&stack.registry);
    proxy.set(FaultRule::new(Fault::Status(403)).path_contains("public_only"));

    let (status, body) = page_via(&stack, &proxy.url_segment(), PUBLIC);
    assert_eq!(status, 403, "{body}");

    let opted_in = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[
            ("PYOCI_FALLBACK_INDEX", &public.simple_url()),
            ("PYOCI_PRIVATE_NAMES", PRIVATE_NAMES),
            ("PYOCI_FALLBACK_ON_DENIED", &proxy.host_port()),
        ],
    );
    let url = |project: &str| {
        format!(
            "{}/{}/{NAMESPACE}/{project}/",
            opted_in.base_url(),
            proxy.url_segment()
        )
    };
    let page = stack.get(&url(PUBLIC), Some(ALICE));
    assert_eq!(page.status, 302, "{}\n{}", page.text(), opted_in.log());
    // Private names stay private even there, and so do projects the registry lists.
    proxy.set(FaultRule::new(Fault::Status(403)).path_contains("acme_secret"));
    assert_eq!(stack.get(&url(CLAIMED), Some(ALICE)).status, 404);
    assert_eq!(stack.get(&url(PROJECT), Some(ALICE)).status, 200);
    assert!(proxy.faults_injected() >= 2);
    assert_eq!(public.requests().len(), 0, "{}", public.log());
}
