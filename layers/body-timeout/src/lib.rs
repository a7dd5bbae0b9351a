//! An idle timeout for HTTP bodies: a body that delivers nothing for a while fails.
//!
//! A body that stops moving holds whatever waits on it: an upload stalled halfway keeps its
//! registry upload (and a registry request slot) open, and a registry that stops sending a
//! download keeps the downloading client waiting. [`IdleTimeoutBody`] wraps any
//! [`http_body::Body`] and fails with [`IdleTimeout`] when the reader has been waiting longer
//! than the idle time for the next frame. The clock only runs while the reader waits: a
//! reader busy elsewhere (sending the previous chunk on) is never blamed on the body, and a
//! frame that is ready is always delivered first.
//!
//! [`RequestBodyIdleTimeoutLayer`] puts the wrapper on every request body of a service. The
//! service itself cannot answer for the body (the handler reads it), so the handler sees the
//! [`IdleTimeout`] error when reading and answers `408 Request Timeout`;
//! [`is_idle_timeout`] finds it in an error's source chain. For response bodies (a client
//! reading a registry's answer), wrap them with [`IdleTimeoutBody::new`].
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use futures_util::{stream, StreamExt};
//! use http::{Request, Response};
//! use http_body_util::{BodyExt, StreamBody};
//! use pyoci_body_timeout::{is_idle_timeout, IdleTimeoutBody, RequestBodyIdleTimeoutLayer};
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! // A handler that reads the whole request body and says how it went.
//! let handler = service_fn(|request: Request<IdleTimeoutBody<_>>| async move {
//!     let outcome = match request.into_body().collect().await {
//!         Ok(body) => format!("read {} bytes", body.to_bytes().len()),
//!         Err(err) if is_idle_timeout(err.as_ref()) => "timed out".to_owned(),
//!         Err(err) => format!("failed: {err}"),
//!     };
//!     Ok::<_, BoxError>(Response::new(outcome))
//! });
//! let service = ServiceBuilder::new()
//!     .layer(RequestBodyIdleTimeoutLayer::new(Duration::from_millis(50)))
//!     .service(handler);
//!
//! // A client that sends one chunk, then nothing.
//! let half = Ok::<_, BoxError>(http_body::Frame::data(Bytes::from("half")));
//! let stalled = StreamBody::new(stream::iter([half]).chain(stream::pending()));
//! let response = service.oneshot(Request::new(stalled)).await?;
//! assert_eq!(response.body(), "timed out");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod body;
mod error;
mod layer;
mod service;

pub use body::IdleTimeoutBody;
pub use error::{is_idle_timeout, IdleTimeout};
pub use layer::RequestBodyIdleTimeoutLayer;
pub use service::RequestBodyIdleTimeout;
