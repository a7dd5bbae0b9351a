//! The front's HTTP side: its listeners (the registry front, the token service on the
//! front's host or another loopback address, the storage host), and the registry front's
//! quirks. Refusals, the token service, storage and answers live in their own modules.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    convert::Infallible,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{
    refusals::{check_manifest, missing_repository},
    reply::{
        distribution_error, empty, forward, full, json, plain, too_large, BoxError, FrontBody,
    },
    storage::{redirect_blob, storage},
    token::token,
    Quirks, Realm,
};

/// Which listener a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Front,
    Auth,
    Storage,
}

/// Everything the listeners share with the [`super::QuirkRegistry`] handle.
pub(super) struct State {
    pub(super) quirks: Quirks,
    pub(super) upstream: SocketAddr,
    pub(super) issuer: Option<(SocketAddr, String, String)>,
    pub(super) front_origin: String,
    pub(super) auth_origin: Option<String>,
    pub(super) storage_origin: Option<String>,
    pub(super) counters: Mutex<BTreeMap<&'static str, usize>>,
    pub(super) tokens: Mutex<HashMap<String, Instant>>,
    pub(super) repositories: Mutex<BTreeSet<String>>,
    pub(super) patches: Mutex<HashMap<String, usize>>,
    pub(super) patch_sizes: Mutex<Vec<u64>>,
    pub(super) signed: Mutex<HashMap<String, (String, Option<HeaderValue>)>>,
    pub(super) pulls: AtomicUsize,
    pub(super) next_signature: AtomicU64,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    pub(super) fn count(&self, what: &'static str) {
        *lock(&self.counters).entry(what).or_default() += 1;
    }

    /// The realm challenges name, as the client sees it.
    fn realm_url(&self) -> Option<String> {
        match &self.quirks.realm {
            Realm::Issuer => None,
            Realm::SameHost(path) => Some(format!("{}{path}", self.front_origin)),
            Realm::OtherHost(path) => self
                .auth_origin
                .as_ref()
                .map(|origin| format!("{origin}{path}")),
        }
    }

    fn is_token_path(&self, role: Role, path: &str) -> bool {
        match (&self.quirks.realm, role) {
            (Realm::SameHost(token_path), Role::Front) => path == *token_path,
            (Realm::OtherHost(token_path), Role::Auth) => path == *token_path,
            _ => false,
        }
    }
}

