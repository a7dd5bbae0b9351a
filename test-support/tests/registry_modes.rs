//! Each registry auth mode really works against the real distribution registry, and the
//! token issuer's JWTs are accepted (and limited) by it.

use pyoci_test_support::{
    basic_auth, sha256_hex, HttpClient, HttpResponse, Registry, RegistryAuth, TokenIssuer, ALICE,
    BOB,
};

const EMPTY_CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Asks the issuer for a token; `credentials` `None` is an anonymous request.
fn fetch_token(
    http: &HttpClient,
    issuer: &TokenIssuer,
    credentials: Option<(&str, &str)>,
    scope: &str,
) -> HttpResponse {
    let url = format!(
        "{}?service={}&scope={}",
        issuer.realm(),
        issuer.service(),
        scope
            .replace(':', "%3A")
            .replace('/', "%2F")
            .replace(',', "%2C")
    );
    match credentials {
        Some((user, password)) => {
            http.get_with(&url, &[("Authorization", &basic_auth(user, password))])
        }
        None => http.get(&url),
    }
}

fn token(response: &HttpResponse) -> String {
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["token"].as_str().unwrap().to_owned()
}

/// Pushes one blob and a manifest tagged `tag` with an `Authorization` header.
fn push_artifact(http: &HttpClient, registry: &Registry, repository: &str, tag: &str, auth: &str) {
    let headers = [("Authorization", auth)];
    for blob in [&b"{}"[..], &b"hello"[..]] {
        let started = http.request(
            "POST",
            &format!("{}/v2/{repository}/blobs/uploads/", registry.url()),
            &headers,
            None,
        );
        assert_eq!(started.status, 202, "{}", started.text());
        let location = started.header("location").unwrap();
        let location = if location.starts_with('/') {
            format!("{}{location}", registry.url())
        } else {
            location.to_owned()
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let finished = http.request(
            "PUT",
            &format!("{location}{separator}digest=sha256:{}", sha256_hex(blob)),
            &[
                ("Authorization", auth),
                ("Content-Type", "application/octet-stream"),
            ],
            Some(blob.to_vec()),
        );
        assert_eq!(finished.status, 201, "{}", finished.text());
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY_CONFIG_DIGEST, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": format!("sha256:{}", sha256_hex(b"hello")), "size": 5}],
    });
    let put = http.request(
        "PUT",
        &format!("{}/v2/{repository}/manifests/{tag}", registry.url()),
        &[
            ("Authorization", auth),
            ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
        ],
        Some(manifest.to_string().into_bytes()),
    );
    assert_eq!(put.status, 201, "{}", put.text());
}

#[test]
fn no_auth_registry_answers_and_accepts_pushes() {
    let registry = Registry::start(RegistryAuth::None);
    let http = HttpClient::new();
    let base = http.get(&format!("{}/v2/", registry.url()));
    assert_eq!(base.status, 200, "{}", registry.log());
    assert_eq!(
        registry.host_port(),
        format!("127.0.0.1:{}", registry.port())
    );
    assert_eq!(
        registry.url_segment(),
        format!("http%3A%2F%2F127.0.0.1%3A{}", registry.port())
    );
    assert!(registry.token_issuer().is_none());

    push_artifact(&http, &registry, "ns/x", "1.0", "");
    let tags = http.get(&format!("{}/v2/ns/x/tags/list", registry.url()));
    assert_eq!(tags.json()["tags"], serde_json::json!(["1.0"]));
}

#[test]
fn registries_run_side_by_side() {
    let first = Registry::start(RegistryAuth::None);
    let second = Registry::start(RegistryAuth::None);
    assert_ne!(first.port(), second.port());
    let http = HttpClient::new();
    push_artifact(&http, &first, "ns/only-first", "1", "");
    let missing = http.get(&format!("{}/v2/ns/only-first/tags/list", second.url()));
    assert_eq!(missing.status, 404);
}

#[test]
fn stopped_registries_are_gone() {
    use std::io::{Read, Write};
    let registry = Registry::start(RegistryAuth::None);
    let address = registry.host_port();
    drop(registry);
    // Another test's server may have been given the port since; a registry must not answer.
    if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(
            !response.contains("registry/2.0"),
            "a registry still answers on {address} after drop"
        );
    }
}

