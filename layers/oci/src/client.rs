use std::fmt;
use std::future::Future;

use http::header::CACHE_CONTROL;
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Response};
use pyoci_core::{describe_chain, find_in_chain, Credentials};
use tower::{BoxError, Service, ServiceExt};
use tracing::debug;

use crate::error::transport_error;
use crate::registry::Target;
use crate::{AddressRefused, OciError, Registry};

/// The outgoing HTTP service an [`OciClient`] sends through: the token-exchange layer over
/// [`HttpClient`](crate::HttpClient), or anything else of that shape. Implemented for every
/// such service; it only names the bounds once.
pub trait RegistryHttp:
    Service<
        Request<reqwest::Body>,
        Response = Response<reqwest::Body>,
        Error = BoxError,
        Future: Send,
    > + Clone
    + Send
    + 'static
{
}

impl<S> RegistryHttp for S where
    S: Service<
            Request<reqwest::Body>,
            Response = Response<reqwest::Body>,
            Error = BoxError,
            Future: Send,
        > + Clone
        + Send
        + 'static
{
}

/// A client for one registry, acting for one user.
///
/// Every request goes through the outgoing service `S` (normally the token-exchange layer
/// over [`HttpClient`](crate::HttpClient)) and carries the user's [`Credentials`] in its
/// extensions. Cloning is cheap when `S` is.
///
/// All methods return `Send + 'static` futures that own what they need, so `S` need not be
/// `Sync` (a `tower::util::BoxCloneService` works).
#[derive(Clone)]
pub struct OciClient<S> {
    pub(crate) service: S,
    pub(crate) registry: Registry,
    pub(crate) credentials: Credentials,
    /// Copied into every request, for the layers of the outgoing stack.
    pub(crate) extensions: Extensions,
    /// Reads ask every cache on the way for a fresh answer.
    pub(crate) bypass_caches: bool,
}

/// In a request's extensions: this read must be answered by the registry itself, not from a
/// cache, because a decision to write depends on it. Any cache in the outgoing stack must
/// let it through (and may store the fresh answer). The request also carries
/// `Cache-Control: no-cache` for caches outside PyOCI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BypassCaches;

impl<S> OciClient<S> {
    /// A client sending requests for `registry` through `service` on behalf of `credentials`.
    pub fn new(service: S, registry: Registry, credentials: Credentials) -> OciClient<S> {
        OciClient {
            service,
            registry,
            credentials,
            extensions: Extensions::new(),
            bypass_caches: false,
        }
    }

    /// This client, with `value` in the extensions of every request it sends (e.g. a budget
    /// permit taken beforehand, for the outgoing stack to honour).
    pub fn with_extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> OciClient<S> {
        self.extensions.insert(value);
        self
    }

    /// This client, whose reads bypass every cache: they carry `Cache-Control: no-cache`
    /// and the [`BypassCaches`] extension. For reads a write is decided on.
    pub fn bypassing_caches(mut self) -> OciClient<S> {
        self.bypass_caches = true;
        self
    }

    /// Whether this client's reads must bypass caches (see [`BypassCaches`]): a cache
    /// PyOCI keeps in front of the client must not answer them either.
    pub fn bypasses_caches(&self) -> bool {
        self.bypass_caches
    }

    /// The registry this client talks to.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The credentials sent with every request.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

impl<S> fmt::Debug for OciClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OciClient")
            .field("registry", &self.registry)
            .field("user", &self.credentials.log_name())
            .finish_non_exhaustive()
    }
}

