//! The Prometheus metrics listener (`PYOCI_METRICS_PORT`): `GET /metrics` on a port of its
//! own. A path on the index's port could be a registry or namespace name; a port of its own
//! cannot, and it can stay unreachable from where the clients are.

use std::{convert::Infallible, net::SocketAddr};

use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use pyoci_metrics::Metrics;
use tokio::net::TcpListener;
use tower::BoxError;

use crate::config::Config;

/// What Prometheus asks for and `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds the metrics listener if `PYOCI_METRICS_PORT` is set, and serves it in the
/// background for as long as the process runs.
pub async fn start(config: &Config, metrics: Metrics) -> Result<(), BoxError> {
    let Some(port) = config.metrics_port else {
        return Ok(());
    };
    let address = SocketAddr::new(config.metrics_host.unwrap_or(config.host), port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|err| format!("cannot listen for metrics on {address}: {err}"))?;
    tracing::info!(
        "metrics served at http://{}/metrics",
        listener.local_addr()?
    );
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "metrics accept failed");
                    // Out of file descriptors: let some close before trying again.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let metrics = metrics.clone();
            let service = service_fn(move |request| {
                let response = answer(&metrics, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(())
}

fn answer(metrics: &Metrics, request: &Request<Incoming>) -> Response<Full<bytes::Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, OPENMETRICS, metrics.encode()),
        (_, "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET /metrics\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}
