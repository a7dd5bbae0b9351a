//! No password, token or Authorization value ever reaches PyOCI's log, even at trace level:
//! uploads, installs, refusals and bearer tokens against a token-auth registry, and the same
//! with Basic credentials forwarded to an htpasswd registry.

use std::path::Path;

use base64::Engine;
use pyoci_test_support::{
    basic_auth, run_checked, run_expecting_failure, HttpClient, Pyoci, Python, Registry,
    RegistryAuth, Rule, TokenIssuer,
};

const ALICE: (&str, &str) = ("alice", "alice-pw-Q8zT1v");
const BOB: (&str, &str) = ("bob", "bob-pw-M3kW7r");
const WRONG_PASSWORD: &str = "wrong-pw-Z9yX4c";
const BEARER_USER: &str = "token-user";

#[test]
fn secrets_never_reach_the_log_at_trace_level() {
    let issuer = TokenIssuer::builder()
        .user(ALICE.0, ALICE.1, vec![Rule::everything()])
        .user(BOB.0, BOB.1, vec![Rule::repositories("", &["pull"])])
        .start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let pyoci = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[
            ("RUST_LOG", "trace"),
            ("PYOCI_BEARER_USERNAME", BEARER_USER),
        ],
    );
    let python = Python::locate();
    let http = HttpClient::new();
    let index = pyoci.index_url(&registry, "secrets");
    let project = format!("{index}{}/", crate::support::PROJECT);
    let dists = crate::support::dists("0.3.0", "secrets");

    // Upload and install with the right credentials, fail with wrong ones.
    run_checked(&mut python.twine_upload(&index, ALICE.0, ALICE.1, &[&dists.sdist, &dists.wheel]));
    let venv_dir = tempfile::tempdir().unwrap();
    let venv = python.new_venv(&venv_dir.path().join("venv"));
    let authed_index = pyoci.index_url_with_credentials(&registry, "secrets", ALICE.0, ALICE.1);
    run_checked(&mut python.pip_install(&venv, &authed_index, crate::support::PROJECT));
    run_expecting_failure(&mut python.twine_upload(&index, BOB.0, BOB.1, &[&dists.wheel]));
    let wrong = http.get_with(
        &project,
        &[("Authorization", &basic_auth(ALICE.0, WRONG_PASSWORD))],
    );
    assert_eq!(wrong.status, 401);

    // A registry token given as the bearer user's password goes to the registry as is.
    let token = issuer
        .grants()
        .into_iter()
        // One with access to a repository: an upload's check of the registry (GET /v2/)
        // fetches alice a token without any first.
        .find(|grant| grant.user.as_deref() == Some(ALICE.0) && !grant.access.is_empty())
        .map(|grant| grant.token)
        .expect("alice was issued a token");
    let page = http.get_with(
        &project,
        &[("Authorization", &basic_auth(BEARER_USER, &token))],
    );
    assert_eq!(page.status, 200, "{}", page.text());

    let log = pyoci.log();
    assert!(log.lines().count() > 50, "trace logging is off? {log}");
    let encode = |user: &str, password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let mut secrets = vec![
        ALICE.1.to_owned(),
        BOB.1.to_owned(),
        WRONG_PASSWORD.to_owned(),
        encode(ALICE.0, ALICE.1),
        encode(BOB.0, BOB.1),
        encode(ALICE.0, WRONG_PASSWORD),
        encode(BEARER_USER, &token),
    ];
    for grant in issuer.grants() {
        // The whole token and its signature alone (the header is the same for every token).
        secrets.push(grant.token.clone());
        if let Some(signature) = grant.token.rsplit('.').next() {
            secrets.push(signature.to_owned());
        }
    }
    assert!(secrets.len() > 8, "the issuer handed out tokens");
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({}...) is in the log",
            &secret[..6]
        );
    }
}

#[test]
fn basic_credentials_forwarded_to_an_htpasswd_registry_never_reach_the_log() {
    let registry = Registry::start(RegistryAuth::Htpasswd(&[ALICE, BOB]));
    let pyoci = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[("RUST_LOG", "trace")],
    );
    let python = Python::locate();
    let http = HttpClient::new();
    let index = pyoci.index_url(&registry, "basic-secrets");
    let project = format!("{index}{}/", crate::support::PROJECT);
    let dists = crate::support::dists("0.3.0", "basic-secrets");

    run_checked(&mut python.twine_upload(&index, ALICE.0, ALICE.1, &[&dists.sdist, &dists.wheel]));
    let venv_dir = tempfile::tempdir().unwrap();
    let venv = python.new_venv(&venv_dir.path().join("venv"));
    let authed_index =
        pyoci.index_url_with_credentials(&registry, "basic-secrets", ALICE.0, ALICE.1);
    run_checked(&mut python.pip_install(&venv, &authed_index, crate::support::PROJECT));
    let bob = http.get_with(&project, &[("Authorization", &basic_auth(BOB.0, BOB.1))]);
    assert_eq!(bob.status, 200, "{}", bob.text());
    let wrong = http.get_with(
        &project,
        &[("Authorization", &basic_auth(ALICE.0, WRONG_PASSWORD))],
    );
    assert_eq!(wrong.status, 401, "{}", wrong.text());

    // The registry really was asked with Basic credentials (its access log names the user).
    assert!(registry.log().contains("alice"), "{}", registry.log());
    let log = pyoci.log();
    assert!(log.lines().count() > 50, "trace logging is off? {log}");
    let encode = |user: &str, password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let secrets = [
        ALICE.1.to_owned(),
        BOB.1.to_owned(),
        WRONG_PASSWORD.to_owned(),
        encode(ALICE.0, ALICE.1),
        encode(BOB.0, BOB.1),
        encode(ALICE.0, WRONG_PASSWORD),
    ];
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({}...) is in the log",
            &secret[..6]
        );
    }
}
