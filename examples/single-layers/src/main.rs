//! An axum app with a package store of its own (here: in memory), served as a Python simple
//! index by two of PyOCI's layers alone, without the rest of PyOCI:
//!
//! - `ExtractCredentialsLayer` turns `Authorization` into typed `Credentials`, which the
//!   handler checks against its own users;
//! - `RenderIndexLayer` renders the `ProjectPage` the handler returns as PEP 503 HTML or
//!   PEP 691 JSON, whichever the client's `Accept` asks for.
//!
//! ```text
//! PORT=3000 cargo run -p pyoci-example-single-layers
//! pip download --index-url http://demo:demo@127.0.0.1:3000/simple/ hello
//! ```

use std::net::SocketAddr;

use axum::{
    body::Body,
    extract::{Extension, Request},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use pyoci_basic_auth::{Credentials, ExtractCredentialsLayer};
use pyoci_index::{normalize_project_name, DistributionFile, ProjectPage, RenderIndexLayer};
use tower::{BoxError, ServiceBuilder};

/// The store: one project with one file, and its sha256.
const PROJECT: &str = "hello";
const FILE: &str = "hello-1.0.tar.gz";
const FILE_BYTES: &[u8] = b"not really an sdist";
const FILE_SHA256: &str = "b0f193872637108ceec1f6609ccac3dc41c92073a61ad36c54aa6584a191afce";

/// Only this user may read the index.
fn allowed(credentials: &Credentials) -> bool {
    matches!(credentials, Credentials::Basic { username, password }
        if username == "demo" && password.expose() == "demo")
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"demo\"")],
        "log in as demo\n",
    )
        .into_response()
}

/// `GET /simple/<project>/`: a page model for the index layer to render.
async fn project_page(
    Extension(credentials): Extension<Credentials>,
    request: Request,
) -> Response {
    if !allowed(&credentials) {
        return unauthorized();
    }
    let asked = request
        .uri()
        .path()
        .trim_start_matches("/simple/")
        .trim_end_matches('/');
    if normalize_project_name(asked) != PROJECT {
        return (StatusCode::NOT_FOUND, "no such project\n").into_response();
    }
    let file = DistributionFile::new(FILE, format!("/files/{FILE}"))
        .with_sha256(FILE_SHA256)
        .with_size(FILE_BYTES.len() as u64);
    let page = ProjectPage::new(PROJECT, vec![file]).with_versions(vec!["1.0".into()]);
    // An empty body: the index layer writes the page.
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(page);
    response
}

/// `GET /files/<file>`: the file itself.
async fn file(Extension(credentials): Extension<Credentials>) -> Response {
    if !allowed(&credentials) {
        return unauthorized();
    }
    FILE_BYTES.into_response()
}

fn app() -> Router {
    Router::new()
        .route("/simple/{project}/", get(project_page))
        .route(&format!("/files/{FILE}"), get(file))
        .layer(
            ServiceBuilder::new()
                // Outermost: credentials first, so a bad `Authorization` is a 400 at once.
                .layer(ExtractCredentialsLayer::new())
                .layer(RenderIndexLayer::new()),
        )
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok());
    let address = SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(3000)));
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app()).await?;
    Ok(())
}
