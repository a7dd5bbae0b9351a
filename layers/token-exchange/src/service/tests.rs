use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::Method;
use http_body_util::{BodyExt, Full};
use pyoci_core::Secret;
use tower::{service_fn, Layer};

use super::*;
use crate::{RealmPolicy, TokenExchangeLayer};

type Body = reqwest::Body;
type Handler = Arc<dyn Fn(&Request<Body>) -> Result<Response<Body>, BoxError> + Send + Sync>;

const REALM: &str = "https://auth.test/token";
const PASSWORD: &str = "s3cret";

/// A registry at `registry.test` and its token service at `auth.test`, counting calls.
#[derive(Clone)]
struct Stub {
    registry: Handler,
    realm: Handler,
    registry_calls: Arc<AtomicUsize>,
    realm_calls: Arc<AtomicUsize>,
    realm_queries: Arc<Mutex<Vec<String>>>,
}

impl Stub {
    /// A token registry: accepts any `Bearer tok-...`, and a realm issuing `tok-<username>`.
    fn tokens() -> Self {
        Self::new(token_registry, issue_token(r#""expires_in":300"#))
    }

    fn new(
        registry: impl Fn(&Request<Body>) -> Result<Response<Body>, BoxError> + Send + Sync + 'static,
        realm: impl Fn(&Request<Body>) -> Result<Response<Body>, BoxError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            registry: Arc::new(registry),
            realm: Arc::new(realm),
            registry_calls: Arc::default(),
            realm_calls: Arc::default(),
            realm_queries: Arc::default(),
        }
    }

    fn service(
        &self,
    ) -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = BoxError,
        Future = impl Future<Output = Result<Response<Body>, BoxError>> + Send,
    > + Clone
           + Send
           + 'static {
        let stub = self.clone();
        service_fn(move |req: Request<Body>| {
            let result = stub.handle(&req);
            async move { result }
        })
    }

    fn handle(&self, req: &Request<Body>) -> Result<Response<Body>, BoxError> {
        if req.uri().host() == Some("auth.test") {
            self.realm_calls.fetch_add(1, Ordering::SeqCst);
            let query = req.uri().query().unwrap_or_default().to_owned();
            self.realm_queries.lock().unwrap().push(query);
            (self.realm)(req)
        } else {
            self.registry_calls.fetch_add(1, Ordering::SeqCst);
            (self.registry)(req)
        }
    }

    fn calls(&self) -> (usize, usize) {
        (
            self.registry_calls.load(Ordering::SeqCst),
            self.realm_calls.load(Ordering::SeqCst),
        )
    }

    fn realm_queries(&self) -> Vec<String> {
        self.realm_queries.lock().unwrap().clone()
    }
}

fn respond(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = status;
    response
}

