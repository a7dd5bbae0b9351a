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
mod metrics;
mod record;
mod registry_layer;
mod registry_service;
mod request_future;
mod request_layer;
mod request_service;

pub use body::MeteredBody;
pub use metrics::Metrics;
pub use registry_layer::RegistryMetricsLayer;
pub use registry_service::{registry_request_kind, RegistryMetrics, RegistryMetricsFuture};
pub use request_future::RequestMetricsFuture;
pub use request_layer::{Classify, RequestMetricsLayer};
pub use request_service::RequestMetrics;
