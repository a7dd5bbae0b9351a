use tower::Layer;

use crate::{Metrics, RegistryMetrics};

/// Counts outgoing requests to registries (and their token services) in [`Metrics`]. Put it
/// right above the HTTP client, so that each retry and each token fetch counts as the
/// request on the wire it is.
#[derive(Clone, Debug)]
pub struct RegistryMetricsLayer {
    metrics: Metrics,
}

impl RegistryMetricsLayer {
    /// Records into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        RegistryMetricsLayer { metrics }
    }
}

impl<S> Layer<S> for RegistryMetricsLayer {
    type Service = RegistryMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RegistryMetrics::new(inner, self.metrics.clone())
    }
}