#[test]
fn htpasswd_registry_challenges_with_basic_and_accepts_its_users() {
    let registry = Registry::start(RegistryAuth::Htpasswd(&[
        ("alice", "secret"),
        ("carol", "pw2"),
    ]));
    let http = HttpClient::new();
    let url = format!("{}/v2/", registry.url());

    let anonymous = http.get(&url);
    assert_eq!(anonymous.status, 401);
    let challenge = anonymous.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");

    for (user, password) in [("alice", "secret"), ("carol", "pw2")] {
        let ok = http.get_with(&url, &[("Authorization", &basic_auth(user, password))]);
        assert_eq!(ok.status, 200, "{user}: {}", ok.text());
    }
    let wrong = http.get_with(&url, &[("Authorization", &basic_auth("alice", "nope"))]);
    assert_eq!(wrong.status, 401);

    push_artifact(
        &http,
        &registry,
        "ns/x",
        "1.0",
        &basic_auth("alice", "secret"),
    );
}

#[test]
fn token_registry_challenges_with_bearer_pointing_at_the_issuer() {
    let issuer = TokenIssuer::start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    assert_eq!(registry.token_issuer().unwrap().port(), issuer.port());
    let http = HttpClient::new();

    let base = http.get(&format!("{}/v2/", registry.url()));
    assert_eq!(base.status, 401);
    let challenge = base.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"pyoci-test-registry\"",
            issuer.port()
        )),
        "{challenge}"
    );
    let push = http.request(
        "POST",
        &format!("{}/v2/ns/x/blobs/uploads/", registry.url()),
        &[],
        None,
    );
    assert_eq!(push.status, 401);
    let push_challenge = push.header("www-authenticate").unwrap();
    // distribution lists the actions in random order.
    assert!(
        push_challenge.contains("scope=\"repository:ns/x:pull,push\"")
            || push_challenge.contains("scope=\"repository:ns/x:push,pull\""),
        "{push_challenge}"
    );
    assert_eq!(
        issuer.token_requests(),
        0,
        "the registry itself never calls the issuer"
    );
}

#[test]
fn alice_tokens_allow_pushes() {
    let issuer = TokenIssuer::start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let http = HttpClient::new();

    let response = fetch_token(&http, &issuer, Some(ALICE), "repository:ns/x:pull,push");
    let body = response.json();
    assert_eq!(body["access_token"], body["token"]);
    assert_eq!(body["expires_in"], 300);
    let issued_at = body["issued_at"].as_str().unwrap();
    assert!(
        issued_at.len() == 20 && issued_at.ends_with('Z'),
        "{issued_at}"
    );
    let alice = token(&response);

    let upload = http.request(
        "POST",
        &format!("{}/v2/ns/x/blobs/uploads/", registry.url()),
        &[("Authorization", &bearer(&alice))],
        None,
    );
    assert_eq!(upload.status, 202, "{}\n{}", upload.text(), registry.log());
    push_artifact(&http, &registry, "ns/x", "1.0", &bearer(&alice));

    assert_eq!(issuer.token_requests(), 1);
    let grants = issuer.grants();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].user.as_deref(), Some("alice"));
    assert_eq!(grants[0].access[0].name, "ns/x");
    assert_eq!(grants[0].access[0].actions, vec!["pull", "push"]);
}

#[test]
fn bob_may_pull_but_not_push() {
    let issuer = TokenIssuer::start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let http = HttpClient::new();
    let alice = token(&fetch_token(
        &http,
        &issuer,
        Some(ALICE),
        "repository:ns/x:pull,push",
    ));
    push_artifact(&http, &registry, "ns/x", "1.0", &bearer(&alice));

    let bob = token(&fetch_token(
        &http,
        &issuer,
        Some(BOB),
        "repository:ns/x:pull,push",
    ));
    let grants = issuer.grants();
    let bob_grant = grants.last().unwrap();
    assert_eq!(bob_grant.user.as_deref(), Some("bob"));
    assert_eq!(bob_grant.access[0].actions, vec!["pull"]);

    let push = http.request(
        "POST",
        &format!("{}/v2/ns/x/blobs/uploads/", registry.url()),
        &[("Authorization", &bearer(&bob))],
        None,
    );
    assert!(
        matches!(push.status, 401 | 403),
        "bob pushed: {} {}",
        push.status,
        push.text()
    );
    let tags = http.get_with(
        &format!("{}/v2/ns/x/tags/list", registry.url()),
        &[("Authorization", &bearer(&bob))],
    );
    assert_eq!(tags.status, 200, "{}", tags.text());
}