pub(super) async fn accept_loop(listener: TcpListener, state: Arc<State>, role: Role) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(state, role, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(state: Arc<State>, role: Role, request: Request<Incoming>) -> Response<FrontBody> {
    let path = request.uri().path().to_owned();
    if state.is_token_path(role, &path) {
        return token(&state, request).await;
    }
    match role {
        Role::Storage => storage(&state, request).await,
        Role::Auth => plain(StatusCode::NOT_FOUND, "no such page on the token host"),
        Role::Front => front(&state, request).await,
    }
}

/// The registry side: refusals before forwarding, the request forwarded, the answer adapted.
async fn front(state: &State, request: Request<Incoming>) -> Response<FrontBody> {
    let quirks = &state.quirks;
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    if let Some(lifetime) = quirks.token_lifetime {
        if let Some(token) = bearer_of(request.headers()) {
            let issued = lock(&state.tokens).get(&token).copied();
            if issued.is_some_and(|issued| issued.elapsed() > lifetime) {
                state.count("token_expired");
                if method == Method::PUT && path.contains("/blobs/uploads/") {
                    state.count("token_expired_on_upload_put");
                }
                return challenge(state, &method, &path, "invalid_token");
            }
        }
    }
    if let Some(every) = quirks.rate_limit_every {
        let is_pull = matches!(method, Method::GET | Method::HEAD)
            && (path.contains("/manifests/") || path.contains("/blobs/"));
        if is_pull && (state.pulls.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(every) {
            state.count("rate_limited");
            let mut response = distribution_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                "You have reached your pull rate limit.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
    }
    if quirks.refuse_deletes
        && method == Method::DELETE
        && (path.contains("/manifests/") || path.contains("/blobs/sha256:"))
    {
        state.count("delete_refused");
        return distribution_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "The operation is unsupported.",
        );
    }
    let authorized = request.headers().contains_key(header::AUTHORIZATION);
    if let (Some(style), true) = (quirks.missing_repository, authorized) {
        let pushes = (method == Method::POST && path.ends_with("/blobs/uploads/"))
            || (method == Method::PUT && path.contains("/manifests/"));
        if let Some(repository) = repository_of(&path).filter(|_| pushes) {
            if let Some(refusal) = missing_repository(state, style, &repository) {
                state.count("repository_missing");
                return refusal;
            }
        }
    }
    if method == Method::GET && path.ends_with("/tags/list") {
        if let Some(page_size) = quirks.tag_page_size {
            return tag_page(state, request, page_size).await;
        }
    }
    if method == Method::GET && path.contains("/blobs/sha256:") && quirks.redirect_blobs {
        return redirect_blob(state, request).await;
    }

    let (mut parts, body) = request.into_parts();
    let body: FrontBody = if matches!(method, Method::PUT | Method::PATCH | Method::POST) {
        let limit = quirks.body_limit.unwrap_or(u64::MAX);
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit) {
            state.count("body_too_large");
            return refuse_too_large(body).await;
        }
        let bytes = match read_within(body, limit).await {
            Ok(bytes) => bytes,
            Err(BodyRead::TooLarge(rest)) => {
                state.count("body_too_large");
                return refuse_too_large(rest).await;
            }
            Err(BodyRead::Failed(err)) => {
                return plain(StatusCode::BAD_REQUEST, &format!("body: {err}"))
            }
        };
        if method == Method::PUT && path.contains("/manifests/") {
            if let Some(refusal) = check_manifest(state, &bytes) {
                state.count("manifest_refused");
                return refusal;
            }
        }
        let mut bytes = bytes;
        if method == Method::PATCH {
            let session = path.rsplit('/').next().unwrap_or_default().to_owned();
            let earlier = {
                let mut patches = lock(&state.patches);
                let seen = patches.entry(session).or_default();
                *seen += 1;
                *seen - 1
            };
            lock(&state.patch_sizes).push(bytes.len() as u64);
            if quirks.discard_later_patches && earlier > 0 {
                state.count("patch_discarded");
                bytes = Bytes::new();
                parts.headers.remove(header::CONTENT_RANGE);
            }
        }
        if method == Method::PATCH {
            if let Some(delay) = quirks.patch_delay {
                tokio::time::sleep(delay).await;
            }
        }
        parts.headers.remove(header::TRANSFER_ENCODING);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        full(bytes)
    } else {
        body.map_err(BoxError::from).boxed()
    };

    let mut response = forward(state.upstream, Request::from_parts(parts, body)).await;
    if method == Method::POST && response.status() == StatusCode::ACCEPTED {
        if let Some(minimum) = quirks.chunk_min_bytes {
            response
                .headers_mut()
                .insert("oci-chunk-min-bytes", HeaderValue::from(minimum));
        }
    }
    if method == Method::PATCH
        && quirks.patch_answers_201
        && response.status() == StatusCode::ACCEPTED
    {
        state.count("patch_201");
        *response.status_mut() = StatusCode::CREATED;
    }
    adapt_challenge(state, response)
}

/// Rewrites a `401` challenge's realm to where this registry's token service appears, and
/// counts `insufficient_scope` answers.
pub(super) fn adapt_challenge(
    state: &State,
    mut response: Response<FrontBody>,
) -> Response<FrontBody> {
    if response.status() != StatusCode::UNAUTHORIZED {
        return response;
    }
    let Some(value) = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
    else {
        return response;
    };
    if value.contains("insufficient_scope") {
        state.count("insufficient_scope");
    }
    if let (Some(realm), Some((_, issuer_realm, _))) = (state.realm_url(), &state.issuer) {
        let rewritten = value.replace(issuer_realm.as_str(), &realm);
        if let Ok(rewritten) = HeaderValue::from_str(&rewritten) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, rewritten);
        }
    }
    response
}