fn bearer_challenge(scope: &str) -> Response<Body> {
    let mut response = respond(StatusCode::UNAUTHORIZED, "{\"errors\":[]}");
    let challenge = format!(r#"Bearer realm="{REALM}",service="registry.test",scope="{scope}""#);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, challenge.parse().unwrap());
    response
}

fn scope_for(req: &Request<Body>) -> String {
    let action = match *req.method() {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "pull,push",
    };
    format!("repository:ns/pkg:{action}")
}

fn authorization(req: &Request<Body>) -> Option<&str> {
    req.headers()
        .get(AUTHORIZATION)
        .map(|value| value.to_str().unwrap())
}

/// Accepts `Bearer tok-...` and answers with the token; challenges everything else.
fn token_registry(req: &Request<Body>) -> Result<Response<Body>, BoxError> {
    Ok(
        match authorization(req).and_then(|value| value.strip_prefix("Bearer ")) {
            Some(token) if token.starts_with("tok-") => respond(StatusCode::OK, token),
            _ => bearer_challenge(&scope_for(req)),
        },
    )
}

/// The Basic username if the password is right, `anon` without credentials, `None` otherwise.
fn realm_user(req: &Request<Body>) -> Option<String> {
    let Some(value) = authorization(req) else {
        return Some("anon".into());
    };
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let (user, password) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    (password == PASSWORD).then_some(user)
}

/// A token service issuing `tok-<user>` with the given extra JSON fields.
fn issue_token(
    fields: &'static str,
) -> impl Fn(&Request<Body>) -> Result<Response<Body>, BoxError> + Send + Sync + 'static {
    move |req| {
        Ok(match realm_user(req) {
            Some(user) => respond(
                StatusCode::OK,
                format!(r#"{{"token":"tok-{user}","access_token":"tok-{user}",{fields}}}"#),
            ),
            None => respond(StatusCode::UNAUTHORIZED, "bad credentials"),
        })
    }
}

/// A layer trusting the stub's token service on `auth.test` with credentials.
fn trusting_layer() -> TokenExchangeLayer {
    TokenExchangeLayer::new().credential_realms(RealmPolicy::same_host().trust_host("auth.test"))
}

fn alice() -> Credentials {
    user("alice", PASSWORD)
}

fn user(username: &str, password: &str) -> Credentials {
    Credentials::Basic {
        username: username.into(),
        password: Secret::new(password),
    }
}

fn request(method: Method, path: &str, credentials: Credentials) -> Request<Body> {
    let mut req = Request::new(Body::from(""));
    *req.method_mut() = method;
    *req.uri_mut() = format!("https://registry.test{path}").parse().unwrap();
    req.extensions_mut().insert(credentials);
    req
}

fn get(credentials: Credentials) -> Request<Body> {
    request(Method::GET, "/v2/ns/pkg/manifests/1.0", credentials)
}

async fn send(
    layer: &TokenExchangeLayer,
    stub: &Stub,
    req: Request<Body>,
) -> Result<(StatusCode, String), BoxError> {
    let response = layer.layer(stub.service()).oneshot(req).await?;
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((status, String::from_utf8(body.to_vec()).unwrap()))
}

async fn send_ok(
    layer: &TokenExchangeLayer,
    stub: &Stub,
    req: Request<Body>,
) -> (StatusCode, String) {
    send(layer, stub, req).await.unwrap()
}

#[tokio::test]
async fn token_is_fetched_once_then_reused() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    assert_eq!(
        send_ok(&layer, &stub, get(alice())).await,
        (StatusCode::OK, "tok-alice".into())
    );
    assert_eq!(stub.calls(), (2, 1));
    assert_eq!(
        stub.realm_queries(),
        ["service=registry.test&scope=repository%3Ans%2Fpkg%3Apull"]
    );

    assert_eq!(
        send_ok(&layer, &stub, get(alice())).await,
        (StatusCode::OK, "tok-alice".into())
    );
    assert_eq!(
        stub.calls(),
        (3, 1),
        "second request uses the cached token directly"
    );
}

#[tokio::test]
async fn token_lookups_are_reported_as_hits_and_misses() {
    let lookups = Arc::new(Mutex::new(Vec::new()));
    let layer = trusting_layer().on_token_lookup({
        let lookups = lookups.clone();
        move |hit| lookups.lock().unwrap().push(hit)
    });
    let stub = Stub::tokens();
    send_ok(&layer, &stub, get(alice())).await;
    send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(stub.calls().1, 1, "one token fetched");
    assert_eq!(
        *lookups.lock().unwrap(),
        [false, true],
        "a miss, then a hit"
    );
}

#[tokio::test]
async fn clones_and_services_of_one_layer_share_the_cache() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    send_ok(&layer, &stub, get(alice())).await;
    let other_layer = layer.clone();
    let (status, _) = send_ok(&other_layer, &stub, get(alice())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stub.calls(), (3, 1));

    let separate = trusting_layer();
    send_ok(&separate, &stub, get(alice())).await;
    assert_eq!(stub.calls().1, 2, "a new layer starts with an empty cache");
}

#[tokio::test]
async fn different_credentials_get_separate_tokens() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    let bob = || user("bob", PASSWORD);
    assert_eq!(send_ok(&layer, &stub, get(alice())).await.1, "tok-alice");
    assert_eq!(send_ok(&layer, &stub, get(bob())).await.1, "tok-bob");
    assert_eq!(
        send_ok(&layer, &stub, get(Credentials::Anonymous)).await.1,
        "tok-anon"
    );
    assert_eq!(stub.calls().1, 3);

    // No extension at all is anonymous too, and shares the anonymous token.
    let mut no_extension = get(Credentials::Anonymous);
    no_extension.extensions_mut().clear();
    assert_eq!(send_ok(&layer, &stub, no_extension).await.1, "tok-anon");
    assert_eq!(send_ok(&layer, &stub, get(bob())).await.1, "tok-bob");
    assert_eq!(send_ok(&layer, &stub, get(alice())).await.1, "tok-alice");
    assert_eq!(stub.calls().1, 3);
}

