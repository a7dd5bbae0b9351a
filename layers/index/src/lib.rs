//! Renders Python simple-repository pages (PEP 503 HTML, PEP 691 JSON) from typed models, and a
//! tower layer that does it for a handler.
//!
//! A handler describes a page with a [`ProjectPage`] (a project's files) or a [`ProjectList`]
//! (the root page), puts it in the response extensions with an empty body, and lets
//! [`RenderIndexLayer`] answer in the format the client asked for:
//!
//! | `Accept` picks | `Content-Type` sent | who asks |
//! | --- | --- | --- |
//! | [`IndexFormat::Json`] | `application/vnd.pypi.simple.v1+json` | pip, uv, Renovate |
//! | [`IndexFormat::Html`] | `application/vnd.pypi.simple.v1+html` | clients naming the v1 HTML type |
//! | [`IndexFormat::LegacyHtml`] | `text/html; charset=utf-8` | poetry, hatch, browsers, no `Accept` |
//!
//! Every rendered response gets `Vary: Accept`; when nothing is acceptable the answer is `406`
//! listing the supported types (Renovate then retries without `Accept`). The pure functions
//! ([`negotiate`], [`render_project_html`], [`render_project_json`], [`render_list_html`],
//! [`render_list_json`]) can be used on their own. All values are escaped, so a hostile file
//! name or URL cannot inject markup.
//!
//! A page served many times (from a cache) can be put in the extensions as a [`SharedPage`]
//! instead: each format is then rendered and hashed once, and later responses reuse the bytes.
//!
//! Rendered pages carry a strong `ETag` (a hash of the bytes sent); a request whose
//! `If-None-Match` names it gets `304 Not Modified` without a body. The layer only renders
//! what its inner service chose to answer with, so a 304 is given exactly where the full
//! page would have been.
//!
//! Pages declare `pypi:repository-version` / `api-version` [`API_VERSION`] (PEP 629/700).
//!
//! # Example
//!
//! ```
//! use http::{header, Request, Response};
//! use http_body_util::{BodyExt, Full};
//! use bytes::Bytes;
//! use pyoci_index::{DistributionFile, ProjectPage, RenderIndexLayer};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let handler = service_fn(|_request: Request<Full<Bytes>>| async {
//!     let wheel = DistributionFile::new("demo-1.0-py3-none-any.whl", "demo-1.0-py3-none-any.whl")
//!         .with_sha256("5e7b")
//!         .with_requires_python(">=3.9");
//!     let page = ProjectPage::new("demo", vec![wheel]).with_versions(vec!["1.0".into()]);
//!     let mut response = Response::new(Full::<Bytes>::default());
//!     response.extensions_mut().insert(page);
//!     Ok::<_, std::convert::Infallible>(response)
//! });
//! let service = ServiceBuilder::new().layer(RenderIndexLayer::new()).service(handler);
//!
//! // uv asks for JSON first.
//! let request = Request::get("/demo/")
//!     .header(header::ACCEPT, "application/vnd.pypi.simple.v1+json, text/html;q=0.01")
//!     .body(Full::default())
//!     .unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.headers()[header::CONTENT_TYPE], "application/vnd.pypi.simple.v1+json");
//! assert_eq!(response.headers()[header::VARY], "Accept");
//! let json = response.into_body().collect().await.unwrap().to_bytes();
//! assert!(json.starts_with(br#"{"meta":{"api-version":"1.1"},"name":"demo""#));
//!
//! // poetry sends no Accept and gets HTML.
//! let request = Request::get("/demo/").body(Full::default()).unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
//! let html = response.into_body().collect().await.unwrap().to_bytes();
//! let html = String::from_utf8(html.to_vec()).unwrap();
//! assert!(html.contains(
//!     r#"<a href="demo-1.0-py3-none-any.whl#sha256=5e7b" data-requires-python="&gt;=3.9">"#
//! ));
//! # }
//! ```
#![warn(missing_docs)]

mod etag;
mod future;
mod html;
mod json;
mod layer;
mod model;
mod negotiate;
mod service;
mod shared;

pub use future::ResponseFuture;
pub use html::{escape as escape_html, render_list_html, render_project_html};
pub use json::{render_list_json, render_project_json};
pub use layer::RenderIndexLayer;
pub use model::{normalize_project_name, DistributionFile, ProjectList, ProjectPage, Yanked};
pub use negotiate::{negotiate, IndexFormat, NotAcceptable};
pub use service::RenderIndex;
pub use shared::SharedPage;

/// The simple-repository API version the pages declare: 1.1 adds `versions`, `size` and
/// `upload-time` (PEP 700); later minor versions add only keys this crate does not render.
pub const API_VERSION: &str = "1.1";
