//! [`MountLayer`]: tells PyOCI the prefix it is mounted under, for every request.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Extensions, Request, Uri};
use tower::{Layer, Service};

use super::MountPrefix;

/// Finds the original URI of a request in its extensions.
type FindOriginal = Arc<dyn Fn(&Extensions) -> Option<Uri> + Send + Sync>;

/// Where a mounted PyOCI finds its prefix: given once, or worked out per request from the
/// original URI an outer router keeps (axum's `OriginalUri`).
#[derive(Clone)]
enum Source {
    Fixed(MountPrefix),
    Stripped(FindOriginal),
}

/// Puts a [`MountPrefix`] in every request, so the links, redirects and page URLs PyOCI
/// writes keep the prefix an outer router stripped.
///
/// With axum, mounted at a fixed path, name the same path twice:
///
/// ```ignore
/// let pypi = ServiceBuilder::new()
///     .layer(pyoci::MountLayer::new("/pypi"))
///     .service(pyoci::pyoci_service(config)?);
/// let app = axum::Router::new().nest_service("/pypi", pypi);
/// ```
///
/// Under a router whose prefix varies (a path parameter), take it from the original URI:
/// `MountLayer::from_original_uri(|extensions| extensions.get::<OriginalUri>().map(|o| o.0.clone()))`.
#[derive(Clone)]
pub struct MountLayer {
    source: Source,
}

impl MountLayer {
    /// Every request was stripped of `prefix` (`/pypi`).
    pub fn new(prefix: &str) -> Self {
        MountLayer {
            source: Source::Fixed(MountPrefix::new(prefix)),
        }
    }

    /// Each request's prefix is what the outer router stripped from the original URI that
    /// `original` finds in its extensions. A request whose path is no tail of its original
    /// one gets no prefix, and a warning says so.
    pub fn from_original_uri<F>(original: F) -> Self
    where
        F: Fn(&Extensions) -> Option<Uri> + Send + Sync + 'static,
    {
        MountLayer {
            source: Source::Stripped(Arc::new(original)),
        }
    }
}

impl fmt::Debug for MountLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Fixed(prefix) => f.debug_tuple("MountLayer").field(prefix).finish(),
            Source::Stripped(_) => f.write_str("MountLayer(from the original URI)"),
        }
    }
}

impl<S> Layer<S> for MountLayer {
    type Service = Mount<S>;

    fn layer(&self, inner: S) -> Mount<S> {
        Mount {
            inner,
            source: self.source.clone(),
        }
    }
}

/// The service [`MountLayer`] makes.
#[derive(Clone)]
pub struct Mount<S> {
    inner: S,
    source: Source,
}

impl<S> Mount<S> {
    pyoci_core::inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for Mount<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        let prefix = match &self.source {
            Source::Fixed(prefix) => Some(prefix.clone()),
            Source::Stripped(original) => {
                let prefix = original(request.extensions())
                    .and_then(|original| MountPrefix::stripped(&original, request.uri()));
                if prefix.is_none() {
                    tracing::warn!(
                        path = request.uri().path(),
                        "no mount prefix found for a request: its links will not carry one"
                    );
                }
                prefix
            }
        };
        if let Some(prefix) = prefix {
            request.extensions_mut().insert(prefix);
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{service_fn, ServiceExt};

    use super::*;

    /// What the inner service sees as its prefix.
    async fn prefix_seen(layer: MountLayer, request: Request<()>) -> Option<String> {
        let service = layer.layer(service_fn(|request: Request<()>| async move {
            Ok::<_, Infallible>(
                request
                    .extensions()
                    .get::<MountPrefix>()
                    .map(|prefix| prefix.as_str().to_owned()),
            )
        }));
        service.oneshot(request).await.unwrap()
    }

    #[derive(Clone)]
    struct Original(Uri);

    #[tokio::test]
    async fn a_fixed_prefix_reaches_every_request() {
        let request = Request::get("/ghcr.io/acme/").body(()).unwrap();
        assert_eq!(
            prefix_seen(MountLayer::new("pypi/"), request)
                .await
                .as_deref(),
            Some("/pypi")
        );
    }

    #[tokio::test]
    async fn a_prefix_is_worked_out_from_the_original_uri() {
        let layer = MountLayer::from_original_uri(|extensions| {
            extensions.get::<Original>().map(|o| o.0.clone())
        });
        let mut request = Request::get("/ghcr.io/acme/").body(()).unwrap();
        request
            .extensions_mut()
            .insert(Original("/teams/a/pypi/ghcr.io/acme/".parse().unwrap()));
        assert_eq!(
            prefix_seen(layer.clone(), request).await.as_deref(),
            Some("/teams/a/pypi")
        );
        let without = Request::get("/ghcr.io/acme/").body(()).unwrap();
        assert_eq!(prefix_seen(layer, without).await, None);
    }
}
