use std::sync::Arc;

use http::Method;
use tower::Layer;

use crate::{Metrics, RequestMetrics};

/// Names the kind of route a request is for (`"file"`, `"upload"`...): a metric label, so
/// it must come from a small fixed set, never from the path itself.
pub type Classify = Arc<dyn Fn(&Method, &str) -> &'static str + Send + Sync>;

/// Counts incoming requests in [`Metrics`] and, if asked, writes an access-log line for each.
///
/// See the [crate docs](crate) for what is recorded.
#[derive(Clone)]
pub struct RequestMetricsLayer {
    metrics: Metrics,
    classify: Classify,
    access_log: bool,
}

impl RequestMetricsLayer {
    /// Records into `metrics`, every request as route kind `"any"` until
    /// [`RequestMetricsLayer::classify`] says otherwise; no access log.
    pub fn new(metrics: Metrics) -> Self {
        RequestMetricsLayer {
            metrics,
            classify: Arc::new(|_, _| "any"),
            access_log: false,
        }
    }

    /// How to name a request's route kind from its method and path.
    pub fn classify(
        mut self,
        classify: impl Fn(&Method, &str) -> &'static str + Send + Sync + 'static,
    ) -> Self {
        self.classify = Arc::new(classify);
        self
    }

    /// Whether to write one `info` event per request to the `pyoci::access` target.
    pub fn access_log(mut self, enabled: bool) -> Self {
        self.access_log = enabled;
        self
    }
}

impl std::fmt::Debug for RequestMetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetricsLayer")
            .field("access_log", &self.access_log)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics {
            inner,
            metrics: self.metrics.clone(),
            classify: self.classify.clone(),
            access_log: self.access_log,
        }
    }
}
