use std::time::Duration;

use tower::Layer;

use crate::RequestBodyIdleTimeout;

/// Wraps every request body in an [`IdleTimeoutBody`](crate::IdleTimeoutBody): reading it
/// fails with [`IdleTimeout`](crate::IdleTimeout) once the reader has waited `idle` for the
/// next frame.
#[derive(Clone, Copy, Debug)]
pub struct RequestBodyIdleTimeoutLayer {
    idle: Duration,
}

impl RequestBodyIdleTimeoutLayer {
    /// Request bodies may pause for at most `idle` between frames.
    pub fn new(idle: Duration) -> Self {
        RequestBodyIdleTimeoutLayer { idle }
    }
}

impl<S> Layer<S> for RequestBodyIdleTimeoutLayer {
    type Service = RequestBodyIdleTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestBodyIdleTimeout::new(inner, self.idle)
    }
}