impl<S: RegistryHttp> OciClient<S> {
    /// Sends one request and returns the registry's answer whatever its status; callers pass
    /// it to [`crate::error::check`]. The future owns everything, so it is `Send` without
    /// `S: Sync`.
    pub(crate) fn send(
        &self,
        method: Method,
        target: &Target,
        headers: HeaderMap,
        body: reqwest::Body,
    ) -> impl Future<Output = Result<Response<reqwest::Body>, OciError>> + Send + 'static {
        let mut request = Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = target.uri.clone();
        *request.headers_mut() = headers;
        *request.extensions_mut() = self.extensions.clone();
        if self.bypass_caches && (method == Method::GET || method == Method::HEAD) {
            request
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            request.extensions_mut().insert(BypassCaches);
        }
        let credentials = if target.same_origin {
            self.credentials.clone()
        } else {
            Credentials::Anonymous
        };
        request.extensions_mut().insert(credentials);
        let service = self.service.clone();
        let host = target.uri.host().unwrap_or_default().to_owned();
        let origin = match target.uri.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        // The path only: upload query strings carry opaque state or signatures.
        let path = target.uri.path().to_owned();
        async move {
            match service.oneshot(request).await {
                Ok(response) => {
                    debug!(%method, %host, %path, status = response.status().as_u16(), "registry call");
                    Ok(response)
                }
                Err(error) => {
                    let reason = describe_chain(error.as_ref());
                    debug!(%method, %host, %path, error = %reason, "registry call failed");
                    Err(match find_in_chain::<AddressRefused>(error.as_ref()) {
                        Some(refused) => OciError::AddressRefused(refused.clone()),
                        None => transport_error(&origin, error.as_ref()),
                    })
                }
            }
        }
    }
}

impl<S: RegistryHttp> OciClient<S> {
    /// Sends a request without body or extra headers to `path` on the registry.
    pub(crate) fn send_bodiless(
        &self,
        method: Method,
        path: &str,
    ) -> impl Future<Output = Result<Response<reqwest::Body>, OciError>> + Send + 'static {
        let sent = self
            .registry
            .target(path)
            .map(|target| self.send(method, &target, HeaderMap::new(), reqwest::Body::default()));
        async move { sent?.await }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::convert::Infallible;
    use std::marker::PhantomData;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use http::StatusCode;

    use super::*;
    use crate::test_util::{respond, stub_client};
    use crate::{BlobUpload, Digest};

