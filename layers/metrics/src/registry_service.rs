use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use pin_project::pin_project;
use tower::Service;

use crate::labels::{method_label, status_label};
use crate::metrics::{RegistryLabels, RegistryOutcomeLabels};
use crate::{Metrics, RegistryMetricsLayer};

/// Counts registry requests by kind, method and outcome, and times them to the response
/// head; made by [`RegistryMetricsLayer`](crate::RegistryMetricsLayer).
#[derive(Clone, Debug)]
pub struct RegistryMetrics<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> RegistryMetrics<S> {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: S, metrics: Metrics) -> Self {
        RegistryMetrics { inner, metrics }
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer(metrics: Metrics) -> RegistryMetricsLayer {
        RegistryMetricsLayer::new(metrics)
    }

    pyoci_core::inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RegistryMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RegistryMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let labels = RegistryLabels {
            kind: registry_request_kind(request.uri().path()),
            method: method_label(request.method()),
        };
        // Method, host and path only: the query may hold upload state or a token scope,
        // the headers credentials.
        let span = tracing::info_span!(
            target: "pyoci::trace",
            "registry request",
            otel.name = %format_args!("{} {}", labels.method, labels.kind),
            otel.kind = "client",
            http.request.method = %labels.method,
            server.address = request.uri().host().unwrap_or_default(),
            url.path = request.uri().path(),
            pyoci.registry.kind = labels.kind,
            http.response.status_code = tracing::field::Empty,
        );
        let inner = span.in_scope(|| self.inner.call(request));
        RegistryMetricsFuture {
            inner,
            span,
            metrics: self.metrics.clone(),
            labels: Some(labels),
            started: Instant::now(),
        }
    }
}

/// Response future of [`RegistryMetrics`].
#[pin_project]
pub struct RegistryMetricsFuture<F> {
    #[pin]
    inner: F,
    metrics: Metrics,
    labels: Option<RegistryLabels>,
    started: Instant,
    span: tracing::Span,
}

impl<F, B, E> Future for RegistryMetricsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            this.span
                .record("http.response.status_code", response.status().as_u16());
        }
        if let Some(labels) = this.labels.take() {
            let inner = this.metrics.inner();
            inner
                .registry_duration
                .get_or_create(&labels)
                .observe(this.started.elapsed().as_secs_f64());
            let outcome = match &result {
                Ok(response) => status_label(response.status().as_u16()),
                Err(_) => "error",
            };
            inner
                .registry_requests
                .get_or_create(&RegistryOutcomeLabels {
                    kind: labels.kind,
                    method: labels.method,
                    outcome,
                })
                .inc();
        }
        Poll::Ready(result)
    }
}

/// The kind of a registry request, from its path (distribution API v2). PyOCI sends nothing
/// but registry API requests and token fetches, so a path outside `/v2/` is a token fetch.
pub fn registry_request_kind(path: &str) -> &'static str {
    let Some(api) = path.strip_prefix("/v2/") else {
        return if path == "/v2" { "ping" } else { "token" };
    };
    if api.is_empty() {
        "ping"
    } else if api == "_catalog" {
        "catalog"
    } else if api.contains("/blobs/uploads") {
        "blob_upload"
    } else if api.contains("/blobs/") {
        "blob"
    } else if api.contains("/manifests/") {
        "manifest"
    } else if api.ends_with("/tags/list") {
        "tags"
    } else if api.contains("/referrers/") {
        "referrers"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::registry_request_kind;

    #[test]
    fn kinds_from_paths() {
        for (path, kind) in [
            ("/v2/", "ping"),
            ("/v2", "ping"),
            ("/v2/_catalog", "catalog"),
            ("/v2/acme/pkg/blobs/uploads/", "blob_upload"),
            ("/v2/acme/pkg/blobs/uploads/4f1c", "blob_upload"),
            ("/v2/acme/pkg/blobs/sha256:ab", "blob"),
            ("/v2/acme/pkg/manifests/1.0", "manifest"),
            ("/v2/acme/pkg/tags/list", "tags"),
            ("/v2/acme/pkg/referrers/sha256:ab", "referrers"),
            ("/token", "token"),
            ("/oauth2/token", "token"),
            ("/v2/acme/pkg/unknown", "other"),
        ] {
            assert_eq!(registry_request_kind(path), kind, "{path}");
        }
    }
}
