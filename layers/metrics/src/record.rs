use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;

use crate::labels::status_label;
use crate::metrics::{Metrics, RouteLabels, RouteStatusLabels};

/// Bytes that went through one body: added to a Prometheus counter as they pass (so a long
/// upload shows progress) and kept for the request's access-log line.
#[derive(Clone)]
pub(crate) struct ByteCount {
    counter: Counter,
    total: Arc<AtomicU64>,
}

impl ByteCount {
    pub(crate) fn new(counter: Counter) -> Self {
        ByteCount {
            counter,
            total: Arc::default(),
        }
    }

    pub(crate) fn add(&self, bytes: usize) {
        let bytes = bytes as u64;
        self.counter.inc_by(bytes);
        self.total.fetch_add(bytes, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// One request from arrival to the end of its response body. Dropping it records the
/// request, whichever way it ended: the response body sent, dropped half-way, or the client
/// gone before any answer (`aborted`).
pub(crate) struct Record {
    pub(crate) metrics: Metrics,
    pub(crate) route: &'static str,
    pub(crate) method: http::Method,
    pub(crate) version: http::Version,
    /// The path only: the query string may carry signatures or tokens.
    pub(crate) path: String,
    pub(crate) user_agent: String,
    pub(crate) started: Instant,
    pub(crate) status: Option<u16>,
    pub(crate) bytes_in: ByteCount,
    pub(crate) bytes_out: ByteCount,
    pub(crate) access_log: bool,
    /// The request's span (target `pyoci::trace`), open until the response body ends.
    pub(crate) span: tracing::Span,
}

impl Record {
    /// Starts the record of a request and counts it in flight.
    pub(crate) fn start(
        metrics: &Metrics,
        route: &'static str,
        request: &http::request::Parts,
        access_log: bool,
    ) -> Record {
        let inner = metrics.inner();
        let labels = RouteLabels { route };
        inner.requests_in_flight.get_or_create(&labels).inc();
        let user_agent = request
            .headers
            .get(http::header::USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        // Only method, path and route kind: never headers or the query string.
        let span = tracing::info_span!(
            target: "pyoci::trace",
            "request",
            otel.name = %format_args!("{} {route}", request.method),
            otel.kind = "server",
            http.request.method = %request.method,
            url.path = %request.uri.path(),
            http.route = route,
            http.response.status_code = tracing::field::Empty,
        );
        Record {
            span,
            metrics: metrics.clone(),
            route,
            method: request.method.clone(),
            version: request.version,
            path: request.uri.path().to_owned(),
            user_agent,
            started: Instant::now(),
            status: None,
            bytes_in: ByteCount::new(inner.request_bytes.get_or_create(&labels).clone()),
            bytes_out: ByteCount::new(inner.response_bytes.get_or_create(&labels).clone()),
            access_log,
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        let inner = self.metrics.inner();
        let labels = RouteLabels { route: self.route };
        inner.requests_in_flight.get_or_create(&labels).dec();
        inner
            .request_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        inner
            .requests
            .get_or_create(&RouteStatusLabels {
                route: self.route,
                status: self.status.map_or("aborted", status_label),
            })
            .inc();
        // The log keeps the exact status: a line is no time series.
        let status = self
            .status
            .map_or_else(|| "aborted".to_owned(), |status| status.to_string());
        if self.access_log {
            tracing::info!(
                target: "pyoci::access",
                method = %self.method,
                path = %self.path,
                route = self.route,
                status = %status,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                bytes_in = self.bytes_in.total(),
                bytes_out = self.bytes_out.total(),
                user_agent = %self.user_agent,
                http_version = ?self.version,
                "request"
            );
        }
    }
}
