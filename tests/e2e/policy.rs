//! End to end: PyOCI is not an open proxy. Registries on private addresses are refused unless
//! allowed, `PYOCI_REGISTRIES` limits which registries are served (and lets one fixed registry
//! be left out of URLs), and token services on other hosts get no credentials.

use std::path::Path;

use pyoci_test_support::{
    basic_auth, run_checked, upload_form, ForwardProxy, HttpClient, HttpResponse, Pyoci, Registry,
    RegistryAuth, TokenIssuer, ALICE,
};

use crate::support::{dists, listed, MODULE, PROJECT};

const NAMESPACE: &str = "policyns";
const ANY: (&str, &str) = ("any", "any");
const GREETING: &str = "Hello from hello-pyoci 0.1.0 via PyOCI";
/// The test-support default allows private registries; these tests mostly do not.
const STRICT: (&str, &str) = ("PYOCI_ALLOW_PRIVATE_REGISTRIES", "false");

fn pyoci(env: &[(&str, &str)]) -> Pyoci {
    Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), env)
}

/// How many requests from PyOCI (its user agent, `pyoci/<version>`) the registry logged.
fn requests_from_pyoci(registry: &Registry) -> usize {
    registry.log().matches("\"pyoci/").count()
}

/// `http%3A%2F%2F<authority>`: a plain-http registry as a URL segment.
fn http_segment(authority: &str) -> String {
    format!("http://{authority}")
        .replace(':', "%3A")
        .replace('/', "%2F")
}

fn page_url(pyoci: &Pyoci, registry_segment: &str) -> String {
    format!(
        "{}/{registry_segment}/{NAMESPACE}/{PROJECT}/",
        pyoci.base_url()
    )
}

fn assert_forbidden(response: &HttpResponse, expected: &[&str], logs: &str) {
    assert_eq!(response.status, 403, "{}\n{logs}", response.text());
    for part in expected {
        assert!(
            response.text().contains(part),
            "`{part}` not in: {}",
            response.text()
        );
    }
}

#[test]
fn private_registries_are_refused_by_default() {
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = pyoci(&[STRICT]);
    let http = HttpClient::new();
    let message = [
        "resolves to a private address",
        "set PYOCI_ALLOW_PRIVATE_REGISTRIES=true",
    ];

    let by_address = http.get(&page_url(&pyoci, &registry.url_segment()));
    assert_forbidden(&by_address, &message, &pyoci.log());
    assert!(
        by_address.text().contains("registry 127.0.0.1 resolves"),
        "{}",
        by_address.text()
    );

    let upload = http.post_multipart(
        &pyoci.index_url(&registry, NAMESPACE),
        upload_form(&dists("0.1.0", "original").wheel, PROJECT, "0.1.0"),
        &[],
    );
    assert_forbidden(&upload, &message, &pyoci.log());

    // A name is checked by the address it resolves to.
    let by_name = http.get(&page_url(
        &pyoci,
        &http_segment(&format!("localhost:{}", registry.port())),
    ));
    assert_forbidden(&by_name, &message, &pyoci.log());
    assert!(
        by_name.text().contains("registry localhost resolves"),
        "{}",
        by_name.text()
    );

    // So is an IPv4-mapped IPv6 address.
    let mapped = http.get(&page_url(
        &pyoci,
        &http_segment(&format!("[::ffff:127.0.0.1]:{}", registry.port())),
    ));
    assert_forbidden(&mapped, &message, &pyoci.log());

    assert_eq!(requests_from_pyoci(&registry), 0, "{}", registry.log());
}

#[test]
fn an_allow_list_serves_only_its_registries_even_on_private_addresses() {
    let registry = Registry::start(RegistryAuth::None);
    let other = Registry::start(RegistryAuth::None);
    let allowed = format!("{},https://registry.invalid", registry.url());
    let pyoci = pyoci(&[STRICT, ("PYOCI_REGISTRIES", &allowed)]);
    let http = HttpClient::new();
    let python = pyoci_test_support::Python::locate();

    let dists = dists("0.1.0", "original");
    run_checked(&mut python.twine_upload(
        &pyoci.index_url(&registry, NAMESPACE),
        ANY.0,
        ANY.1,
        &[&dists.sdist, &dists.wheel],
    ));
    let page = http.get(&page_url(&pyoci, &registry.url_segment()));
    assert_eq!(page.status, 200, "{}\n{}", page.text(), pyoci.log());
    assert_eq!(listed(&page).len(), 2, "{}", page.text());

    let not_allowed = [
        "is not allowed on this PyOCI; allowed: ",
        &format!("{}, https://registry.invalid", registry.url()),
    ];
    let unlisted = http.get(&page_url(&pyoci, &other.url_segment()));
    assert_forbidden(&unlisted, &not_allowed, &pyoci.log());
    assert!(
        unlisted
            .text()
            .contains(&format!("registry {} is not allowed", other.url())),
        "{}",
        unlisted.text()
    );
    let unlisted_upload = http.post_multipart(
        &pyoci.index_url(&other, NAMESPACE),
        upload_form(&dists.wheel, PROJECT, "0.1.0"),
        &[],
    );
    assert_forbidden(&unlisted_upload, &not_allowed, &pyoci.log());
    let public = http.get(&page_url(&pyoci, "quay.io"));
    assert_forbidden(&public, &not_allowed, &pyoci.log());
    assert_eq!(requests_from_pyoci(&other), 0, "{}", other.log());
}

