//! The layer: constructs [`RenderIndex`].

use tower::Layer;

use crate::RenderIndex;

/// Renders the [`ProjectPage`](crate::ProjectPage) or [`ProjectList`](crate::ProjectList) that
/// the inner service leaves in its response extensions, in the format the request accepts.
///
/// See the [crate docs](crate) for an example.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderIndexLayer;

impl RenderIndexLayer {
    /// The layer (it has no settings).
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for RenderIndexLayer {
    type Service = RenderIndex<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RenderIndex::new(inner)
    }
}
