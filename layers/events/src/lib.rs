//! Registry change notifications (webhooks) in, "these repositories changed" out.
//!
//! PyOCI caches tag lists, pages and listing documents for a short time because it cannot
//! know when someone else changed the registry. Registries can tell it: [`RegistryEvents`] is
//! a [`tower::Service`] that receives their notifications, authenticates them, reads which
//! repositories changed and tells a [`ChangeSink`] (the app, which drops its caches of
//! them). An event can only make PyOCI forget, never add data, so a forged or replayed one
//! costs a cache miss and nothing more; the receiver still refuses anything unauthenticated
//! and bounds the work one request can cause.
//!
//! # Routes
//!
//! `POST /events/<source>/<registry>`, where `<registry>` is one path segment, percent-decoded
//! once (`ghcr.io`, or `http%3A%2F%2F127.0.0.1%3A5000` for `http://127.0.0.1:5000`) and passed
//! to the sink as it is, and `<source>` one of:
//!
//! | source | sender | authentication | changes |
//! | --- | --- | --- | --- |
//! | `distribution` | the CNCF distribution registry's `notifications` endpoints | `Authorization: Bearer <secret>` (the endpoint's `headers:`) | `push` of a manifest (not of a blob), every `delete` |
//! | `github` | GitHub's `registry_package` and `package` webhooks (ghcr.io) | `X-Hub-Signature-256` (the webhook's secret) | `published` / `updated` container packages: `<namespace>/<name>` |
//! | `harbor` | Harbor's webhooks, Default payload format | `Authorization: Bearer <secret>` (the "Auth Header") | `PUSH_ARTIFACT`, `DELETE_ARTIFACT` |
//! | `acr` | Azure Container Registry's webhooks | `Authorization: Bearer <secret>` (a custom header) | `push`, `delete` |
//! | `changed` | anyone: a CI job after a publish, a registry without webhooks | `Authorization: Bearer <secret>` | `{"repositories": ["acme/demo", ...]}` |
//!
//! Answers are plain text saying what happened or what to do: 200 once the sink was told;
//! 400 for a body that is not what the source sends or names an invalid repository; 401 when
//! unauthenticated (a bearer is checked before the body is read, a GitHub signature right
//! after); 404 for another path, an unknown source, or a registry the sink does not take;
//! 405 for another method; 413 for a body over [`max_body_bytes`](RegistryEvents::max_body_bytes)
//! or more repositories than [`max_repositories`](RegistryEvents::max_repositories) (the sink
//! is then told nothing); 503 when [`max_concurrent`](RegistryEvents::max_concurrent)
//! notifications are already being read. A signed GitHub `ping` is answered `pong`.
//!
//! Bodies are read whole (up to the limit) before they are parsed: put an idle timeout on
//! them (`pyoci-body-timeout`) so that a sender that stops mid-body gives its slot back.
//!
//! The parsing is a pure function, [`changed_repositories`], for tests and fuzzing.
//!
//! # Example
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use bytes::Bytes;
//! use http::{header::AUTHORIZATION, Request, StatusCode};
//! use http_body_util::Full;
//! use pyoci_events::{RegistryEvents, Secret};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dropped = Arc::new(Mutex::new(Vec::new()));
//! let sink = {
//!     let dropped = Arc::clone(&dropped);
//!     move |registry: &str, repositories: &[String]| {
//!         if registry != "ghcr.io" {
//!             return false; // not a registry this app serves: answered 404
//!         }
//!         dropped.lock().unwrap().extend_from_slice(repositories);
//!         true
//!     }
//! };
//! let secret = Secret::new("a-long-shared-secret").expect("16 bytes or more");
//! let events = RegistryEvents::new(secret, sink).max_repositories(100);
//!
//! // What a CI job sends after publishing through another tool.
//! let request = Request::post("/events/changed/ghcr.io")
//!     .header(AUTHORIZATION, "Bearer a-long-shared-secret")
//!     .body(Full::new(Bytes::from(r#"{"repositories": ["Acme/Demo"]}"#)))
//!     .unwrap();
//! let response = events.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(*dropped.lock().unwrap(), ["acme/demo"]);
//!
//! let unsigned = Request::post("/events/changed/ghcr.io")
//!     .body(Full::new(Bytes::from(r#"{"repositories": ["acme/demo"]}"#)))
//!     .unwrap();
//! let response = events.oneshot(unsigned).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(dropped.lock().unwrap().len(), 1, "the sink was not told");
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod payload;
mod secret;
mod service;
mod source;

pub use error::EventError;
pub use payload::changed_repositories;
pub use secret::Secret;
pub use service::{ChangeSink, RegistryEvents, ResponseFuture};
pub use source::Source;