#[tokio::test]
async fn pull_push_and_delete_tokens_are_separate() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    let push = || request(Method::POST, "/v2/ns/pkg/blobs/uploads/", alice());
    let delete = || request(Method::DELETE, "/v2/ns/pkg/manifests/sha256:ab", alice());
    send_ok(&layer, &stub, get(alice())).await;
    send_ok(&layer, &stub, push()).await;
    send_ok(&layer, &stub, delete()).await;
    assert_eq!(
        stub.realm_queries(),
        [
            "service=registry.test&scope=repository%3Ans%2Fpkg%3Apull",
            "service=registry.test&scope=repository%3Ans%2Fpkg%3Apull%2Cpush",
            "service=registry.test&scope=repository%3Ans%2Fpkg%3Adelete",
        ]
    );
    // A blob HEAD is a pull like the manifest GET; a PUT of a manifest is a push like the POST.
    let head = request(Method::HEAD, "/v2/ns/pkg/blobs/sha256:cd", alice());
    let put = request(Method::PUT, "/v2/ns/pkg/manifests/1.0", alice());
    assert_eq!(send_ok(&layer, &stub, head).await.0, StatusCode::OK);
    assert_eq!(send_ok(&layer, &stub, put).await.0, StatusCode::OK);
    assert_eq!(stub.calls().1, 3);
}