#[test]
fn one_listed_registry_can_be_left_out_of_urls() {
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = pyoci(&[STRICT, ("PYOCI_REGISTRIES", &registry.url())]);
    let http = HttpClient::new();
    let python = pyoci_test_support::Python::locate();
    let fixed_index = format!("{}/{NAMESPACE}/", pyoci.base_url());

    let dists = dists("0.1.0", "original");
    run_checked(&mut python.twine_upload(
        &fixed_index,
        ANY.0,
        ANY.1,
        &[&dists.sdist, &dists.wheel],
    ));

    let dir = tempfile::tempdir().unwrap();
    let venv = python.new_venv(&dir.path().join("venv"));
    run_checked(&mut python.pip_install(&venv, &fixed_index, "hello-pyoci==0.1.0"));
    assert_eq!(venv.import_attribute(MODULE, "GREETING"), GREETING);

    // The full form still works, and names the registry it lists.
    let full = http.get(&page_url(&pyoci, &registry.url_segment()));
    assert_eq!(full.status, 200, "{}\n{}", full.text(), pyoci.log());
    assert_eq!(listed(&full).len(), 2, "{}", full.text());
    let short = http.get(&format!("{fixed_index}{PROJECT}/"));
    assert_eq!(short.status, 200, "{}\n{}", short.text(), pyoci.log());

    // A segment with a scheme names a registry, never a namespace.
    let other = http.get(&page_url(&pyoci, "https%3A%2F%2Fghcr.io"));
    assert_forbidden(
        &other,
        &["registry https://ghcr.io is not allowed on this PyOCI; allowed: http://127.0.0.1:"],
        &pyoci.log(),
    );
}

#[test]
fn token_services_get_credentials_within_the_realm_rule() {
    let issuer = TokenIssuer::start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let http = HttpClient::new();
    let alice = [("Authorization", basic_auth(ALICE.0, ALICE.1))];
    let alice: Vec<(&str, &str)> = alice.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let python = pyoci_test_support::Python::locate();
    let dists = dists("0.1.0", "original");
    let by_address = pyoci(&[]);
    run_checked(&mut python.twine_upload(
        &by_address.index_url(&registry, NAMESPACE),
        ALICE.0,
        ALICE.1,
        &[&dists.sdist, &dists.wheel],
    ));

    // Named `localhost`, the registry is on another host than its token service (on
    // 127.0.0.1): by default the token service it names gets alice's credentials.
    let localhost = http_segment(&format!("localhost:{}", registry.port()));
    let lenient = pyoci(&[]);
    let before = issuer.grants().len();
    let page = http.get_with(&page_url(&lenient, &localhost), &alice);
    assert_eq!(page.status, 200, "{}\n{}", page.text(), lenient.log());
    assert_eq!(listed(&page).len(), 2, "{}", page.text());
    assert!(
        issuer.grants()[before..]
            .iter()
            .any(|grant| grant.user.as_deref() == Some("alice")),
        "{:?}",
        issuer.grants()
    );

    // Narrowed to the registry's own host, the other host is asked anonymously: alice's
    // password stays with PyOCI and the anonymous token cannot read the namespace.
    let narrowed = pyoci(&[("PYOCI_CREDENTIAL_REALMS", "same-host")]);
    let before = issuer.grants().len();
    let page = http.get_with(&page_url(&narrowed, &localhost), &alice);
    assert_eq!(page.status, 401, "{}\n{}", page.text(), narrowed.log());
    let grants = issuer.grants();
    assert!(grants.len() > before, "{grants:?}");
    assert!(
        grants[before..].iter().all(|grant| grant.user.is_none()),
        "{grants:?}"
    );
    assert!(
        narrowed.log().contains("not in PYOCI_CREDENTIAL_REALMS"),
        "{}",
        narrowed.log()
    );

    // Narrowed to a list that names the token service's host, it gets them again.
    let listed_realm = pyoci(&[("PYOCI_CREDENTIAL_REALMS", "auth.invalid,127.0.0.1")]);
    let before = issuer.grants().len();
    let page = http.get_with(&page_url(&listed_realm, &localhost), &alice);
    assert_eq!(page.status, 200, "{}\n{}", page.text(), listed_realm.log());
    assert!(
        issuer.grants()[before..]
            .iter()
            .any(|grant| grant.user.as_deref() == Some("alice")),
        "{:?}",
        issuer.grants()
    );

    // A token service on a private address is refused like a registry, unless listed: the
    // credentials never leave.
    let registry_only = format!("http://localhost:{}", registry.port());
    let strict = pyoci(&[STRICT, ("PYOCI_REGISTRIES", &registry_only)]);
    let requests = issuer.token_requests();
    let page = http.get_with(&page_url(&strict, &localhost), &alice);
    assert_forbidden(
        &page,
        &["registry 127.0.0.1 resolves to a private address"],
        &strict.log(),
    );
    assert_eq!(issuer.token_requests(), requests);

    // Trust is per origin: listing the registry at 127.0.0.1 does not trust the token
    // service on another port of 127.0.0.1.
    let by_origin = pyoci(&[STRICT, ("PYOCI_REGISTRIES", &registry.url())]);
    let requests = issuer.token_requests();
    let page = http.get_with(&page_url(&by_origin, &registry.url_segment()), &alice);
    assert_forbidden(
        &page,
        &["registry 127.0.0.1 resolves to a private address"],
        &by_origin.log(),
    );
    assert_eq!(issuer.token_requests(), requests);

    // Listing the token service's origin allows it.
    let listed_hosts = format!(
        "http://localhost:{},http://127.0.0.1:{}",
        registry.port(),
        issuer.port()
    );
    let trusting = pyoci(&[STRICT, ("PYOCI_REGISTRIES", &listed_hosts)]);
    let before = issuer.grants().len();
    let page = http.get_with(&page_url(&trusting, &localhost), &alice);
    assert_eq!(page.status, 200, "{}\n{}", page.text(), trusting.log());
    assert_eq!(listed(&page).len(), 2, "{}", page.text());
    assert!(
        issuer.grants()[before..]
            .iter()
            .any(|grant| grant.user.as_deref() == Some("alice")),
        "{:?}",
        issuer.grants()
    );
}

