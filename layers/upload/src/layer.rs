//! The layer: configuration of [`ParseUpload`].

use tower::Layer;

use crate::{ParseUpload, UploadLimits};

/// Turns `multipart/form-data` upload requests into `Request<Upload>` for the inner service.
///
/// See the [crate docs](crate) for an example.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseUploadLayer {
    limits: UploadLimits,
}

impl ParseUploadLayer {
    /// A layer with the default [`UploadLimits`] (1 MiB per text field, 1000 fields).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the largest text field accepted, in bytes.
    pub fn max_text_field_size(mut self, bytes: usize) -> Self {
        self.limits.max_text_field_size = bytes;
        self
    }

    /// Sets the most text fields accepted, counting repeated names.
    pub fn max_fields(mut self, count: usize) -> Self {
        self.limits.max_fields = count;
        self
    }
}

impl<S> Layer<S> for ParseUploadLayer {
    type Service = ParseUpload<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ParseUpload::new(inner, self.limits)
    }
}
