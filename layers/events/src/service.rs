use std::{
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{header::CONTENT_LENGTH, HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use percent_encoding::percent_decode_str;
use tokio::sync::Semaphore;
use tower::{BoxError, Service};

use crate::{
    changed_repositories,
    error::text_response,
    payload::GITHUB_EVENT,
    secret::{github_signature, Secret},
    EventError, Source,
};

/// Every answer the receiver gives: plain text, whole.
type Answer = Response<Full<Bytes>>;

/// What the receiver tells the app: these repositories of this registry changed.
pub trait ChangeSink: Send + Sync + 'static {
    /// `registry` is the path segment as sent (percent-decoded once, e.g. "ghcr.io" or
    /// "http://127.0.0.1:5000"); `repositories` are repository paths ("acme/demo"),
    /// lowercased, deduplicated, each validated as an OCI repository name (distribution spec
    /// grammar, at most 255 characters).
    ///
    /// Called once per authenticated, well-formed notification, also with an empty slice when
    /// it changed nothing (a pull, a blob push): so a registry the app does not take is
    /// answered 404 on every delivery, not only on some.
    ///
    /// Returns false when the app does not take events for this registry (the receiver
    /// answers 404 and says so).
    fn changed(&self, registry: &str, repositories: &[String]) -> bool;
}

impl<F> ChangeSink for F
where
    F: Fn(&str, &[String]) -> bool + Send + Sync + 'static,
{
    fn changed(&self, registry: &str, repositories: &[String]) -> bool {
        self(registry, repositories)
    }
}

/// The receiver of registry change notifications: a [`Service`] answering
/// `POST /events/<source>/<registry>`. See the [crate docs](crate) for what it takes.
///
/// Cheap to clone: clones share the sink, the settings and the concurrency limit.
#[derive(Clone)]
pub struct RegistryEvents {
    settings: Arc<Settings>,
    sink: Arc<dyn ChangeSink>,
    /// One permit per notification being read, so that at most `max_concurrent` bodies are
    /// buffered at once.
    reading: Arc<Semaphore>,
}

#[derive(Clone)]
struct Settings {
    secret: Secret,
    max_body_bytes: usize,
    max_repositories: usize,
    max_concurrent: usize,
}

impl RegistryEvents {
    /// The default of [`max_body_bytes`](Self::max_body_bytes): 1 MiB, thousands of events.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
    /// The default of [`max_repositories`](Self::max_repositories).
    pub const DEFAULT_MAX_REPOSITORIES: usize = 1000;
    /// The default of [`max_concurrent`](Self::max_concurrent).
    pub const DEFAULT_MAX_CONCURRENT: usize = 8;

    /// A receiver that takes notifications authenticated with `secret` and tells `sink` what
    /// they say changed.
    pub fn new(secret: Secret, sink: impl ChangeSink) -> Self {
        RegistryEvents {
            settings: Arc::new(Settings {
                secret,
                max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
                max_repositories: Self::DEFAULT_MAX_REPOSITORIES,
                max_concurrent: Self::DEFAULT_MAX_CONCURRENT,
            }),
            sink: Arc::new(sink),
            reading: Arc::new(Semaphore::new(Self::DEFAULT_MAX_CONCURRENT)),
        }
    }

    /// The longest body read (default 1 MiB); a longer one is answered 413 and not parsed.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.settings).max_body_bytes = bytes;
        self
    }

    /// The most distinct repositories one notification may name (default 1000). Beyond it
    /// the notification is answered 413 and the sink is not told anything: dropping caches
    /// without bound is the work a flood of events could otherwise cause.
    pub fn max_repositories(mut self, count: usize) -> Self {
        Arc::make_mut(&mut self.settings).max_repositories = count;
        self
    }

    /// How many notifications are read at once (default 8, at least 1). One more is answered
    /// 503 at once rather than queued, so that slow senders cannot pile up buffered bodies.
    ///
    /// Set it before cloning: it gives this receiver a limit of its own.
    pub fn max_concurrent(mut self, count: usize) -> Self {
        let count = count.clamp(1, Semaphore::MAX_PERMITS);
        Arc::make_mut(&mut self.settings).max_concurrent = count;
        self.reading = Arc::new(Semaphore::new(count));
        self
    }

    async fn handle<B>(self, request: Request<B>) -> Result<Response<Full<Bytes>>, EventError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let settings = &self.settings;
        let (parts, body) = request.into_parts();
        let Route { source, registry } = Route::parse(&parts.method, parts.uri.path())?;

        // Authenticate before reading anything: a bearer is checked now; GitHub signs the
        // body, so only the signature's form can be checked now and its value after reading.
        let signature = match source {
            Source::GitHub => Some(github_signature(&parts.headers)?),
            _ => {
                settings.secret.check_bearer(&parts.headers)?;
                None
            }
        };
        if declared_length(&parts.headers).is_some_and(|length| length > settings.max_body_bytes) {
            return Err(EventError::BodyTooLarge {
                limit: settings.max_body_bytes,
            });
        }

        let _reading =
            Arc::clone(&self.reading)
                .try_acquire_owned()
                .map_err(|_| EventError::Busy {
                    limit: settings.max_concurrent,
                })?;
        let body = read(body, settings.max_body_bytes).await?;

        if let Some(signature) = signature {
            settings.secret.check_github_signature(&signature, &body)?;
            // GitHub sends a ping when the webhook is created: answer it, change nothing.
            if parts
                .headers
                .get(GITHUB_EVENT)
                .is_some_and(|event| event == "ping")
            {
                return Ok(text_response(StatusCode::OK, "pong"));
            }
        }

        let repositories = changed_repositories(source, &body, &parts.headers)?;
        if repositories.len() > settings.max_repositories {
            return Err(EventError::TooManyRepositories {
                count: repositories.len(),
                limit: settings.max_repositories,
            });
        }
        if !self.sink.changed(&registry, &repositories) {
            return Err(EventError::RegistryNotTaken { registry });
        }
        let count = repositories.len();
        let noun = if count == 1 {
            "repository"
        } else {
            "repositories"
        };
        Ok(text_response(
            StatusCode::OK,
            format!("{count} changed {noun} of {registry} passed on"),
        ))
    }
}