#[tokio::test]
async fn short_lived_token_is_fetched_again() {
    let layer = trusting_layer();
    let stub = Stub::new(token_registry, issue_token(r#""expires_in":1"#));
    send_ok(&layer, &stub, get(alice())).await;
    let (status, _) = send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(status, StatusCode::OK);
    // The second asks the token service it now knows before the registry: no 401 again.
    assert_eq!(stub.calls(), (3, 2));
}

#[tokio::test]
async fn a_read_of_another_repository_asks_the_known_token_service_first() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(
        stub.calls(),
        (2, 1),
        "the first request meets the challenge"
    );
    let other = request(Method::GET, "/v2/ns/other/manifests/1.0", alice());
    assert_eq!(
        send_ok(&layer, &stub, other).await,
        (StatusCode::OK, "tok-alice".into())
    );
    assert_eq!(stub.calls(), (3, 2), "one registry request, with its token");
    assert_eq!(
        stub.realm_queries()[1],
        "service=registry.test&scope=repository%3Ans%2Fother%3Apull"
    );
    // Writes still wait for the registry to name their scope.
    let push = request(Method::POST, "/v2/ns/third/blobs/uploads/", alice());
    send_ok(&layer, &stub, push).await;
    assert_eq!(stub.calls(), (5, 3));
}

#[tokio::test]
async fn a_token_asked_ahead_that_the_registry_refuses_gives_way_to_its_challenge() {
    // The registry wants a token of its own scope; the one asked ahead is not enough.
    let stub = Stub::new(
        |req| {
            Ok(match authorization(req) {
                Some("Bearer tok-alice-right-scope") => respond(StatusCode::OK, "ok"),
                _ => bearer_challenge("repository:ns/pkg:pull special"),
            })
        },
        |req| {
            let query = req.uri().query().unwrap_or_default();
            let token = if query.contains("special") {
                "tok-alice-right-scope"
            } else {
                "tok-alice-guess"
            };
            Ok(respond(
                StatusCode::OK,
                format!(r#"{{"token":"{token}","expires_in":300}}"#),
            ))
        },
    );
    let layer = trusting_layer();
    send_ok(&layer, &stub, get(alice())).await;
    let other = request(Method::GET, "/v2/ns/other/manifests/1.0", alice());
    assert_eq!(send_ok(&layer, &stub, other).await.0, StatusCode::OK);
    // The guess, refused (1 + 1), then the registry's own challenge answered (1 + 1).
    assert_eq!(stub.calls(), (2 + 2, 1 + 2));
}

#[tokio::test]
async fn missing_expires_in_still_caches() {
    let layer = trusting_layer();
    let stub = Stub::new(
        token_registry,
        issue_token(r#""issued_at":"2024-01-01T00:00:00Z""#),
    );
    send_ok(&layer, &stub, get(alice())).await;
    send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(stub.calls(), (3, 1));
}

#[tokio::test]
async fn refused_cached_token_is_replaced_once() {
    // The registry only accepts tokens of the current generation, like a revocation.
    let generation = Arc::new(AtomicUsize::new(1));
    let (accepts, issues) = (generation.clone(), generation.clone());
    let stub = Stub::new(
        move |req| {
            let current = format!("Bearer tok-{}", accepts.load(Ordering::SeqCst));
            Ok(if authorization(req) == Some(current.as_str()) {
                respond(StatusCode::OK, current)
            } else {
                bearer_challenge(&scope_for(req))
            })
        },
        move |_| {
            let token = format!("tok-{}", issues.load(Ordering::SeqCst));
            Ok(respond(
                StatusCode::OK,
                format!(r#"{{"token":"{token}","expires_in":300}}"#),
            ))
        },
    );
    let layer = trusting_layer();
    send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(stub.calls(), (2, 1));

    generation.store(2, Ordering::SeqCst);
    let (status, body) = send_ok(&layer, &stub, get(alice())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "Bearer tok-2"));
    assert_eq!(
        stub.calls(),
        (4, 2),
        "cached token refused, one exchange, one retry"
    );

    send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(stub.calls(), (5, 2), "the new token was cached");
}

#[tokio::test]
async fn token_that_does_not_help_is_not_retried_again() {
    // Anonymous access the registry never grants: a token is issued but is never enough.
    let stub = Stub::new(
        |req| Ok(bearer_challenge(&scope_for(req))),
        issue_token(r#""expires_in":300"#),
    );
    let layer = trusting_layer();
    let (status, _) = send_ok(&layer, &stub, get(Credentials::Anonymous)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(stub.calls(), (2, 1), "one retry, no loop");

    let (status, _) = send_ok(&layer, &stub, get(Credentials::Anonymous)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Not kept: the second request asks the token service ahead (the realm is known), is
    // refused all the same, and answers the registry's challenge once more.
    assert_eq!(stub.calls(), (4, 3), "the useless token was not kept");
}

fn basic_registry(req: &Request<Body>) -> Result<Response<Body>, BoxError> {
    let expected = format!("Basic {}", STANDARD.encode(format!("alice:{PASSWORD}")));
    Ok(if authorization(req) == Some(expected.as_str()) {
        respond(StatusCode::OK, "welcome")
    } else {
        let mut response = respond(StatusCode::UNAUTHORIZED, "");
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            r#"Basic realm="pyoci-test""#.parse().unwrap(),
        );
        response
    })
}

#[tokio::test]
async fn basic_challenge_is_answered_with_basic_credentials() {
    let layer = trusting_layer();
    let stub = Stub::new(basic_registry, |_| panic!("no token service"));
    assert_eq!(
        send_ok(&layer, &stub, get(alice())).await,
        (StatusCode::OK, "welcome".into())
    );
    assert_eq!(stub.calls(), (2, 0));
    assert_eq!(send_ok(&layer, &stub, get(alice())).await.0, StatusCode::OK);
    assert_eq!(
        stub.calls(),
        (3, 0),
        "Basic is sent right away once the origin asked for it"
    );

    assert_eq!(
        send_ok(&layer, &stub, get(Credentials::Anonymous)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stub.calls(),
        (4, 0),
        "anonymous requests have nothing to retry with"
    );

    let wrong = || user("alice", "wrong");
    assert_eq!(
        send_ok(&layer, &stub, get(wrong())).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(stub.calls(), (6, 0));
    assert_eq!(
        send_ok(&layer, &stub, get(wrong())).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stub.calls(),
        (8, 0),
        "refused credentials are not remembered as working"
    );
}

#[tokio::test]
async fn token_service_refusal_goes_back_to_the_caller() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    let (status, body) = send_ok(&layer, &stub, get(user("alice", "wrong"))).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "bad credentials")
    );
    assert_eq!(stub.calls(), (1, 1), "no retry after a refusal");

    let stub = Stub::new(token_registry, |_| {
        Ok(respond(StatusCode::FORBIDDEN, "denied"))
    });
    let (status, _) = send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The layer knows the realm from the first stub: it asks ahead, is refused, and
    // leaves the decision to the registry's own challenge, refused again.
    assert_eq!(stub.calls(), (1, 2));
}

async fn exchange_error(
    realm: impl Fn(&Request<Body>) -> Result<Response<Body>, BoxError> + Send + Sync + 'static,
) -> String {
    let stub = Stub::new(token_registry, realm);
    let error = send(&trusting_layer(), &stub, get(alice()))
        .await
        .unwrap_err();
    assert!(
        error.downcast_ref::<TokenExchangeError>().is_some(),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(
        !message.contains(&STANDARD.encode(format!("alice:{PASSWORD}"))),
        "{message}"
    );
    message
}

#[tokio::test]
async fn token_service_failures_are_errors_naming_the_host() {
    let message = exchange_error(|_| Ok(respond(StatusCode::BAD_GATEWAY, ""))).await;
    assert!(
        message.contains("auth.test") && message.contains("502"),
        "{message}"
    );

    let message = exchange_error(|_| Ok(respond(StatusCode::OK, r#"{"expires_in":300}"#))).await;
    assert!(
        message.contains("auth.test") && message.contains("access_token"),
        "{message}"
    );

    let message = exchange_error(|_| Err("connection refused".into())).await;
    assert!(
        message.contains("auth.test") && message.contains("connection refused"),
        "{message}"
    );
}

#[tokio::test]
async fn relative_realm_is_an_error() {
    let stub = Stub::new(
        |_| {
            let mut response = respond(StatusCode::UNAUTHORIZED, "");
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                r#"Bearer realm="/token""#.parse().unwrap(),
            );
            Ok(response)
        },
        |_| panic!("not called"),
    );
    let error = send(&trusting_layer(), &stub, get(alice()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("\"/token\""), "{error}");
}

#[tokio::test]
async fn streamed_body_gets_the_401_but_the_token_is_cached() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    let mut streamed = request(Method::POST, "/v2/ns/pkg/blobs/uploads/", alice());
    *streamed.body_mut() = Body::wrap(Full::new(Bytes::from_static(b"wheel bytes")));
    assert_eq!(
        send_ok(&layer, &stub, streamed).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(stub.calls(), (1, 1));

    let buffered = request(Method::POST, "/v2/ns/pkg/blobs/uploads/", alice());
    assert_eq!(
        send_ok(&layer, &stub, buffered).await,
        (StatusCode::OK, "tok-alice".into())
    );
    assert_eq!(
        stub.calls(),
        (2, 1),
        "the cached push token was sent right away"
    );
}

#[tokio::test]
async fn bearer_credentials_pass_straight_through() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    let given = || Credentials::Bearer(Secret::new("tok-given"));
    assert_eq!(
        send_ok(&layer, &stub, get(given())).await,
        (StatusCode::OK, "tok-given".into())
    );
    let refused = Credentials::Bearer(Secret::new("expired"));
    assert_eq!(
        send_ok(&layer, &stub, get(refused)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stub.calls(),
        (2, 0),
        "no exchange and no retry for bearer credentials"
    );

    let unsendable = Credentials::Bearer(Secret::new("two words"));
    let error = send(&layer, &stub, get(unsendable)).await.unwrap_err();
    assert!(!error.to_string().contains("two words"), "{error}");
}

#[derive(Clone, Debug, PartialEq)]
struct Marker(u32);

#[tokio::test]
async fn retry_replays_the_whole_request() {
    let stub = Stub::new(
        |req| {
            if authorization(req).is_none() {
                return Ok(bearer_challenge(&scope_for(req)));
            }
            let seen = format!(
                "{} {} {:?} {:?} {}",
                req.method(),
                req.uri(),
                req.headers().get(CONTENT_TYPE),
                req.extensions().get::<Marker>(),
                String::from_utf8_lossy(req.body().as_bytes().unwrap()),
            );
            Ok(respond(StatusCode::CREATED, seen))
        },
        issue_token(r#""expires_in":300"#),
    );
    let mut req = request(Method::PUT, "/v2/ns/pkg/manifests/1.0?x=1", alice());
    req.headers_mut().insert(
        CONTENT_TYPE,
        "application/vnd.oci.image.index.v1+json".parse().unwrap(),
    );
    req.extensions_mut().insert(Marker(7));
    *req.body_mut() = Body::from("{\"manifest\":true}");
    let (status, seen) = send_ok(&trusting_layer(), &stub, req).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        seen,
        "PUT https://registry.test/v2/ns/pkg/manifests/1.0?x=1 \
         Some(\"application/vnd.oci.image.index.v1+json\") Some(Marker(7)) {\"manifest\":true}"
    );
    assert_eq!(stub.calls(), (2, 1));
}

#[tokio::test]
async fn bearer_challenge_found_among_several_headers() {
    let stub = Stub::new(
        |req| {
            if authorization(req).is_some() {
                return token_registry(req);
            }
            let mut response = bearer_challenge("repository:ns/pkg:pull");
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, r#"Basic realm="x""#.parse().unwrap());
            response.headers_mut().append(
                WWW_AUTHENTICATE,
                format!(r#"Bearer realm="{REALM}",scope="repository:ns/pkg:pull""#)
                    .parse()
                    .unwrap(),
            );
            Ok(response)
        },
        issue_token(r#""expires_in":300"#),
    );
    let (status, body) = send_ok(&trusting_layer(), &stub, get(Credentials::Anonymous)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "tok-anon"));
    assert_eq!(stub.realm_queries(), ["scope=repository%3Ans%2Fpkg%3Apull"]);
}

#[tokio::test]
async fn other_statuses_pass_through_untouched() {
    let stub = Stub::new(
        |_| Ok(respond(StatusCode::NOT_FOUND, "no such manifest")),
        |_| panic!("not called"),
    );
    let (status, body) = send_ok(&trusting_layer(), &stub, get(alice())).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "no such manifest")
    );

    let challenge_without_realm = Stub::new(
        |_| {
            let mut response = respond(StatusCode::UNAUTHORIZED, "");
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, r#"Bearer service="x""#.parse().unwrap());
            Ok(response)
        },
        |_| panic!("not called"),
    );
    let (status, _) = send_ok(&trusting_layer(), &challenge_without_realm, get(alice())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_name_the_realm_but_never_secrets() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (layer, stub) = (trusting_layer(), Stub::tokens());
    send_ok(&layer, &stub, get(alice())).await;
    send_ok(&layer, &stub, get(user("alice", "wrong"))).await;

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("fetched registry token"), "{logs}");
    assert!(
        logs.contains("auth.test") && logs.contains("repository:ns/pkg:pull"),
        "{logs}"
    );
    assert!(logs.contains("refused the credentials"), "{logs}");
    for secret in [PASSWORD, "wrong", "tok-", "Basic ", "Bearer "] {
        assert!(!logs.contains(secret), "{secret} in {logs}");
    }
}

/// A registry on `registry.test` whose token service is on the same host, another port.
fn registry_with_own_realm(req: &Request<Body>) -> Result<Response<Body>, BoxError> {
    if req.uri().path() == "/token" {
        return issue_token(r#""expires_in":300"#)(req);
    }
    if authorization(req).is_some_and(|value| value.starts_with("Bearer tok-")) {
        return token_registry(req);
    }
    let mut response = respond(StatusCode::UNAUTHORIZED, "");
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        r#"Bearer realm="https://REGISTRY.test:8443/token",scope="repository:ns/pkg:pull""#
            .parse()
            .unwrap(),
    );
    Ok(response)
}

/// A token service that records the `Authorization` each request carried.
fn recording_realm(
    seen: Arc<Mutex<Vec<Option<String>>>>,
) -> impl Fn(&Request<Body>) -> Result<Response<Body>, BoxError> + Send + Sync + 'static {
    move |req| {
        seen.lock()
            .unwrap()
            .push(authorization(req).map(str::to_owned));
        issue_token(r#""expires_in":300"#)(req)
    }
}

#[tokio::test]
async fn by_default_credentials_go_to_the_realm_the_registry_names() {
    let layer = TokenExchangeLayer::new();
    let stub = Stub::new(registry_with_own_realm, |_| panic!("not called"));
    assert_eq!(
        send_ok(&layer, &stub, get(alice())).await,
        (StatusCode::OK, "tok-alice".into())
    );

    // `auth.test` is another host (Docker Hub's and GitLab.com's layout): it gets them too.
    let layer = TokenExchangeLayer::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stub = Stub::new(token_registry, recording_realm(seen.clone()));
    assert_eq!(
        send_ok(&layer, &stub, get(alice())).await,
        (StatusCode::OK, "tok-alice".into())
    );
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .as_deref()
            .is_some_and(|value| value.starts_with("Basic ")),
        "{sent:?}"
    );
}

/// A registry on `registry.test` (https) whose token service speaks plain http.
fn registry_with_cleartext_realm(req: &Request<Body>) -> Result<Response<Body>, BoxError> {
    if authorization(req).is_some_and(|value| value.starts_with("Bearer tok-")) {
        return token_registry(req);
    }
    let mut response = respond(StatusCode::UNAUTHORIZED, "");
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        r#"Bearer realm="http://auth.test/token",scope="repository:ns/pkg:pull""#
            .parse()
            .unwrap(),
    );
    Ok(response)
}

#[tokio::test]
async fn an_https_registry_never_sends_credentials_to_an_http_realm() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stub = Stub::new(registry_with_cleartext_realm, recording_realm(seen.clone()));
    for layer in [TokenExchangeLayer::new(), trusting_layer()] {
        assert_eq!(
            send_ok(&layer, &stub, get(alice())).await,
            (StatusCode::OK, "tok-anon".into())
        );
    }
    assert_eq!(*seen.lock().unwrap(), [None, None]);
    assert_eq!(stub.calls(), (4, 2));
}

#[tokio::test]
async fn a_narrowed_policy_asks_other_realms_anonymously() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stub = Stub::new(token_registry, recording_realm(seen.clone()));

    // Narrowed to the registry's host: `auth.test` is asked without credentials.
    let narrowed = TokenExchangeLayer::new().credential_realms(RealmPolicy::same_host());
    assert_eq!(
        send_ok(&narrowed, &stub, get(alice())).await,
        (StatusCode::OK, "tok-anon".into())
    );
    assert_eq!(*seen.lock().unwrap(), [None]);
    assert_eq!(stub.calls(), (2, 1));

    // Listed, it gets them.
    let listed = TokenExchangeLayer::new()
        .credential_realms(RealmPolicy::same_host().trust_host("AUTH.test"));
    assert_eq!(
        send_ok(&listed, &stub, get(alice())).await,
        (StatusCode::OK, "tok-alice".into())
    );
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1]
            .as_deref()
            .is_some_and(|value| value.starts_with("Basic ")),
        "{sent:?}"
    );
}

/// A registry that grants pulls but answers every push, token or not, with
/// `error="insufficient_scope"`, as distribution does for a token without `push`.
fn pull_only_registry(req: &Request<Body>) -> Result<Response<Body>, BoxError> {
    let authorized = authorization(req).is_some_and(|value| value.starts_with("Bearer tok-"));
    Ok(match (req.method() == Method::GET, authorized) {
        (true, true) => respond(StatusCode::OK, "pulled"),
        _ => {
            let mut response = bearer_challenge(&scope_for(req));
            let challenge = format!(
                r#"Bearer realm="{REALM}",service="registry.test",scope="{}",error="insufficient_scope""#,
                scope_for(req)
            );
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, challenge.parse().unwrap());
            response
        }
    })
}

