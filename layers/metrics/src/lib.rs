//! Prometheus metrics for a proxy, as two tower layers sharing one [`Metrics`]:
//!
//! - [`RequestMetricsLayer`], on the incoming side, counts each request by route kind (a
//!   small fixed set of names the caller's classifier gives) and status, times it from arrival
//!   to the end of its response body (a download lasts as long as its body), counts request
//!   and response body bytes as they pass, and shows the requests in flight by route kind. It
//!   can also write one access-log line per request (target `pyoci::access`: method, path
//!   without the query string, route, status, duration, bytes in and out, user agent, HTTP
//!   version; never
//!   headers, which carry credentials).
//! - [`RegistryMetricsLayer`], on the outgoing side right above the HTTP client, counts each
//!   request on the wire by kind (manifest, blob, blob_upload, tags, token...), method and
//!   outcome (the status, or `error`), and times it to the response head.
//!
//! Every label takes its values from a fixed set, so no client or registry can make the
//! number of time series grow without bound. A status (`status` of the incoming requests,
//! which for a download is the registry's, and `outcome` of the outgoing ones) keeps its
//! number when PyOCI acts on it or answers with it itself: 200, 201, 202, 204, 206, 301,
//! 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409, 412, 413, 416, 429, 500,
//! 501, 502, 503, 504. Any other is `other_2xx`, `other_3xx`, `other_4xx` or `other_5xx`,
//! and 1xx or anything outside 100-599 is `invalid`; besides these, `aborted` (incoming: the
//! client left before an answer) and `error` (outgoing: no answer). A method is its name
//! for the nine standard ones and `other` for any extension method.
//!
//! [`Metrics::count_token_lookup`] counts registry-token cache hits and misses, fed by
//! whatever keeps the tokens. [`Metrics::encode`] renders everything as Prometheus text.
//!
//! A request the client abandons before the response body ends is still counted, with the
//! status it got (or `aborted` if none), when its body or future is dropped.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response};
//! use http_body_util::{BodyExt, Full};
//! use pyoci_metrics::{Metrics, RequestMetricsLayer};
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let metrics = Metrics::new();
//! let service = ServiceBuilder::new()
//!     .layer(RequestMetricsLayer::new(metrics.clone()).classify(|_method, path| {
//!         if path == "/health" { "health" } else { "other" }
//!     }))
//!     .service(service_fn(|_request: Request<_>| async {
//!         Ok::<_, BoxError>(Response::new(Full::new(bytes::Bytes::from_static(b"ok"))))
//!     }));
//!
//! let request = Request::get("/health").body(Full::new(bytes::Bytes::new()))?;
//! let response = service.oneshot(request).await?;
//! response.into_body().collect().await?; // the request ends with its body
//!
//! let text = metrics.encode();
//! assert!(text.contains(r#"pyoci_http_requests_total{route="health",status="200"} 1"#));
//! assert!(text.contains(r#"pyoci_http_response_body_bytes_total{route="health"} 2"#));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod body;
mod labels;
mod metrics;
mod record;
mod registry_layer;
mod registry_service;
mod request_future;
mod request_layer;
mod request_service;

pub use body::MeteredBody;
pub use metrics::{Metrics, MirrorEvent};
pub use registry_layer::RegistryMetricsLayer;
pub use registry_service::{registry_request_kind, RegistryMetrics, RegistryMetricsFuture};
pub use request_future::RequestMetricsFuture;
pub use request_layer::{Classify, RequestMetricsLayer};
pub use request_service::RequestMetrics;
