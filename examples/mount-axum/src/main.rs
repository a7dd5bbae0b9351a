//! An axum app with routes of its own that mounts the whole PyOCI under `/pypi`.
//!
//! ```text
//! PORT=3000 PYOCI_EXAMPLE_REGISTRY=http://127.0.0.1:5000 cargo run -p pyoci-example-mount-axum
//! pip install --index-url http://127.0.0.1:3000/pypi/http%3A%2F%2F127.0.0.1%3A5000/acme/ hello
//! ```
//!
//! `nest_service` strips `/pypi` before PyOCI sees a request; `MountLayer` tells PyOCI what
//! was stripped, so its links and redirects keep `/pypi`. The settings are built in code
//! (`Config::default()` reads no environment): `PORT` and `PYOCI_EXAMPLE_REGISTRY` (the one
//! registry served) are this example's own.

use std::net::SocketAddr;

use axum::{routing::get, Router};
use pyoci::{pyoci_service, Config, MountLayer};
use tower::ServiceBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    if let Ok(registry) = std::env::var("PYOCI_EXAMPLE_REGISTRY") {
        // Serve only this registry: a listed origin may be on loopback, like a test registry.
        config.registries = Some(registry.parse()?);
    }

    // The prefix the router strips, told to PyOCI.
    let pypi = ServiceBuilder::new()
        .layer(MountLayer::new("/pypi"))
        .service(pyoci_service(config)?);

    let app = Router::new()
        .route(
            "/",
            get(|| async { "an app of its own, with a Python index under /pypi/\n" }),
        )
        .nest_service("/pypi", pypi);

    let port = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok());
    let address = SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(3000)));
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