#[tokio::test]
async fn a_known_user_without_the_right_gets_403_and_strangers_401() {
    let stub = Stub::new(pull_only_registry, issue_token(r#""expires_in":300"#));
    let layer = trusting_layer();
    let push = || request(Method::POST, "/v2/ns/pkg/blobs/uploads/", alice());
    let (status, _) = send_ok(&layer, &stub, push()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "alice is known but may not push"
    );

    let anonymous = request(
        Method::POST,
        "/v2/ns/pkg/blobs/uploads/",
        Credentials::Anonymous,
    );
    let (status, _) = send_ok(&layer, &stub, anonymous).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "strangers are asked for credentials"
    );

    // A token service that is not trusted with credentials never learned who asked.
    let untrusting = TokenExchangeLayer::new().credential_realms(RealmPolicy::same_host());
    let (status, _) = send_ok(&untrusting, &stub, push()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_read_ahead_of_a_write_fetches_the_write_token() {
    let (layer, stub) = (trusting_layer(), Stub::tokens());
    let mut read = get(alice());
    read.extensions_mut().insert(AuthorizeForWrite);
    assert_eq!(send_ok(&layer, &stub, read).await.1, "tok-alice");
    assert_eq!(
        stub.realm_queries(),
        ["service=registry.test&scope=repository%3Ans%2Fpkg%3Apull%2Cpush"],
        "the read asked for the write's scope"
    );
    let (calls_before, _) = stub.calls();
    let write = request(Method::PUT, "/v2/ns/pkg/manifests/1.0", alice());
    assert_eq!(send_ok(&layer, &stub, write).await.0, StatusCode::OK);
    assert_eq!(
        stub.calls(),
        (calls_before + 1, 1),
        "the write went out once, with the cached token, and fetched none"
    );
    assert_eq!(send_ok(&layer, &stub, get(alice())).await.0, StatusCode::OK);
    assert_eq!(
        stub.calls(),
        (calls_before + 2, 1),
        "later reads use it too"
    );
}

/// A registry over `Full<Bytes>` bodies, as a hyper client has them: echoes the body of a
/// request carrying its token, challenges the others; `auth.test` issues the token.
async fn full_body_registry(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, BoxError> {
    if req.uri().host() == Some("auth.test") {
        return Ok(Response::new(Full::from(r#"{"token":"tok-full"}"#)));
    }
    if req
        .headers()
        .get(AUTHORIZATION)
        .is_some_and(|value| value == "Bearer tok-full")
    {
        let body = req.into_body().collect().await?.to_bytes();
        return Ok(Response::new(Full::new(body)));
    }
    let mut challenged = Response::new(Full::default());
    *challenged.status_mut() = StatusCode::UNAUTHORIZED;
    let challenge = format!(r#"Bearer realm="{REALM}",service="registry.test""#);
    challenged
        .headers_mut()
        .insert(WWW_AUTHENTICATE, challenge.parse()?);
    Ok(challenged)
}

#[tokio::test]
async fn a_full_body_is_sent_again_with_the_token() {
    let service = trusting_layer().layer(service_fn(full_body_registry));
    let mut req = Request::new(Full::from("{\"manifest\":true}"));
    *req.method_mut() = Method::PUT;
    *req.uri_mut() = "https://registry.test/v2/ns/pkg/manifests/1.0"
        .parse()
        .unwrap();
    req.extensions_mut().insert(alice());
    let response = service.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        echoed, "{\"manifest\":true}",
        "the copy carried the same body"
    );
}

#[tokio::test]
async fn held_tokens_tell_until_when_the_registry_honours_a_reader_and_forget_refused_ones() {
    let generation = Arc::new(AtomicUsize::new(1));
    let accepts = generation.clone();
    let stub = Stub::new(
        move |req| {
            let current = format!("Bearer tok-{}", accepts.load(Ordering::SeqCst));
            Ok(if authorization(req) == Some(current.as_str()) {
                respond(StatusCode::OK, current)
            } else {
                bearer_challenge(&scope_for(req))
            })
        },
        |_| {
            Ok(respond(
                StatusCode::OK,
                r#"{"token":"tok-1","expires_in":300}"#,
            ))
        },
    );
    let layer = trusting_layer();
    let held = layer.held_tokens();
    let tags: http::Uri = "https://registry.test/v2/ns/pkg/tags/list".parse().unwrap();
    assert_eq!(
        held.read_token_until(&tags, &alice()),
        None,
        "nothing fetched yet"
    );

    let before = std::time::Instant::now();
    send_ok(&layer, &stub, get(alice())).await;
    let until = held
        .read_token_until(&tags, &alice())
        .expect("the pull token of ns/pkg serves its tag list too");
    // 300 s, less the margin the layer keeps before expiry.
    assert!(
        until > before + Duration::from_secs(200) && until <= before + Duration::from_secs(300)
    );
    assert_eq!(held.read_token_until(&tags, &user("alice", "other")), None);
    assert_eq!(held.read_token_until(&tags, &Credentials::Anonymous), None);
    let elsewhere: http::Uri = "https://registry.test/v2/ns/other/tags/list"
        .parse()
        .unwrap();
    assert_eq!(held.read_token_until(&elsewhere, &alice()), None);

    // Revoked: the registry refuses every token the issuer hands out; the refused one is
    // no longer held, nor is the useless new one.
    accepts_only_generation(&generation, 2);
    let (status, _) = send_ok(&layer, &stub, get(alice())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(held.read_token_until(&tags, &alice()), None);
}

/// Makes the stub registry accept only tokens of `wanted` while the issuer still hands out
/// those of generation 1.
fn accepts_only_generation(generation: &AtomicUsize, wanted: usize) {
    generation.store(wanted, Ordering::SeqCst);
}
