//! A loopback reverse proxy in front of a [`Registry`] that injects faults on demand.
//!
//! PyOCI is pointed at the proxy instead of the registry; a test then switches faults on and
//! off through the [`FaultProxy`] handle while requests flow: error statuses, slow answers,
//! connections closed without an answer, answers cut halfway or trickling in. Bodies stream both ways, so
//! uploads pass through unchanged when no fault applies.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use percent_encoding::utf8_percent_encode;
use tokio::net::{TcpListener, TcpStream};

use crate::{registry::PATH_SEGMENT, Registry};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BoxError>;

/// What the proxy does to a request a [`FaultRule`] matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward it untouched.
    None,
    /// Answer with this status and a distribution error body, without forwarding.
    Status(u16),
    /// Wait this long, then forward it.
    Delay(Duration),
    /// Close the connection without an answer (the request is not forwarded).
    Reset,
    /// Forward it, pass the first half of the answer's body (by `Content-Length`), then
    /// abort the connection.
    ResetMidBody,
    /// Forward it at once, then hold the answer this long: the registry served the request
    /// (a read saw the state of that moment), but the answer arrives late.
    DelayAnswer(Duration),
    /// Answer with exactly this status, `Content-Type` and body, without forwarding: a
    /// fronting proxy's HTML page, a redirect nobody asked for, an oversized document.
    Answer {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// Forward it, pass the first half of the answer's body (by `Content-Length`), then the
    /// rest one byte at a time, this long apart: a registry that trickles its answer, or
    /// (with a long gap) stalls in the middle of it with the connection open.
    Trickle(Duration),
}

/// A fault and the requests it applies to: all of them unless narrowed by method, path or
/// count. A plain [`Fault`] converts into a rule for every request.
#[derive(Clone, Debug)]
pub struct FaultRule {
    fault: Fault,
    method: Option<Method>,
    path_contains: Option<String>,
    remaining: Option<usize>,
    /// Matching requests still to let through untouched before the fault applies.
    skip: usize,
}

impl FaultRule {
    /// `fault` for every request, until replaced.
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            method: None,
            path_contains: None,
            remaining: None,
            skip: 0,
        }
    }

    /// Only requests with this method (`"GET"`, `"PUT"`...).
    pub fn method(mut self, method: &str) -> FaultRule {
        let method = Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|err| panic!("`{method}` is not an HTTP method: {err}"));
        self.method = Some(method);
        self
    }

    /// Only requests whose path contains `part` (e.g. `"/manifests/"`, `"/blobs/sha256:"`).
    pub fn path_contains(mut self, part: &str) -> FaultRule {
        self.path_contains = Some(part.to_owned());
        self
    }

    /// Only the next `count` matching requests; later ones pass untouched.
    pub fn times(mut self, count: usize) -> FaultRule {
        self.remaining = Some(count);
        self
    }

    /// Lets the first `count` matching requests through untouched (they do not count
    /// against [`times`](Self::times)).
    pub fn skip(mut self, count: usize) -> FaultRule {
        self.skip = count;
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        let method_differs = matches!(&self.method, Some(wanted) if wanted != method);
        let path_differs =
            matches!(&self.path_contains, Some(part) if !path.contains(part.as_str()));
        !method_differs && !path_differs && self.remaining != Some(0)
    }
}

impl From<Fault> for FaultRule {
    fn from(fault: Fault) -> FaultRule {
        FaultRule::new(fault)
    }
}

/// A request the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// Its method.
    pub method: String,
    /// Its path, without the query.
    pub path: String,
    /// The fault applied to it; [`Fault::None`] when it was forwarded untouched.
    pub fault: Fault,
    /// Its `If-Match` header, if any.
    pub if_match: Option<String>,
    /// Its `If-None-Match` header, if any.
    pub if_none_match: Option<String>,
}

