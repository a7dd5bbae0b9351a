use std::sync::Arc;

use tower::Layer;

use crate::ExtractCredentials;

/// Applies [`ExtractCredentials`]: parses the incoming `Authorization` header into
/// [`Credentials`](crate::Credentials) in the request extensions.
///
/// See the [crate docs](crate) for an example.
#[derive(Debug, Clone, Default)]
pub struct ExtractCredentialsLayer {
    bearer_username: Option<Arc<str>>,
}

impl ExtractCredentialsLayer {
    /// A layer that turns `Basic` headers into [`Credentials::Basic`](crate::Credentials::Basic)
    /// and `Bearer` headers into [`Credentials::Bearer`](crate::Credentials::Bearer).
    pub fn new() -> Self {
        Self::default()
    }

    /// Treats Basic credentials with this username as a registry token in the password field:
    /// they become [`Credentials::Bearer`](crate::Credentials::Bearer) with the password.
    ///
    /// pip and twine can only send Basic credentials; this lets their users pass a token
    /// (the `PYOCI_BEARER_USERNAME` setting).
    pub fn bearer_username(mut self, username: impl Into<String>) -> Self {
        self.bearer_username = Some(Arc::from(username.into()));
        self
    }
}

impl<S> Layer<S> for ExtractCredentialsLayer {
    type Service = ExtractCredentials<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExtractCredentials::with_bearer_username(inner, self.bearer_username.clone())
    }
}
