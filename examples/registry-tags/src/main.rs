//! Lists a repository's tags with a plain reqwest client wrapped in two of PyOCI's layers:
//! `TokenExchangeLayer` answers the registry's auth challenge (fetching a token from the
//! realm it names, with the given credentials) and `RetryReadsLayer` sends the read again after
//! a transient fault.
//!
//! ```text
//! REGISTRY_USER=me REGISTRY_PASSWORD=token \
//!   cargo run -p pyoci-example-registry-tags -- https://ghcr.io my-org/my-image
//! ```

use std::time::Duration;

use http::Request;
use http_body_util::BodyExt;
use pyoci_basic_auth::{Credentials, Secret};
use pyoci_oci::HttpClient;
use pyoci_retry::RetryReadsLayer;
use pyoci_token_exchange::TokenExchangeLayer;
use tower::{BoxError, ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let (Some(registry), Some(repository)) = (args.next(), args.next()) else {
        return Err("usage: registry-tags <registry URL> <repository>".into());
    };
    let credentials = match (
        std::env::var("REGISTRY_USER"),
        std::env::var("REGISTRY_PASSWORD"),
    ) {
        (Ok(username), Ok(password)) => Credentials::Basic {
            username,
            password: Secret::new(password),
        },
        _ => Credentials::Anonymous,
    };

    let client = ServiceBuilder::new()
        .layer(TokenExchangeLayer::new())
        .layer(RetryReadsLayer::new().attempt_timeout(Duration::from_secs(30)))
        .service(HttpClient::new(reqwest::Client::new()));

    let url = format!(
        "{}/v2/{repository}/tags/list",
        registry.trim_end_matches('/')
    );
    let mut request = Request::get(url).body(reqwest::Body::from(""))?;
    // The token-exchange layer, not the caller, turns credentials into `Authorization`.
    request.extensions_mut().insert(credentials);
    let response = client.oneshot(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
    }
    let listing: serde_json::Value = serde_json::from_slice(&body)?;
    for tag in listing["tags"].as_array().into_iter().flatten() {
        println!("{}", tag.as_str().unwrap_or_default());
    }
    Ok(())
}
