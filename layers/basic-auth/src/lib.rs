//! Incoming `Authorization` header -> typed [`Credentials`] in the request extensions.
//!
//! PyOCI never checks credentials itself: it forwards them to the registry. This layer only
//! reads what pip, uv or twine sent and hands it on as data, so that the layers behind it (and
//! the outgoing registry client) work with [`Credentials`] instead of re-parsing header strings.
//!
//! - no `Authorization` header: [`Credentials::Anonymous`];
//! - `Basic <base64(username:password)>`: [`Credentials::Basic`], or [`Credentials::Bearer`] with
//!   the password when the username is the configured
//!   [`bearer_username`](ExtractCredentialsLayer::bearer_username);
//! - `Bearer <token>`: [`Credentials::Bearer`];
//! - anything else: `400 Bad Request` with a plain-text message saying what is wrong; the inner
//!   service is not called.
//!
//! The header is removed from the request once parsed, so it cannot leak into logs or be
//! forwarded by accident. The pure parser is [`parse_authorization`].
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http::{header::AUTHORIZATION, Request, Response, StatusCode};
//! use http_body_util::BodyExt;
//! use pyoci_basic_auth::{Credentials, ExtractCredentialsLayer};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let service = ServiceBuilder::new()
//!     .layer(ExtractCredentialsLayer::new())
//!     .service(service_fn(|req: Request<String>| async move {
//!         let who = match req.extensions().get::<Credentials>() {
//!             Some(Credentials::Basic { username, .. }) => format!("hello {username}"),
//!             other => format!("unexpected {other:?}"),
//!         };
//!         Ok::<_, Infallible>(Response::new(who))
//!     }));
//!
//! // "alice:s3cret" in base64.
//! let request = Request::builder()
//!     .header(AUTHORIZATION, "Basic YWxpY2U6czNjcmV0")
//!     .body(String::new())
//!     .unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "hello alice");
//!
//! let request = Request::builder()
//!     .header(AUTHORIZATION, "Basic alice:s3cret")
//!     .body(String::new())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert!(String::from_utf8_lossy(&body).contains("expected base64 of `username:password`"));
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod future;
mod layer;
mod parse;
mod service;

pub use error::AuthorizationError;
pub use future::ResponseFuture;
pub use layer::ExtractCredentialsLayer;
pub use parse::parse_authorization;
/// Defined in `pyoci-core`, shared with the registry client.
pub use pyoci_core::{Credentials, Secret};
pub use service::ExtractCredentials;