struct Shared {
    upstream: SocketAddr,
    rule: Mutex<FaultRule>,
    seen: Mutex<Vec<SeenRequest>>,
    /// Requests between arrival and their answer's head, now and at most so far.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Whether manifest writes are checked against their conditions (see
    /// [`FaultProxy::honour_conditionals`]), and the lock that makes check and write atomic.
    honour_conditionals: AtomicBool,
    manifest_writes: tokio::sync::Mutex<()>,
    /// Manifest writes refused with 412 by the conditions check.
    preconditions_failed: AtomicUsize,
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn start(shared: &Arc<Shared>) -> InFlight {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn new(upstream: SocketAddr) -> Shared {
        Shared {
            upstream,
            rule: Mutex::new(FaultRule::new(Fault::None)),
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            honour_conditionals: AtomicBool::new(false),
            manifest_writes: tokio::sync::Mutex::new(()),
            preconditions_failed: AtomicUsize::new(0),
        }
    }

    /// Picks the fault for a request and records it.
    fn fault_for(&self, method: &Method, path: &str, headers: &http::HeaderMap) -> Fault {
        let fault = {
            let mut rule = lock(&self.rule);
            if !rule.matches(method, path) {
                Fault::None
            } else if rule.skip > 0 {
                rule.skip -= 1;
                Fault::None
            } else {
                if let Some(remaining) = rule.remaining.as_mut() {
                    *remaining -= 1;
                }
                rule.fault.clone()
            }
        };
        let header = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        lock(&self.seen).push(SeenRequest {
            method: method.to_string(),
            path: path.to_owned(),
            fault: fault.clone(),
            if_match: header(header::IF_MATCH),
            if_none_match: header(header::IF_NONE_MATCH),
        });
        fault
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fault proxy on `127.0.0.1:<free port>`; stopped on drop.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` with no fault. It keeps forwarding to the
    /// same port across [`Registry::restart`]; while the registry is down it answers 502,
    /// as a load balancer would.
    pub fn start(upstream: &Registry) -> FaultProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the fault proxy's runtime: {err}"));
        let listener = runtime
            .block_on(TcpListener::bind(("127.0.0.1", 0)))
            .unwrap_or_else(|err| panic!("the fault proxy cannot bind a loopback port: {err}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("a bound listener has no address: {err}"))
            .port();
        let shared = Arc::new(Shared::new(SocketAddr::from((
            [127, 0, 0, 1],
            upstream.port(),
        ))));
        runtime.spawn(accept_loop(listener, shared.clone()));
        FaultProxy {
            port,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Applies `rule` (or a [`Fault`] for every request) from now on, replacing the last.
    pub fn set(&self, rule: impl Into<FaultRule>) {
        *lock(&self.shared.rule) = rule.into();
    }

    /// Forwards everything untouched again.
    pub fn clear(&self) {
        self.set(Fault::None);
    }

    /// Every request received so far, in order.
    pub fn seen(&self) -> Vec<SeenRequest> {
        lock(&self.shared.seen).clone()
    }

    /// How many requests with `method` and a path containing `path_part` were received.
    pub fn count(&self, method: &str, path_part: &str) -> usize {
        lock(&self.shared.seen)
            .iter()
            .filter(|seen| seen.method == method && seen.path.contains(path_part))
            .count()
    }

    /// How many requests got a fault other than [`Fault::None`].
    pub fn faults_injected(&self) -> usize {
        lock(&self.shared.seen)
            .iter()
            .filter(|seen| seen.fault != Fault::None)
            .count()
    }

    /// The most requests that were in flight at once (arrived, answer not yet begun).
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many requests are in flight right now (arrived, answer not yet begun): e.g.
    /// uploads whose body is still streaming.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Makes the proxy honour conditional manifest writes (`If-Match: "<digest>"`,
    /// `If-None-Match: *`) as a registry implementing opencontainers/distribution-spec#251
    /// would, which the distribution registry behind it does not: before forwarding a
    /// manifest `PUT`, it looks up the reference's current digest and answers
    /// 412 Precondition Failed when the condition does not hold. Checks and writes of
    /// manifests through the proxy are serialized, so each pair is atomic.
    pub fn honour_conditionals(&self, honour: bool) {
        self.shared
            .honour_conditionals
            .store(honour, Ordering::SeqCst);
    }

    /// How many manifest writes the proxy refused with 412 (see
    /// [`honour_conditionals`](Self::honour_conditionals)).
    pub fn preconditions_failed(&self) -> usize {
        self.shared.preconditions_failed.load(Ordering::SeqCst)
    }

    /// Forgets the requests seen so far (and the in-flight maximum).
    pub fn forget_seen(&self) {
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
        lock(&self.shared.seen).clear();
    }

    /// The port the proxy listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host_port())
    }

    /// The proxy as PyOCI's first URL segment, like [`Registry::url_segment`].
    pub fn url_segment(&self) -> String {
        utf8_percent_encode(&self.url(), PATH_SEGMENT).to_string()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(shared.clone(), request));
            // Errors here are the faults themselves (or a client going away).
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Why the proxy closed a connection without answering ([`Fault::Reset`]).
#[derive(Debug)]
struct InjectedReset;

impl std::fmt::Display for InjectedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault proxy: connection closed without an answer")
    }
}

impl std::error::Error for InjectedReset {}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, InjectedReset> {
    let _in_flight = InFlight::start(&shared);
    let fault = shared.fault_for(request.method(), request.uri().path(), request.headers());
    match fault {
        Fault::None => Ok(forward_checked(&shared, request).await),
        Fault::Status(status) => Ok(injected_status(status)),
        Fault::Answer {
            status,
            content_type,
            body,
        } => Ok(injected_answer(status, &content_type, body)),
        Fault::Delay(wait) => {
            tokio::time::sleep(wait).await;
            Ok(forward_checked(&shared, request).await)
        }
        Fault::DelayAnswer(wait) => {
            let response = forward_checked(&shared, request).await;
            tokio::time::sleep(wait).await;
            Ok(response)
        }
        // A service error makes hyper drop the connection without writing anything.
        Fault::Reset => Err(InjectedReset),
        Fault::ResetMidBody => {
            let response = forward(shared.upstream, request).await;
            let half = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok())
                .map_or(0, |length| length / 2);
            Ok(response.map(|body| {
                CutHalfway {
                    inner: body,
                    remaining: half,
                }
                .boxed()
            }))
        }
        Fault::Trickle(gap) => {
            let response = forward(shared.upstream, request).await;
            let half = half_of_content_length(&response);
            Ok(response.map(|body| Trickling::new(body, half, gap).boxed()))
        }
    }
}

/// [`forward`], but a manifest write whose condition does not hold is refused with 412 when
/// the proxy honours conditionals.
async fn forward_checked(shared: &Shared, request: Request<Incoming>) -> Response<ProxyBody> {
    let is_manifest_write =
        request.method() == Method::PUT && request.uri().path().contains("/manifests/");
    if !is_manifest_write || !shared.honour_conditionals.load(Ordering::SeqCst) {
        return forward(shared.upstream, request).await;
    }
    let _atomic = shared.manifest_writes.lock().await;
    let current = match current_digest(shared.upstream, request.uri().path()).await {
        Ok(current) => current,
        Err(err) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("fault proxy: cannot look up the manifest: {err}"),
            )
        }
    };
    let headers = request.headers();
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|value| value.to_str().ok());
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok());
    let holds = match (if_match, if_none_match) {
        (Some(expected), _) => current
            .as_deref()
            .is_some_and(|digest| expected.trim().trim_matches('"') == digest),
        (None, Some("*")) => current.is_none(),
        _ => true,
    };
    if !holds {
        shared.preconditions_failed.fetch_add(1, Ordering::SeqCst);
        return injected_status(412);
    }
    forward(shared.upstream, request).await
}

/// The digest the registry holds under a manifest path (a tag or digest), `None` if none.
async fn current_digest(upstream: SocketAddr, path: &str) -> Result<Option<String>, BoxError> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(Method::HEAD)
        .uri(path)
        .header(header::HOST, upstream.to_string())
        .header(
            header::ACCEPT,
            "application/vnd.oci.image.index.v1+json, \
             application/vnd.oci.image.manifest.v1+json",
        )
        .body(http_body_util::Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    match response.status() {
        StatusCode::NOT_FOUND => Ok(None),
        status if status.is_success() => Ok(response
            .headers()
            .get("docker-content-digest")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)),
        status => Err(format!("HEAD {path} answered {status}").into()),
    }
}

/// Half the answer's `Content-Length`, 0 when it has none.
fn half_of_content_length(response: &Response<ProxyBody>) -> u64 {
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .map_or(0, |length| length / 2)
}

/// Sends `request` to the registry on a new connection and returns its answer, body
/// streaming; a 502 when the registry cannot be reached.
async fn forward(upstream: SocketAddr, request: Request<Incoming>) -> Response<ProxyBody> {
    match try_forward(upstream, request).await {
        Ok(response) => response.map(|body| body.map_err(BoxError::from).boxed()),
        Err(err) => plain(
            StatusCode::BAD_GATEWAY,
            format!("fault proxy: the registry did not answer: {err}"),
        ),
    }
}

async fn try_forward(
    upstream: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Incoming>, BoxError> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // Drives the connection until the answer's body is read.
    tokio::spawn(connection);
    Ok(sender.send_request(request).await?)
}

fn injected_status(status: u16) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = format!(
        r#"{{"errors":[{{"code":"UNAVAILABLE","message":"fault proxy: injected {}"}}]}}"#,
        status.as_u16()
    );
    let mut response = plain(status, body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn injected_answer(status: u16, content_type: &str, body: Vec<u8>) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn plain(status: StatusCode, body: String) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

/// A response body that passes `remaining` bytes, then fails, which makes hyper abort the
/// connection before the promised `Content-Length` is reached.
struct CutHalfway {
    inner: ProxyBody,
    remaining: u64,
}

impl Body for CutHalfway {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.remaining == 0 {
            return Poll::Ready(Some(Err("fault proxy: answer cut halfway".into())));
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        let Ok(mut data) = frame.into_data() else {
            return Poll::Ready(Some(Err("fault proxy: answer cut halfway".into())));
        };
        let keep = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        if data.len() > keep {
            data.truncate(keep);
        }
        self.remaining -= data.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that passes `fast` bytes as they come, then one byte per `gap`.
struct Trickling {
    inner: ProxyBody,
    fast: u64,
    gap: Duration,
    /// Bytes read from `inner` and not yet passed on.
    held: Bytes,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Trickling {
    fn new(inner: ProxyBody, fast: u64, gap: Duration) -> Trickling {
        Trickling {
            inner,
            fast,
            gap,
            held: Bytes::new(),
            wait: None,
        }
    }
}

impl Body for Trickling {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        while this.held.is_empty() {
            match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.held = data,
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                other => return Poll::Ready(other),
            }
        }
        if this.fast > 0 {
            let take = usize::try_from(this.fast)
                .unwrap_or(usize::MAX)
                .min(this.held.len());
            this.fast -= take as u64;
            return Poll::Ready(Some(Ok(Frame::data(this.held.split_to(take)))));
        }
        let gap = this.gap;
        let wait = this
            .wait
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
        std::task::ready!(wait.as_mut().poll(cx));
        this.wait = None;
        Poll::Ready(Some(Ok(Frame::data(this.held.split_to(1)))))
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::{sha256_hex, HttpClient, RegistryAuth};

    #[test]
    fn rules_match_method_path_and_count() {
        let mut rule = FaultRule::new(Fault::Status(503))
            .method("GET")
            .path_contains("/tags/")
            .times(2);
        assert!(rule.matches(&Method::GET, "/v2/a/tags/list"));
        assert!(!rule.matches(&Method::PUT, "/v2/a/tags/list"));
        assert!(!rule.matches(&Method::GET, "/v2/a/manifests/1"));
        rule.remaining = Some(0);
        assert!(!rule.matches(&Method::GET, "/v2/a/tags/list"));
        assert!(FaultRule::from(Fault::Reset).matches(&Method::PATCH, "/anything"));
    }

    #[test]
    fn skipped_requests_pass_before_the_fault_applies() {
        let shared = Shared::new(SocketAddr::from(([127, 0, 0, 1], 9)));
        *lock(&shared.rule) = FaultRule::new(Fault::Status(503))
            .method("GET")
            .skip(1)
            .times(1);
        let headers = http::HeaderMap::new();
        let faults: Vec<_> = [Method::PUT, Method::GET, Method::GET, Method::GET]
            .iter()
            .map(|method| shared.fault_for(method, "/v2/", &headers))
            .collect();
        assert_eq!(
            faults,
            [Fault::None, Fault::None, Fault::Status(503), Fault::None]
        );
    }

    #[test]
    fn conditional_manifest_writes_are_honoured_on_request() {
        let registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        let http = HttpClient::new();
        let manifest = |n: u32| {
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{{"n":"{n}"}}}}"#
            )
            .into_bytes()
        };
        let put = |base: &str, n: u32, condition: (&str, &str)| {
            http.request(
                "PUT",
                &format!("{base}/v2/cond/test/manifests/1.0"),
                &[
                    ("Content-Type", "application/vnd.oci.image.index.v1+json"),
                    condition,
                ],
                Some(manifest(n)),
            )
        };
        let wrong = format!("\"sha256:{}\"", sha256_hex(b"not the manifest"));
        // The distribution registry itself ignores conditions, both through a plain proxy
        // and directly.
        let registry_url = format!("http://127.0.0.1:{}", registry.port());
        assert_eq!(put(&registry_url, 1, ("If-Match", &wrong)).status, 201);
        assert_eq!(put(&proxy.url(), 2, ("If-None-Match", "*")).status, 201);

        proxy.honour_conditionals(true);
        let current = format!("\"sha256:{}\"", sha256_hex(&manifest(2)));
        assert_eq!(put(&proxy.url(), 3, ("If-None-Match", "*")).status, 412);
        assert_eq!(put(&proxy.url(), 3, ("If-Match", &wrong)).status, 412);
        assert_eq!(proxy.preconditions_failed(), 2);
        assert_eq!(put(&proxy.url(), 3, ("If-Match", &current)).status, 201);
        let absent = http.request(
            "PUT",
            &format!("{}/v2/cond/test/manifests/2.0", proxy.url()),
            &[
                ("Content-Type", "application/vnd.oci.image.index.v1+json"),
                ("If-None-Match", "*"),
            ],
            Some(manifest(4)),
        );
        assert_eq!(absent.status, 201, "{}", absent.text());
        let seen = proxy.seen();
        assert_eq!(seen[0].if_none_match.as_deref(), Some("*"));
        assert_eq!(seen[2].if_match.as_deref(), Some(wrong.as_str()));

        // A late answer: the request was served before the wait.
        proxy.set(Fault::DelayAnswer(Duration::from_millis(300)));
        let started = Instant::now();
        assert_eq!(http.get(&format!("{}/v2/", proxy.url())).status, 200);
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(proxy.in_flight(), 0);
    }

    #[test]
    fn a_trickled_answer_arrives_whole_one_byte_at_a_time_after_the_first_half() {
        let registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        let http = HttpClient::new();
        let blob = b"0123456789".to_vec();
        let digest = format!("sha256:{}", sha256_hex(&blob));
        let session = http.request(
            "POST",
            &format!("{}/v2/test/trickle/blobs/uploads/", proxy.url()),
            &[],
            None,
        );
        let location = session.header("location").unwrap();
        let pushed = http.request(
            "PUT",
            &format!("{location}&digest={digest}"),
            &[],
            Some(blob.clone()),
        );
        assert_eq!(pushed.status, 201, "{}", pushed.text());

        proxy.set(FaultRule::new(Fault::Trickle(Duration::from_millis(100))).method("GET"));
        let started = Instant::now();
        let slow = http.get(&format!("{}/v2/test/trickle/blobs/{digest}", proxy.url()));
        assert!(slow.body == blob, "the whole blob, in order");
        // Five bytes at once, then five more 100 ms apart.
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(proxy.faults_injected(), 1);
    }

    #[test]
    fn faults_are_injected_and_the_registry_comes_back_after_a_restart() {
        let mut registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        let http = HttpClient::new();
        let v2 = format!("{}/v2/", proxy.url());
        assert_eq!(http.get(&v2).status, 200);

        proxy.set(FaultRule::new(Fault::Status(503)).method("GET").times(1));
        let unavailable = http.get(&v2);
        assert_eq!(unavailable.status, 503);
        assert!(
            unavailable.text().contains("injected 503"),
            "{}",
            unavailable.text()
        );
        assert_eq!(http.get(&v2).status, 200, "only once");

        proxy.set(Fault::Reset);
        let reset = http.try_get(&v2).unwrap_err();
        assert!(reset.contains("got no answer"), "{reset}");

        proxy.set(Fault::Delay(Duration::from_millis(300)));
        let started = Instant::now();
        assert_eq!(http.get(&v2).status, 200);
        assert!(started.elapsed() >= Duration::from_millis(300));

        // An upload streams through; its download is cut halfway.
        proxy.clear();
        let blob: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        let digest = format!("sha256:{}", sha256_hex(&blob));
        let session = http.request(
            "POST",
            &format!("{}/v2/test/blob/blobs/uploads/", proxy.url()),
            &[],
            None,
        );
        assert_eq!(session.status, 202, "{}", session.text());
        let location = session.header("location").unwrap();
        assert!(
            location.starts_with(&proxy.url()),
            "through the proxy: {location}"
        );
        let pushed = http.request(
            "PUT",
            &format!("{location}&digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            Some(blob.clone()),
        );
        assert_eq!(pushed.status, 201, "{}", pushed.text());
        let blob_path = format!("/v2/test/blob/blobs/{digest}");
        proxy.set(FaultRule::new(Fault::ResetMidBody).path_contains("/blobs/sha256:"));
        let cut = http
            .try_get(&format!("{}{blob_path}", proxy.url()))
            .unwrap_err();
        assert!(cut.contains("status 200, then the body broke off"), "{cut}");

        let seen = proxy.seen();
        assert_eq!(seen.len(), 8, "{seen:?}");
        assert_eq!(proxy.faults_injected(), 4, "{seen:?}");
        assert_eq!(proxy.count("GET", "/blobs/sha256:"), 1);
        assert_eq!(
            seen.last().map(|last| &last.fault),
            Some(&Fault::ResetMidBody)
        );

        // Down: the proxy answers 502 like a load balancer. Back: same port, same storage.
        proxy.clear();
        registry.stop();
        assert!(!registry.is_running());
        assert_eq!(http.get(&v2).status, 502);
        registry.restart();
        assert!(registry.is_running());
        let again = http.get(&format!("{}{blob_path}", proxy.url()));
        assert_eq!(again.status, 200);
        assert!(again.body == blob, "the blob survived the restart");
    }
}
