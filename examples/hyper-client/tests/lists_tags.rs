//! The hyper-client example against the real registry with token auth (the ghcr.io scheme).
//! The tags are pushed through the same layer over a hyper client: each push is challenged,
//! the token fetched through hyper, and the `Full<Bytes>` manifest sent again with it.

use std::process::Command;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pyoci_core::{Credentials, Secret};
use pyoci_test_support::{
    output_text, run_checked, run_expecting_failure, Registry, RegistryAuth, TokenIssuer, ALICE,
};
use pyoci_token_exchange::TokenExchangeLayer;
use tower::{Service, ServiceBuilder, ServiceExt};

const REPOSITORY: &str = "acme/demo";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const EMPTY_INDEX: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

fn alice() -> Credentials {
    Credentials::Basic {
        username: ALICE.0.to_owned(),
        password: Secret::new(ALICE.1),
    }
}

/// Tags `tags` in `registry` as alice, through the token-exchange layer over hyper.
fn seed(registry: &Registry, tags: &[&str]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let mut service = ServiceBuilder::new()
            .layer(TokenExchangeLayer::new())
            .service(http);
        for tag in tags {
            let url = format!("{}/v2/{REPOSITORY}/manifests/{tag}", registry.url());
            let mut put = Request::builder()
                .method(Method::PUT)
                .uri(url)
                .header(CONTENT_TYPE, INDEX_TYPE)
                .body(Full::new(Bytes::from_static(EMPTY_INDEX.as_bytes())))
                .unwrap();
            put.extensions_mut().insert(alice());
            let response = service.ready().await.unwrap().call(put).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::CREATED,
                "cannot tag {tag}\n{}",
                registry.log()
            );
        }
    });
}

fn hyper_client(registry: &Registry, credentials: Option<(&str, &str)>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hyper-client"));
    command.args([&registry.url(), REPOSITORY]);
    command
        .env_remove("REGISTRY_USER")
        .env_remove("REGISTRY_PASSWORD");
    if let Some((user, password)) = credentials {
        command
            .env("REGISTRY_USER", user)
            .env("REGISTRY_PASSWORD", password);
    }
    command
}

#[test]
fn lists_tags_through_the_token_exchange_over_hyper() {
    let registry = Registry::start(RegistryAuth::Token(TokenIssuer::start()));
    let issuer = registry.token_issuer().unwrap();
    seed(&registry, &["1.0", "2.0"]);
    assert!(
        issuer.token_requests() >= 1,
        "the pushes were challenged and got their token through hyper"
    );
    let tokens_before = issuer.token_requests();

    let output = run_checked(&mut hyper_client(&registry, Some(ALICE)));
    let mut tags: Vec<_> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    tags.sort();
    assert_eq!(tags, ["1.0", "2.0"]);
    // The listing needed a token of its own: the layer fetched one with alice's password.
    assert!(issuer.token_requests() > tokens_before);

    // Anonymous clients may not read acme/: the registry's refusal is reported.
    let refused = run_expecting_failure(&mut hyper_client(&registry, None));
    assert!(
        output_text(&refused).contains("401"),
        "{}",
        output_text(&refused)
    );
}
