//! Lists a repository's tags with hyper-util's plain HTTP client (no reqwest) wrapped in two
//! of PyOCI's layers: `TokenExchangeLayer` answers the registry's auth challenge (asking the
//! token service it names, through the same hyper client, with the given credentials) and
//! `RetryReadsLayer` sends the read again after a transient fault. Request bodies are
//! `Full<Bytes>`, which both layers can copy to send again; responses keep hyper's
//! `Incoming` body.
//!
//! ```text
//! REGISTRY_USER=me REGISTRY_PASSWORD=secret \
//!   cargo run -p pyoci-example-hyper-client -- http://localhost:5000 my-org/my-image
//! ```
//!
//! The client speaks plain http only: an https registry needs a TLS connector given to
//! `Client::builder(..).build(connector)` (hyper-rustls, for one), left out to keep this small.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pyoci_core::{Credentials, Secret};
use pyoci_retry::RetryReadsLayer;
use pyoci_token_exchange::TokenExchangeLayer;
use tower::{BoxError, ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let (Some(registry), Some(repository)) = (args.next(), args.next()) else {
        return Err("usage: hyper-client <registry URL> <repository>".into());
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

    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let client = ServiceBuilder::new()
        .layer(TokenExchangeLayer::new())
        .layer(RetryReadsLayer::new().attempt_timeout(Duration::from_secs(30)))
        .service(http);

    let url = format!(
        "{}/v2/{repository}/tags/list",
        registry.trim_end_matches('/')
    );
    let mut request = Request::get(url).body(Full::default())?;
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
