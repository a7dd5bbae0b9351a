//! The layer: configuration of [`ParseUpload`].

use tower::Layer;

use crate::{FormMemory, ParseUpload, UploadLimits};

/// Turns `multipart/form-data` upload requests into `Request<Upload>` for the inner service.
///
/// See the [crate docs](crate) for an example.
#[derive(Debug, Clone, Default)]
pub struct ParseUploadLayer {
    limits: UploadLimits,
    memory: FormMemory,
}

impl ParseUploadLayer {
    /// A layer with the default [`UploadLimits`] (1 MiB per text field, 2 MiB in all, 1000
    /// fields) and a [`FormMemory`] of 64 MiB shared by its services.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most bytes of all text fields of one upload together.
    pub fn max_form_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_form_bytes = bytes;
        self
    }

    /// Holds the text fields of every upload within `memory` (shared with whoever else
    /// uses it).
    pub fn form_memory(mut self, memory: FormMemory) -> Self {
        self.memory = memory;
        self
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
        ParseUpload::new(inner, self.limits).within(self.memory.clone())
    }
}