impl fmt::Debug for RegistryEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryEvents")
            .field("secret", &self.settings.secret)
            .field("max_body_bytes", &self.settings.max_body_bytes)
            .field("max_repositories", &self.settings.max_repositories)
            .field("max_concurrent", &self.settings.max_concurrent)
            .finish_non_exhaustive()
    }
}

/// The route of a notification: `/events/<source>/<registry segment>`.
struct Route {
    source: Source,
    registry: String,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Result<Route, EventError> {
        let not_found = || EventError::NotFound {
            path: path.to_owned(),
        };
        let rest = path.strip_prefix("/events/").ok_or_else(not_found)?;
        // The registry is one segment: a registry URL comes percent-encoded, slashes included.
        let (source, segment) = rest.split_once('/').ok_or_else(not_found)?;
        if segment.contains('/') {
            return Err(not_found());
        }
        if method != Method::POST {
            return Err(EventError::MethodNotAllowed {
                method: method.clone(),
            });
        }
        let source = source.parse()?;
        let registry = percent_decode_str(segment)
            .decode_utf8()
            .ok()
            .filter(|registry| !registry.trim().is_empty())
            .ok_or_else(|| EventError::InvalidRegistry {
                segment: segment.to_owned(),
            })?
            .into_owned();
        Ok(Route { source, registry })
    }
}

/// The `Content-Length` a request declares, when it declares one that parses.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()
        // Beyond usize it is beyond any limit.
        .map(|length| usize::try_from(length).unwrap_or(usize::MAX))
}