    #[tokio::test]
    async fn registry_answers_map_to_errors() {
        let distribution_error =
            r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}"#;
        type Expectation = fn(&OciError) -> bool;
        let cases: [(u16, &str, Expectation); 6] = [
            (401, "", |e| matches!(e, OciError::Unauthorized)),
            (403, "", |e| matches!(e, OciError::Forbidden)),
            (
                404,
                r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#,
                |e| matches!(e, OciError::NotFound { what } if what == "repository acme/x (NAME_UNKNOWN)"),
            ),
            (400, distribution_error, |e| {
                matches!(e, OciError::Rejected { status, code: Some(code), message }
                    if *status == StatusCode::BAD_REQUEST && code == "MANIFEST_INVALID"
                        && message == "manifest invalid ({})")
            }),
            (
                429,
                "slow down",
                |e| matches!(e, OciError::Rejected { code: None, message, .. } if message == "slow down"),
            ),
            (
                500,
                "",
                |e| matches!(e, OciError::RegistryFailed { status, .. } if *status == StatusCode::INTERNAL_SERVER_ERROR),
            ),
        ];
        for (status, body, expected) in cases {
            let (client, _) = stub_client(move |_| respond(status, &[], body));
            let error = client.list_tags("acme/x").await.unwrap_err();
            assert!(expected(&error), "{status}: {error:?}");
        }
    }

    #[tokio::test]
    async fn delete_405_means_deletes_are_disabled() {
        let (client, _) = stub_client(|_| {
            respond(
                405,
                &[],
                r#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#,
            )
        });
        let digest = Digest::sha256_of(b"x");
        let error = client.delete_manifest("acme/x", &digest).await.unwrap_err();
        assert!(matches!(error, OciError::DeleteUnsupported), "{error:?}");
        assert_eq!(error.status_hint(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn transport_errors_are_unreachable() {
        let (client, _) = stub_client(|_| {
            let refused =
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
            Err(BoxError::from(refused))
        });
        let error = client.list_tags("acme/x").await.unwrap_err();
        match &error {
            OciError::Unreachable(reason) => assert_eq!(
                reason,
                "registry registry.test is unreachable: connection refused"
            ),
            other => panic!("expected Unreachable, got {other:?}"),
        }
        assert_eq!(error.status_hint(), StatusCode::BAD_GATEWAY);
    }

    #[tokio::test]
    async fn refused_addresses_are_forbidden_however_wrapped() {
        #[derive(Debug)]
        struct Wrapper(BoxError);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("could not reach the token service")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(self.0.as_ref())
            }
        }
        let (client, _) = stub_client(|_| {
            let refused = crate::AddressPolicy::public_only()
                .check_literal("169.254.169.254")
                .unwrap_err();
            Err(BoxError::from(Wrapper(Box::new(refused))))
        });
        let error = client.list_tags("acme/x").await.unwrap_err();
        match &error {
            OciError::AddressRefused(refused) => assert_eq!(refused.host, "169.254.169.254"),
            other => panic!("expected AddressRefused, got {other:?}"),
        }
        assert_eq!(error.status_hint(), StatusCode::FORBIDDEN);
        assert!(
            error.to_string().contains("PYOCI_ALLOW_PRIVATE_REGISTRIES"),
            "{error}"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let (client, _) = stub_client(|_| respond(200, &[], ""));
        let printed = format!("{client:?}");
        assert!(
            printed.contains("alice") && printed.contains("registry.test"),
            "{printed}"
        );
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    /// A service that is `Send` but not `Sync`, like `tower::util::BoxCloneService`.
    #[derive(Clone)]
    struct NotSync<S>(S, PhantomData<Cell<()>>);

    impl<S: Service<Request<reqwest::Body>>> Service<Request<reqwest::Body>> for NotSync<S> {
        type Response = S::Response;
        type Error = S::Error;
        type Future = S::Future;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, request: Request<reqwest::Body>) -> Self::Future {
            self.0.call(request)
        }
    }

    fn assert_send<T: Send>(_: &T) {}

    /// Compile-time check: every future is `Send` for any `Send` (not `Sync`) service.
    #[allow(dead_code)]
    fn futures_are_send_without_sync<S>(
        client: OciClient<S>,
        upload: BlobUpload<S>,
        other: BlobUpload<S>,
    ) where
        S: Service<Request<reqwest::Body>, Response = Response<reqwest::Body>, Error = BoxError>
            + Clone
            + Send
            + 'static,
        S::Future: Send,
    {
        let digest = Digest::sha256_of(b"");
        assert_send(&client.list_tags("a"));
        assert_send(&client.get_manifest("a", "b", &["c"]));
        assert_send(&client.get_index("a", "b"));
        assert_send(&client.get_image_manifest("a", "b"));
        assert_send(&client.put_manifest("a", "b", "c", Bytes::new()));
        assert_send(&client.put_index("a", "b", &crate::ImageIndex::new(vec![])));
        let manifest = crate::ImageManifest::new(crate::Descriptor::empty_config(), vec![]);
        assert_send(&client.put_image_manifest("a", &manifest));
        assert_send(&client.delete_manifest("a", &digest));
        assert_send(&client.blob_exists("a", &digest));
        assert_send(&client.push_blob("a", &digest, Bytes::new()));
        assert_send(&client.get_blob("a", &digest));
        assert_send(&client.start_blob_upload("a"));
        assert_send(
            &upload.send_stream(futures_util::stream::empty::<Result<Bytes, Infallible>>()),
        );
        assert_send(&other.commit(&digest));
    }

    #[tokio::test]
    async fn a_not_sync_service_can_be_spawned() {
        let (client, _) = stub_client(|_| respond(200, &[], r#"{"tags":["a"]}"#));
        let client = OciClient::new(
            NotSync(client.service, PhantomData),
            client.registry,
            client.credentials,
        );
        // `tokio::spawn` needs a `Send + 'static` future.
        let tags = tokio::spawn(client.list_tags("a")).await.unwrap().unwrap();
        assert_eq!(tags, ["a"]);
    }
}