/// A `401` the front makes itself (a token it considers expired), shaped like the registry's.
fn challenge(state: &State, method: &Method, path: &str, error: &str) -> Response<FrontBody> {
    let actions = match *method {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "pull,push",
    };
    let realm = state
        .realm_url()
        .or_else(|| state.issuer.as_ref().map(|(_, realm, _)| realm.clone()))
        .unwrap_or_default();
    let service = state
        .issuer
        .as_ref()
        .map(|(_, _, service)| service.as_str())
        .unwrap_or_default();
    let mut value = format!("Bearer realm=\"{realm}\",service=\"{service}\"");
    if let Some(repository) = repository_of(path) {
        value.push_str(&format!(",scope=\"repository:{repository}:{actions}\""));
    }
    value.push_str(&format!(",error=\"{error}\""));
    let mut response = distribution_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// ghcr.io's paginated tag list: all tags from the registry, sorted, one page by `n`/`last`.
async fn tag_page(
    state: &State,
    request: Request<Incoming>,
    default_size: usize,
) -> Response<FrontBody> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    };
    let size = param("n")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(default_size)
        .clamp(1, default_size);
    let last = param("last");
    let (mut parts, _) = request.into_parts();
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "bad path"),
    };
    let response = forward(state.upstream, Request::from_parts(parts, empty())).await;
    if response.status() != StatusCode::OK {
        return adapt_challenge(state, response);
    }
    let Ok(collected) = response.into_body().collect().await else {
        return plain(StatusCode::BAD_GATEWAY, "the registry's tag list broke off");
    };
    let mut list: serde_json::Value =
        serde_json::from_slice(&collected.to_bytes()).unwrap_or_default();
    let mut tags: Vec<String> = list["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|tag| tag.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    let start = last
        .as_ref()
        .map(|last| tags.partition_point(|tag| tag <= last))
        .unwrap_or(0);
    let page: Vec<String> = tags.iter().skip(start).take(size).cloned().collect();
    let more = start + page.len() < tags.len();
    state.count("tag_pages");
    list["tags"] = serde_json::json!(page);
    let mut reply = json(StatusCode::OK, &list);
    if let (true, Some(last)) = (more, page.last()) {
        let link = format!("<{path}?n={size}&last={last}>; rel=\"next\"");
        if let Ok(link) = HeaderValue::from_str(&link) {
            reply.headers_mut().insert(header::LINK, link);
        }
    }
    reply
}

/// `ns/name` in `/v2/ns/name/(blobs|manifests|tags)/...`.
pub(super) fn repository_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    let end = ["/blobs/", "/manifests/", "/tags/"]
        .iter()
        .filter_map(|marker| rest.rfind(marker))
        .max()?;
    Some(rest[..end].to_owned())
}

fn bearer_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// How a request body read within the front's size limit ended, when it did not fit.
enum BodyRead {
    /// Over the limit; the rest of the body, still unread.
    TooLarge(Incoming),
    Failed(hyper::Error),
}

async fn read_within(mut body: Incoming, limit: u64) -> Result<Bytes, BodyRead> {
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyRead::Failed)?;
        if let Ok(data) = frame.into_data() {
            if (collected.len() + data.len()) as u64 > limit {
                return Err(BodyRead::TooLarge(body));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

/// How long the front goes on reading a refused body, as nginx's `lingering_time` (30 s)
/// bounds its lingering close.
const LINGER: Duration = Duration::from_secs(30);

/// Answers 413 after reading and dropping the rest of the body. CDNs and nginx read on
/// after refusing a body (nginx's "lingering close") so that the client, still writing,
/// gets to read the refusal; closing at once makes the client's write fail with a reset
/// or broken pipe before it sees the 413, which no CDN in front of a registry does on purpose.
async fn refuse_too_large(mut body: Incoming) -> Response<FrontBody> {
    let drain = async { while let Some(Ok(_)) = body.frame().await {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
    too_large()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_come_from_paths() {
        assert_eq!(
            repository_of("/v2/ns/x/blobs/uploads/").as_deref(),
            Some("ns/x")
        );
        assert_eq!(
            repository_of("/v2/a/b/c/manifests/1.0").as_deref(),
            Some("a/b/c")
        );
        assert_eq!(repository_of("/v2/ns/x/tags/list").as_deref(), Some("ns/x"));
        assert_eq!(repository_of("/v2/"), None);
    }
}