/// The whole body, or [`EventError::BodyTooLarge`] once it passes `limit` bytes.
async fn read<B>(body: B, limit: usize) -> Result<Bytes, EventError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(EventError::BodyTooLarge { limit }),
        Err(error) => Err(EventError::UnreadableBody {
            detail: pyoci_core::describe_chain(&*error),
        }),
    }
}

impl<B> Service<Request<B>> for RegistryEvents
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    /// Always ready: a notification beyond the concurrency limit is answered 503, not held.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let receiver = self.clone();
        ResponseFuture {
            inner: Box::pin(async move {
                Ok(receiver
                    .handle(request)
                    .await
                    .unwrap_or_else(EventError::into_response))
            }),
        }
    }
}

/// The future of [`RegistryEvents`]' answer.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use http::header::{AUTHORIZATION, CONTENT_TYPE};
    use http_body::Frame;
    use tokio::sync::mpsc;
    use tower::ServiceExt;

    use super::*;
    use crate::secret::{sign_like_github, GITHUB_SIGNATURE};

    const SECRET: &str = "s3cret-for-registry-events";

    /// What the sink was told, in order.
    type Told = Arc<Mutex<Vec<(String, Vec<String>)>>>;

    /// A receiver whose sink records what it is told and takes every registry but
    /// `unknown.example`.
    fn receiver() -> (RegistryEvents, Told) {
        let told = Told::default();
        let record = Arc::clone(&told);
        let sink = move |registry: &str, repositories: &[String]| {
            record
                .lock()
                .expect("not poisoned")
                .push((registry.to_owned(), repositories.to_vec()));
            registry != "unknown.example"
        };
        let secret = Secret::new(SECRET).expect("long enough");
        (RegistryEvents::new(secret, sink), told)
    }

    fn post(path: &str) -> http::request::Builder {
        Request::builder().method(Method::POST).uri(path)
    }

    fn bearer(path: &str, body: &str) -> Request<Full<Bytes>> {
        post(path)
            .header(AUTHORIZATION, format!("Bearer {SECRET}"))
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("request")
    }

    fn github(event: &str, body: &str, signed_with: &str) -> Request<Full<Bytes>> {
        post("/events/github/ghcr.io")
            .header(GITHUB_EVENT, event)
            .header(
                GITHUB_SIGNATURE,
                sign_like_github(signed_with, body.as_bytes()),
            )
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("request")
    }

    async fn answer<B>(receiver: &RegistryEvents, request: Request<B>) -> (StatusCode, String)
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let response = receiver
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            pyoci_core::TEXT_PLAIN,
            "every answer is text for people"
        );
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|never| match never {})
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    const CHANGED: &str = r#"{"repositories": ["acme/demo", "Acme/Tools"]}"#;

    #[tokio::test]
    async fn a_generic_call_tells_the_sink() {
        let (receiver, told) = receiver();
        let (status, text) = answer(&receiver, bearer("/events/changed/ghcr.io", CHANGED)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(text, "2 changed repositories of ghcr.io passed on\n");
        assert_eq!(
            *told.lock().expect("not poisoned"),
            vec![(
                "ghcr.io".to_owned(),
                vec!["acme/demo".to_owned(), "acme/tools".to_owned()]
            )]
        );
    }

    #[tokio::test]
    async fn the_registry_segment_is_percent_decoded_once() {
        let (receiver, told) = receiver();
        for (segment, registry) in [
            ("http%3A%2F%2F127.0.0.1%3A5000", "http://127.0.0.1:5000"),
            ("registry%252Dx", "registry%2Dx"),
            ("localhost:5000", "localhost:5000"),
        ] {
            let path = format!("/events/changed/{segment}");
            let (status, text) = answer(&receiver, bearer(&path, CHANGED)).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            let last = told.lock().expect("not poisoned").pop();
            assert_eq!(
                last.map(|(registry, _)| registry).as_deref(),
                Some(registry)
            );
        }
        for path in [
            "/events/changed/%FF",
            "/events/changed/",
            "/events/changed/%20",
        ] {
            let (status, text) = answer(&receiver, bearer(path, CHANGED)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
        }
        assert!(told.lock().expect("not poisoned").is_empty());
    }

    #[tokio::test]
    async fn each_source_reaches_the_sink() {
        let (receiver, told) = receiver();
        let distribution = r#"{"events": [
          {"action": "push", "target": {"mediaType": "application/octet-stream", "repository": "acme/demo",
            "url": "http://registry:5000/v2/acme/demo/blobs/sha256:01"}},
          {"action": "push", "target": {"mediaType": "application/vnd.oci.image.index.v1+json",
            "repository": "acme/demo", "tag": "1.0",
            "url": "http://registry:5000/v2/acme/demo/manifests/sha256:02"}}
        ]}"#;
        let harbor = r#"{"type": "DELETE_ARTIFACT", "occur_at": 1, "operator": "admin",
          "event_data": {"resources": [{"digest": "sha256:03"}],
          "repository": {"name": "demo", "namespace": "library", "repo_full_name": "library/demo"}}}"#;
        let acr =
            r#"{"id": "1", "action": "push", "target": {"repository": "demo", "tag": "1.0"}}"#;
        for (path, body, expected) in [
            (
                "/events/distribution/registry%3A5000",
                distribution,
                "acme/demo",
            ),
            ("/events/harbor/harbor.example", harbor, "library/demo"),
            ("/events/acr/acme.azurecr.io", acr, "demo"),
        ] {
            let (status, text) = answer(&receiver, bearer(path, body)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {text}");
            let last = told.lock().expect("not poisoned").pop();
            assert_eq!(
                last.map(|(_, names)| names),
                Some(vec![expected.to_owned()])
            );
        }

        let package = r#"{"action": "published", "registry_package": {"name": "demo",
          "namespace": "Acme", "package_type": "CONTAINER", "ecosystem": "CONTAINER"}}"#;
        let (status, text) = answer(&receiver, github("registry_package", package, SECRET)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(
            told.lock().expect("not poisoned").pop(),
            Some(("ghcr.io".to_owned(), vec!["acme/demo".to_owned()]))
        );
    }

    #[tokio::test]
    async fn notifications_that_change_nothing_still_check_the_registry() {
        let (receiver, told) = receiver();
        let pull = r#"{"events": [{"action": "pull", "target": {"repository": "acme/demo"}}]}"#;
        let (status, _) = answer(&receiver, bearer("/events/distribution/ghcr.io", pull)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            told.lock().expect("not poisoned").pop(),
            Some(("ghcr.io".to_owned(), vec![]))
        );
        let (status, _) = answer(
            &receiver,
            bearer("/events/distribution/unknown.example", pull),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn unauthenticated_notifications_are_refused_unread() {
        let (receiver, told) = receiver();
        let path = "/events/changed/ghcr.io";
        let body = || Full::new(Bytes::from_static(CHANGED.as_bytes()));
        for authorization in [
            None,
            Some("Bearer wrong-secret-of-some-length".to_owned()),
            Some(format!("Basic {SECRET}")),
            Some(format!("Bearer {SECRET}-and-more")),
        ] {
            let mut request = post(path);
            if let Some(value) = &authorization {
                request = request.header(AUTHORIZATION, value);
            }
            let (status, text) = answer(&receiver, request.body(body()).expect("request")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
            assert!(text.contains("Bearer"), "{text}");
            assert!(!text.contains(SECRET), "{text}");
        }
        assert!(told.lock().expect("not poisoned").is_empty());
    }

    /// A body that fails the test when read: for answers that must come before reading.
    struct UnreadBody;

    impl Body for UnreadBody {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            panic!("the body was read before the request was authenticated")
        }
    }

    #[tokio::test]
    async fn missing_credentials_are_refused_before_the_body_is_read() {
        let (receiver, told) = receiver();
        let wrong_bearer = post("/events/acr/ghcr.io")
            .header(AUTHORIZATION, "Bearer wrong-secret-of-some-length")
            .body(UnreadBody)
            .expect("request");
        let no_signature = post("/events/github/ghcr.io")
            .header(GITHUB_EVENT, "registry_package")
            .body(UnreadBody)
            .expect("request");
        let malformed_signature = post("/events/github/ghcr.io")
            .header(GITHUB_SIGNATURE, "sha1=0123")
            .body(UnreadBody)
            .expect("request");
        for request in [wrong_bearer, no_signature, malformed_signature] {
            let (status, _) = answer(&receiver, request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        assert!(told.lock().expect("not poisoned").is_empty());
    }

    #[tokio::test]
    async fn github_deliveries_must_carry_a_valid_signature() {
        let (receiver, told) = receiver();
        let package = r#"{"action": "published", "registry_package": {"name": "demo",
          "namespace": "acme", "package_type": "CONTAINER"}}"#;
        let (status, text) = answer(
            &receiver,
            github("registry_package", package, "not-the-secret-at-all"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(text.contains("does not match"), "{text}");

        // Signed for another body.
        let mut request = github("registry_package", "{}", SECRET);
        *request.body_mut() = Full::new(Bytes::from_static(package.as_bytes()));
        let (status, _) = answer(&receiver, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // A bearer is no signature.
        let mut request = bearer("/events/github/ghcr.io", package);
        request.headers_mut().insert(
            GITHUB_EVENT,
            http::HeaderValue::from_static("registry_package"),
        );
        let (status, text) = answer(&receiver, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(text.contains("X-Hub-Signature-256"), "{text}");

        assert!(told.lock().expect("not poisoned").is_empty());
    }

    #[tokio::test]
    async fn a_signed_ping_is_answered_pong_without_the_sink() {
        let (receiver, told) = receiver();
        let ping =
            r#"{"zen": "Design for failure.", "hook_id": 1, "hook": {"type": "Repository"}}"#;
        let (status, text) = answer(&receiver, github("ping", ping, SECRET)).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "pong\n"));
        let (status, _) = answer(&receiver, github("ping", ping, "not-the-secret-at-all")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(told.lock().expect("not poisoned").is_empty());
    }

    #[tokio::test]
    async fn bodies_beyond_the_limit_are_refused() {
        let (receiver, told) = receiver();
        let receiver = receiver.max_body_bytes(32);
        let (status, text) = answer(&receiver, bearer("/events/changed/ghcr.io", CHANGED)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
        assert!(text.contains("32 bytes"), "{text}");

        // Declared too long: refused before reading.
        let request = post("/events/changed/ghcr.io")
            .header(AUTHORIZATION, format!("Bearer {SECRET}"))
            .header(CONTENT_LENGTH, "33")
            .body(Full::new(Bytes::from_static(b"{}")))
            .expect("request");
        let (status, _) = answer(&receiver, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        let (status, _) = answer(
            &receiver,
            bearer("/events/changed/ghcr.io", r#"{"repositories":["a/b"]}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(told.lock().expect("not poisoned").len(), 1);
    }

    #[tokio::test]
    async fn too_many_repositories_are_refused_and_none_passed_on() {
        let (receiver, told) = receiver();
        let receiver = receiver.max_repositories(2);
        let three = r#"{"repositories": ["a/x", "a/y", "a/z", "a/x"]}"#;
        let (status, text) = answer(&receiver, bearer("/events/changed/ghcr.io", three)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(text.contains("names 3 repositories"), "{text}");
        assert!(told.lock().expect("not poisoned").is_empty());

        // Duplicates count once.
        let two = r#"{"repositories": ["a/x", "a/y", "A/X"]}"#;
        let (status, _) = answer(&receiver, bearer("/events/changed/ghcr.io", two)).await;
        assert_eq!(status, StatusCode::OK);
    }

    /// A body whose chunks come from a channel: open until the sender is dropped.
    struct ChannelBody(mpsc::Receiver<Bytes>);

    impl Body for ChannelBody {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.0
                .poll_recv(cx)
                .map(|chunk| chunk.map(|chunk| Ok(Frame::data(chunk))))
        }
    }

    #[tokio::test]
    async fn beyond_max_concurrent_the_answer_is_503_at_once() {
        let (receiver, told) = receiver();
        let receiver = receiver.max_concurrent(1);
        let (sender, body) = mpsc::channel(1);
        let held = post("/events/changed/ghcr.io")
            .header(AUTHORIZATION, format!("Bearer {SECRET}"))
            .body(ChannelBody(body))
            .expect("request");
        let first = tokio::spawn({
            let receiver = receiver.clone();
            async move { answer(&receiver, held).await }
        });
        // Let the first request take its permit and wait for its body.
        while receiver.reading.available_permits() > 0 {
            tokio::task::yield_now().await;
        }

        let (status, text) = answer(&receiver, bearer("/events/changed/ghcr.io", CHANGED)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
        assert!(told.lock().expect("not poisoned").is_empty());

        sender
            .send(Bytes::from_static(CHANGED.as_bytes()))
            .await
            .expect("the first request still reads");
        drop(sender);
        let (status, _) = first.await.expect("no panic");
        assert_eq!(status, StatusCode::OK);

        // The permit came back with the answer.
        let (status, _) = answer(&receiver, bearer("/events/changed/ghcr.io", CHANGED)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(told.lock().expect("not poisoned").len(), 2);
    }

    #[tokio::test]
    async fn unknown_registries_are_answered_404_with_what_to_do() {
        let (receiver, _) = receiver();
        let (status, text) = answer(
            &receiver,
            bearer("/events/changed/unknown.example", CHANGED),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            text,
            "PyOCI takes no events for registry unknown.example: add it to PYOCI_EVENT_REGISTRIES\n"
        );
    }

    #[tokio::test]
    async fn other_methods_and_paths_say_what_is_served() {
        let (receiver, told) = receiver();
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let request = Request::builder()
                .method(method.clone())
                .uri("/events/changed/ghcr.io")
                .header(AUTHORIZATION, format!("Bearer {SECRET}"))
                .body(Full::new(Bytes::from_static(CHANGED.as_bytes())))
                .expect("request");
            let (status, text) = answer(&receiver, request).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert!(text.contains("POST"), "{text}");
        }
        for path in [
            "/",
            "/events",
            "/events/changed",
            "/events/changed/ghcr.io/acme",
            "/simple/demo/",
        ] {
            let (status, text) = answer(&receiver, bearer(path, CHANGED)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(text.contains("POST /events/<source>/<registry>"), "{text}");
        }
        let (status, text) = answer(&receiver, bearer("/events/gitlab/ghcr.io", CHANGED)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            text.contains("distribution, github, harbor, acr, changed"),
            "{text}"
        );
        assert!(told.lock().expect("not poisoned").is_empty());
    }

    #[tokio::test]
    async fn invalid_repository_names_are_refused_by_name() {
        let (receiver, told) = receiver();
        let body = r#"{"repositories": ["acme/demo", "acme/../secrets"]}"#;
        let (status, text) = answer(&receiver, bearer("/events/changed/ghcr.io", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            text.contains("\"acme/../secrets\" is not an OCI repository name"),
            "{text}"
        );
        let (status, text) = answer(
            &receiver,
            bearer("/events/harbor/ghcr.io", r#"{"events": []}"#),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("not a Harbor"), "{text}");
        assert!(told.lock().expect("not poisoned").is_empty());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let (receiver, _) = receiver();
        let shown = format!("{receiver:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("Secret(..)"), "{shown}");
    }
}
