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
//! # Why not tower-http's `TimeoutBody`
//!
//! tower-http's `timeout::TimeoutBody` (0.6) is also an idle timeout between frames, and
//! also starts its clock when the reader asks and finds nothing. It differs where PyOCI
//! needs otherwise:
//!
//! - **The body is looked at before the clock.** tower-http polls its timer first: a reader
//!   that asked, found nothing, and came back after the idle time gets a timeout even when
//!   a frame arrived well within it and is waiting. Here the body is polled first, so a
//!   body fails only when it really delivered nothing for the idle time; a reader that is
//!   slow (a busy runtime, a reader serving something else between polls) is not blamed
//!   on the sender. Test: `data_that_came_in_time_is_delivered_to_a_reader_back_late`
//!   (tower-http's body fails it, checked against 0.6.11).
//! - **Size and end are kept.** `size_hint` and `is_end_stream` are the inner body's;
//!   tower-http's reports an unknown size and never an end, which hyper and reqwest read
//!   to send a `Content-Length` or to end an HTTP/2 stream with its headers. Test:
//!   `the_inner_size_and_end_are_kept`.
//! - **The error says how long.** [`IdleTimeout`] carries the idle time ("no data arrived
//!   for 60 s"), which PyOCI's `408` quotes; tower-http's `TimeoutError` only says that
//!   "data was not received within the designated timeout". Test: `says_how_long`.
//! - A frame that is ready costs no timer work here; tower-http arms a new timer on every
//!   poll after a frame. Measured, that is about 0.1 µs per frame, so it is not a reason
//!   on its own.
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