#[test]
fn impossible_registry_names_get_400_before_any_lookup() {
    let pyoci = pyoci(&[STRICT]);
    let http = HttpClient::new();
    let long_label = format!("{}.com", "a".repeat(70));
    let long_host = format!("{}.com", ["abcdefghij"; 30].join("."));
    let cases = [
        ("ghcr.io%3A99999".to_owned(), "out of range"),
        (http_segment("registry.test:5000."), "is not a number"),
        ("%5Bfe80%3A%3A1%2525lo%5D".to_owned(), "zone identifiers"),
        ("a..b.com".to_owned(), "empty label"),
        ("-bad-.com".to_owned(), "starts or ends with `-`"),
        (long_label, "labels have at most 63"),
        (long_host, "at most 253"),
    ];
    for (segment, expected) in cases {
        let page = http.get(&page_url(&pyoci, &segment));
        assert_eq!(page.status, 400, "{segment}: {}", page.text());
        assert!(page.text().contains(expected), "{segment}: {}", page.text());
        assert!(page.text().contains("is not a registry"), "{}", page.text());
    }
    // Refused while reading the URL: no lookup, no connection attempt was logged.
    let log = pyoci.log();
    assert!(!log.contains("resolve") && !log.contains("dns"), "{log}");
}

#[test]
fn an_oversized_yank_body_is_413_with_or_without_a_length() {
    let pyoci = pyoci(&[]);
    let http = HttpClient::new();
    let yank = format!(
        "{}/ghcr.io/{NAMESPACE}/{PROJECT}/+yank/0.1.0",
        pyoci.base_url()
    );
    let body = vec![b' '; 200 * 1024];
    let sized = http.request("POST", &yank, &[], Some(body.clone()));
    assert_eq!(sized.status, 413, "{}", sized.text());
    let chunks = body.chunks(8 * 1024).map(<[u8]>::to_vec).collect();
    let chunked = http.request_chunked("POST", &yank, &[], chunks);
    assert_eq!(chunked.status, 413, "{}", chunked.text());
}

#[test]
fn behind_a_proxy_registry_names_are_checked_before_the_proxy() {
    let registry = Registry::start(RegistryAuth::None);
    let proxy = ForwardProxy::start();
    let http = HttpClient::new();
    let localhost = http_segment(&format!("localhost:{}", registry.port()));
    let proxy_url = proxy.url();
    let behind_proxy = [STRICT, ("HTTP_PROXY", proxy_url.as_str())];

    // `localhost` would reach the loopback registry through the proxy, which resolves it:
    // PyOCI resolves and checks it first, and the proxy is never asked.
    let strict = pyoci(&behind_proxy);
    let page = http.get(&page_url(&strict, &localhost));
    assert_forbidden(
        &page,
        &["registry localhost resolves to a private address"],
        &strict.log(),
    );
    assert_eq!(proxy.targets(), Vec::<String>::new());
    assert_eq!(requests_from_pyoci(&registry), 0, "{}", registry.log());

    // Listed, the same registry is reached, through the proxy.
    let listed_origin = format!("http://localhost:{}", registry.port());
    let mut env = behind_proxy.to_vec();
    env.push(("PYOCI_REGISTRIES", &listed_origin));
    let listed = pyoci(&env);
    let page = http.get(&page_url(&listed, &localhost));
    assert_eq!(page.status, 404, "{}\n{}", page.text(), listed.log());
    assert!(
        proxy
            .targets()
            .contains(&format!("localhost:{}", registry.port())),
        "{:?}",
        proxy.targets()
    );
    assert!(requests_from_pyoci(&registry) > 0, "{}", registry.log());
}
