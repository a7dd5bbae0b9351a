//! Retries for registry requests that failed on a transient fault.
//!
//! Registries restart, sit behind load balancers that answer 502 while a backend comes up,
//! and shed load with 429 or 503. [`RetryReadsLayer`] sits in the outgoing stack, between the
//! token-exchange layer and the HTTP client, and sends a request again when all of these hold:
//!
//! - it is a `GET` or `HEAD` whose body is buffered (so it changes nothing and can be sent
//!   twice; uploads, manifest pushes and deletes are never repeated);
//! - the attempt failed transiently: the connection was refused, reset or closed before
//!   the answer, an attempt timed out, or the registry answered 429, 500, 502, 503 or 504
//!   (the distribution registry answers reads with 500 while a tag is being rewritten);
//! - retries are left (3 by default) and the wait still fits the time budget (10 s).
//!
//! Waits grow fourfold from 100 ms (100 ms, 400 ms, 1.6 s), each cut by a random amount of up
//! to half so that many clients failing together spread out. A `Retry-After` of a few
//! seconds is honoured; one asking for longer (or an HTTP date) ends the retries at once.
//! When the retries run out the last answer or error goes back unchanged, so the caller
//! decides what the client sees (502, 503 or 504).
//!
//! [`RetryReadsLayer::attempt_timeout`] also bounds how long an attempt of a request with a
//! buffered body waits for its response head, failing it with [`AttemptTimedOut`] (inside an
//! `io::Error` of kind `TimedOut`). Streamed uploads get no deadline, as their duration is the
//! uploading client's; response bodies are never cut.
//!
//! Any HTTP client service fits under it (reqwest, hyper-util's client, a test stub):
//! requests may have any body implementing [`ReplayableBody`](pyoci_core::ReplayableBody),
//! which tells a buffered body, sent again as a copy, from a streamed one, sent once
//! (`Full<Bytes>`, `Empty<Bytes>`, `String`, and `reqwest::Body` with the default `reqwest`
//! feature); responses may have any body and pass through untouched. Transport errors are
//! recognised anywhere in their source chain: `io::Error` kinds, hyper's, and reqwest's
//! timeouts (with the `reqwest` feature). Every decision is a pure function, testable on
//! its own: [`replayable_copy`], [`is_transient_status`], [`is_transient_error`],
//! [`parse_retry_after`] and the [`RetryPolicy`] methods.
//!
//! Retries are logged at debug level with the method, host and path (never headers or the
//! query, which may carry credentials or signatures).
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use http::{Method, Request, Response, StatusCode};
//! use http_body_util::Full;
//! use pyoci_retry::RetryReadsLayer;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! // A registry that is unavailable twice, then answers.
//! let attempts = Arc::new(AtomicUsize::new(0));
//! let registry = {
//!     let attempts = attempts.clone();
//!     service_fn(move |_request: Request<Full<Bytes>>| {
//!         let attempt = attempts.fetch_add(1, Ordering::SeqCst);
//!         async move {
//!             let mut response = Response::new(Full::new(Bytes::from("{}")));
//!             if attempt < 2 {
//!                 *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
//!             }
//!             Ok::<_, BoxError>(response)
//!         }
//!     })
//! };
//! let service = ServiceBuilder::new()
//!     .layer(RetryReadsLayer::new().first_backoff(Duration::from_millis(1)))
//!     .service(registry);
//!
//! let get = Request::get("https://registry.test/v2/acme/x/tags/list").body(Full::default())?;
//! let response = service.clone().oneshot(get).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(attempts.load(Ordering::SeqCst), 3);
//!
//! // A manifest push is never sent twice: its 503 goes back as it is.
//! attempts.store(0, Ordering::SeqCst);
//! let mut put = Request::new(Full::new(Bytes::from("{}")));
//! *put.method_mut() = Method::PUT;
//! *put.uri_mut() = "https://registry.test/v2/acme/x/manifests/1.0".parse()?;
//! let response = service.oneshot(put).await?;
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(attempts.load(Ordering::SeqCst), 1);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod layer;
mod policy;
mod service;

pub use error::AttemptTimedOut;
pub use layer::RetryReadsLayer;
pub use policy::{
    is_idempotent_read, is_transient_error, is_transient_status, parse_retry_after,
    replayable_copy, RetryPolicy, Verdict,
};
pub use service::{ResponseFuture, RetryReads};