#[test]
fn wrong_passwords_and_unknown_users_get_401_from_the_issuer() {
    let issuer = TokenIssuer::start();
    let http = HttpClient::new();
    let wrong = fetch_token(
        &http,
        &issuer,
        Some(("alice", "wrong")),
        "repository:ns/x:pull",
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic "));
    let unknown = fetch_token(
        &http,
        &issuer,
        Some(("mallory", "secret")),
        "repository:ns/x:pull",
    );
    assert_eq!(unknown.status, 401);
    let not_basic = http.get_with(&issuer.realm(), &[("Authorization", "Bearer abc")]);
    assert_eq!(not_basic.status, 401);
    assert_eq!(issuer.token_requests(), 3);
    assert!(issuer.grants().is_empty());
}

#[test]
fn anonymous_tokens_pull_public_repositories_only() {
    let issuer = TokenIssuer::start();
    let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
    let http = HttpClient::new();
    let alice = token(&fetch_token(
        &http,
        &issuer,
        Some(ALICE),
        "repository:public/x:pull,push",
    ));
    push_artifact(&http, &registry, "public/x", "1.0", &bearer(&alice));
    let alice_private = token(&fetch_token(
        &http,
        &issuer,
        Some(ALICE),
        "repository:private/x:pull,push",
    ));
    push_artifact(
        &http,
        &registry,
        "private/x",
        "1.0",
        &bearer(&alice_private),
    );
    let before = issuer.token_requests();

    let anonymous = token(&fetch_token(
        &http,
        &issuer,
        None,
        "repository:public/x:pull,push",
    ));
    let tags = http.get_with(
        &format!("{}/v2/public/x/tags/list", registry.url()),
        &[("Authorization", &bearer(&anonymous))],
    );
    assert_eq!(tags.status, 200, "{}", tags.text());
    assert_eq!(tags.json()["tags"], serde_json::json!(["1.0"]));

    let anonymous_private = token(&fetch_token(
        &http,
        &issuer,
        None,
        "repository:private/x:pull",
    ));
    let denied = http.get_with(
        &format!("{}/v2/private/x/tags/list", registry.url()),
        &[("Authorization", &bearer(&anonymous_private))],
    );
    assert_eq!(denied.status, 401);

    assert_eq!(issuer.token_requests(), before + 2);
    let grants = issuer.grants();
    let anonymous_grants = &grants[grants.len() - 2..];
    assert_eq!(anonymous_grants[0].user, None);
    assert_eq!(anonymous_grants[0].access[0].actions, vec!["pull"]);
    assert!(anonymous_grants[1].access.is_empty());
}

#[test]
fn custom_issuers_apply_their_rules() {
    let issuer = TokenIssuer::builder()
        .user(
            "ci",
            "pw",
            vec![pyoci_test_support::Rule::repositories(
                "team/",
                &["pull", "push"],
            )],
        )
        .start();
    let http = HttpClient::new();
    fetch_token(
        &http,
        &issuer,
        Some(("ci", "pw")),
        "repository:team/x:pull,push",
    );
    fetch_token(
        &http,
        &issuer,
        Some(("ci", "pw")),
        "repository:other/x:pull",
    );
    let anonymous = fetch_token(&http, &issuer, None, "repository:team/x:pull");
    assert_eq!(anonymous.status, 200);
    let grants = issuer.grants();
    assert_eq!(grants[0].access[0].actions, vec!["pull", "push"]);
    assert!(grants[1].access.is_empty());
    assert!(grants[2].access.is_empty());
}
