//! The registry-tags example against the real registry with token auth (the ghcr.io scheme):
//! the token-exchange layer fetches a token with the user's credentials, and the tags come
//! back listed.

use std::process::Command;

use pyoci_basic_auth::{Credentials, Secret};
use pyoci_oci::{HttpClient, ImageIndex, OciClient, Registry as OciRegistry};
use pyoci_test_support::{
    output_text, run_checked, run_expecting_failure, without_proxy_env, Registry, RegistryAuth,
    TokenIssuer, ALICE,
};
use pyoci_token_exchange::TokenExchangeLayer;
use tower::ServiceBuilder;

const REPOSITORY: &str = "acme/demo";

fn alice() -> Credentials {
    Credentials::Basic {
        username: ALICE.0.to_owned(),
        password: Secret::new(ALICE.1),
    }
}

/// Tags `tags` in `registry` as alice, through the same token-exchange layer.
fn seed(registry: &Registry, tags: &[&str]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let service = ServiceBuilder::new()
            .layer(TokenExchangeLayer::new())
            .service(HttpClient::new(reqwest::Client::new()));
        let target = OciRegistry::new("http", &registry.host_port()).unwrap();
        let oci = OciClient::new(service, target, alice());
        for tag in tags {
            oci.put_index(REPOSITORY, tag, &ImageIndex::new(Vec::new()))
                .await
                .unwrap_or_else(|err| panic!("cannot tag {tag}: {err}\n{}", registry.log()));
        }
    });
}

fn registry_tags(registry: &Registry, credentials: Option<(&str, &str)>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_registry-tags"));
    without_proxy_env(&mut command);
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
fn lists_tags_through_the_token_exchange() {
    let registry = Registry::start(RegistryAuth::Token(TokenIssuer::start()));
    seed(&registry, &["1.0", "2.0"]);
    let issuer = registry.token_issuer().unwrap();
    let tokens_before = issuer.token_requests();

    let output = run_checked(&mut registry_tags(&registry, Some(ALICE)));
    let mut tags: Vec<_> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    tags.sort();
    assert_eq!(tags, ["1.0", "2.0"]);
    // The listing needed a token of its own: the layer fetched one with alice's password.
    assert!(issuer.token_requests() > tokens_before);

    // Anonymous clients may not read acme/: the registry's refusal is reported.
    let refused = run_expecting_failure(&mut registry_tags(&registry, None));
    assert!(
        output_text(&refused).contains("401"),
        "{}",
        output_text(&refused)
    );
}
