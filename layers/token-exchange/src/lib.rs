//! Answers registry authentication challenges for outgoing requests.
//!
//! Sits between the OCI client and the HTTP client service. The user's
//! [`Credentials`](pyoci_core::Credentials) travel in each request's extensions; this layer
//! is the only place that turns them into an `Authorization` header:
//!
//! - `Bearer` credentials (a registry token) are sent as they are.
//! - Otherwise a cached registry token for the same origin, credentials and access
//!   (`repository:<name>:pull|push|delete`) is sent when there is one; or Basic credentials, when
//!   the origin asked for them before.
//! - A `401` with a `Bearer` challenge (ghcr.io, Docker Hub, ACR, distribution with token auth)
//!   makes the layer fetch a token from the challenge's realm — through the same inner service,
//!   with the Basic credentials if any — cache it until shortly before it expires, and retry the
//!   request once with it. The credentials go to the realm the registry names, as docker, oras
//!   and skopeo send them, unless the [`RealmPolicy`] withholds them (never from an https
//!   registry to an http realm; an operator may narrow it to listed hosts); such a realm is
//!   asked anonymously. The HTTP client below refuses realms on private addresses.
//! - A `401` with a `Basic` challenge (htpasswd registries, AWS ECR) is retried once with the
//!   Basic credentials.
//! - If the token service refuses the credentials (`401`/`403`), its response is returned as
//!   it is; if it cannot be reached or answers nonsense, the call fails with a
//!   [`TokenExchangeError`].
//!
//! The layer works with any HTTP client service: requests and responses may have any body
//! whose data is [`Bytes`](bytes::Bytes). A request is sent again only when its body is a
//! [`ReplayableBody`](pyoci_core::ReplayableBody) that gives a copy (`Full<Bytes>`,
//! `Empty<Bytes>`, `String`, or a buffered `reqwest::Body` with the default `reqwest`
//! feature); for a streamed body the token is still fetched and cached, and the `401` is
//! returned. The token service is asked through the same inner service, with an empty
//! (`Default`) request body. Tokens and passwords are never logged.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use pyoci_core::{Credentials, Secret};
//! use pyoci_token_exchange::TokenExchangeLayer;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//!
//! type Body = Full<Bytes>;
//!
//! // A registry that wants a token, and its token service.
//! async fn registry(req: Request<Body>) -> Result<Response<Body>, BoxError> {
//!     let response = if req.uri().path() == "/token" {
//!         Response::new(Body::from(r#"{"token":"t0k3n","expires_in":300}"#))
//!     } else if req.headers().get(AUTHORIZATION).is_some_and(|value| value == "Bearer t0k3n") {
//!         Response::new(Body::from("the manifest"))
//!     } else {
//!         Response::builder()
//!             .status(StatusCode::UNAUTHORIZED)
//!             .header(
//!                 WWW_AUTHENTICATE,
//!                 r#"Bearer realm="https://registry.test/token",service="registry.test",scope="repository:ns/pkg:pull""#,
//!             )
//!             .body(Body::default())?
//!     };
//!     Ok(response)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let client = ServiceBuilder::new()
//!     .layer(TokenExchangeLayer::new())
//!     .service(service_fn(registry));
//!
//! let mut request = Request::get("https://registry.test/v2/ns/pkg/manifests/1.0")
//!     .body(Body::default())?;
//! request.extensions_mut().insert(Credentials::Basic {
//!     username: "alice".into(),
//!     password: Secret::new("s3cret"),
//! });
//! // Sent, challenged, the token fetched, and sent again with it.
//! let response = client.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod access;
mod ahead;
mod cache;
mod challenge;
mod error;
mod headers;
mod held;
mod layer;
mod realm;
mod realm_policy;
mod service;

pub use challenge::{parse_challenges, Challenge, ChallengeError};
pub use error::TokenExchangeError;
pub use held::HeldTokens;
pub use layer::TokenExchangeLayer;
pub use realm_policy::{host_key, RealmPolicy, Withheld};
pub use service::{AuthorizeForWrite, ResponseFuture, TokenExchange};
