//! OpenTelemetry traces over OTLP/HTTP (`--features otel`), configured by the standard
//! `OTEL_*` variables: on when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and neither `OTEL_SDK_DISABLED=true` nor
//! `OTEL_TRACES_EXPORTER=none`); `OTEL_EXPORTER_OTLP_PROTOCOL` picks `http/protobuf` (the
//! default) or `http/json`; `OTEL_SERVICE_NAME` (default `pyoci`), `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*` as the SDK reads them.
//!
//! Exported: the spans of target `pyoci::trace`, one per incoming request (method, path,
//! route kind, status) and one per registry request beneath it (method, host, path, kind,
//! status); they carry no header, query string or credential.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing::{Level, Subscriber};
use tracing_subscriber::{filter::Targets, registry::LookupSpan, Layer};

/// The exporter, to be flushed at exit.
pub struct OtelGuard(SdkTracerProvider, String);

impl OtelGuard {
    /// Where spans go: the endpoint's host and port only.
    pub fn host(&self) -> &str {
        &self.1
    }

    /// Sends the spans still buffered.
    pub async fn shutdown(self) {
        // The SDK's exporter blocks; keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || self.0.shutdown()).await;
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// A boxed tracing layer for subscriber `S`.
pub type BoxedLayer<S> = Box<dyn Layer<S> + Send + Sync>;

/// The tracing layer exporting `pyoci::trace` spans, if the environment asks for traces.
pub fn layer<S>() -> Result<Option<(BoxedLayer<S>, OtelGuard)>, String>
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let endpoint =
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"));
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|value| value == "true")
        || env("OTEL_TRACES_EXPORTER").is_some_and(|value| value == "none");
    let Some(endpoint) = endpoint.filter(|_| !disabled) else {
        return Ok(None);
    };
    let protocol = match env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .as_deref()
    {
        None | Some("http/protobuf") => Protocol::HttpBinary,
        Some("http/json") => Protocol::HttpJson,
        Some(other) => {
            return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported: use http/protobuf or http/json"
        ))
        }
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|err| format!("cannot set up the OTLP exporter: {err}"))?;
    let mut resource = Resource::builder();
    if env("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("pyoci");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("pyoci");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target("pyoci::trace", Level::INFO))
        .boxed();
    // Only the host: an endpoint URL could hold a token in its query or userinfo.
    let host = endpoint
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .map(|authority| authority.rsplit('@').next().unwrap_or(authority).to_owned())
        .unwrap_or_default();
    Ok(Some((layer, OtelGuard(provider, host))))
}
