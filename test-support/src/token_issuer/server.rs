//! The issuer's HTTP side: hyper on a current-thread runtime owned by its own thread.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    net::TcpListener,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use base64::Engine;
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use tokio::sync::oneshot;

use super::{
    jwt::{Claims, SigningKey},
    policy::{grant, Access, Rule},
    Grant,
};
use crate::timefmt::{rfc3339, unix_now};

/// How long tokens are valid unless the builder says otherwise.
pub(super) const TOKEN_LIFETIME_SECONDS: u64 = 300;

type Reply = Response<Full<Bytes>>;

/// Who asked: a user (`None`: anonymous) and the rules that limit their tokens.
type Caller<'s> = (Option<String>, &'s [Rule]);

/// What request handlers share with the [`super::TokenIssuer`] handle.
pub(super) struct IssuerState {
    pub(super) service: String,
    pub(super) issuer: String,
    pub(super) users: BTreeMap<String, (String, Vec<Rule>)>,
    pub(super) anonymous: Vec<Rule>,
    pub(super) key: SigningKey,
    pub(super) requests: AtomicUsize,
    pub(super) grants: Mutex<Vec<Grant>>,
    /// Seconds each token is valid.
    pub(super) token_lifetime: u64,
    /// Users whose password no longer gets a token.
    pub(super) revoked: Mutex<std::collections::BTreeSet<String>>,
}

impl IssuerState {
    pub(super) fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub(super) fn grants(&self) -> Vec<Grant> {
        self.grants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Serves until `shutdown` fires (or its sender drops). Runs on the calling thread.
pub(super) fn serve(
    listener: TcpListener,
    state: Arc<IssuerState>,
    shutdown: oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("cannot build the token issuer's runtime: {err}"));
    runtime.block_on(async move {
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|err| panic!("cannot make the issuer's listener non-blocking: {err}"));
        let listener = tokio::net::TcpListener::from_std(listener)
            .unwrap_or_else(|err| panic!("cannot hand the issuer's listener to tokio: {err}"));
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                _ = &mut shutdown => break,
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(&state, &request)) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn handle(state: &IssuerState, request: &Request<Incoming>) -> Reply {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if request.uri().path() != "/token" {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "the token endpoint is /token",
        );
    }
    let query = parse_query(request.uri().query().unwrap_or(""));
    if let Some(service) = query.iter().find(|(name, _)| name == "service") {
        if service.1 != state.service {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                &format!("unknown service `{}`", service.1),
            );
        }
    }
    let mut requested = Vec::new();
    for (_, scopes) in query.iter().filter(|(name, _)| name == "scope") {
        for scope in scopes.split_whitespace() {
            match Access::parse_scope(scope) {
                Some(access) => requested.push(access),
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "INVALID_REQUEST",
                        &format!("malformed scope `{scope}`"),
                    )
                }
            }
        }
    }

    let Some((user, rules)) = authenticate(state, request) else {
        return unauthorized();
    };
    let access = grant(&requested, rules);
    let now = unix_now();
    let token = state.key.sign(&Claims {
        iss: state.issuer.clone(),
        sub: user.clone().unwrap_or_default(),
        aud: state.service.clone(),
        exp: now + state.token_lifetime,
        nbf: now,
        iat: now,
        jti: format!("{}-{}", now, state.requests.load(Ordering::SeqCst)),
        access: access.clone(),
    });
    state
        .grants
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Grant {
            user,
            access,
            token: token.clone(),
        });
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": state.token_lifetime,
        "issued_at": rfc3339(now),
    });
    json(StatusCode::OK, &body)
}

/// The user and their rules, or anonymous rules without credentials; `None` when the
/// credentials are malformed, the user unknown or the password wrong.
fn authenticate<'s>(state: &'s IssuerState, request: &Request<Incoming>) -> Option<Caller<'s>> {
    let Some(authorization) = request.headers().get(header::AUTHORIZATION) else {
        return Some((None, &state.anonymous));
    };
    let (user, password) = authorization.to_str().ok().and_then(parse_basic)?;
    let revoked = state
        .revoked
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .contains(&user);
    match state.users.get(&user) {
        Some((expected, rules)) if *expected == password && !revoked => Some((Some(user), rules)),
        _ => None,
    }
}

fn unauthorized() -> Reply {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "incorrect username or password",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"pyoci-test-issuer\""),
    );
    response
}

/// `Basic base64(user:password)` -> (user, password).
fn parse_basic(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `a=1&scope=x%3Ay&scope=z` -> [(a, 1), (scope, x:y), (scope, z)], `+` meaning space.
fn parse_query(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn json(status: StatusCode, body: &serde_json::Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    json(
        status,
        &serde_json::json!({"errors": [{"code": code, "message": message}]}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_queries_with_repeated_and_encoded_scopes() {
        assert_eq!(
            parse_query("service=svc&scope=repository%3Ans%2Fx%3Apull%2Cpush&scope=a+b&flag"),
            vec![
                ("service".to_owned(), "svc".to_owned()),
                ("scope".to_owned(), "repository:ns/x:pull,push".to_owned()),
                ("scope".to_owned(), "a b".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert_eq!(parse_query(""), vec![]);
    }

    #[test]
    fn parses_basic_credentials() {
        assert_eq!(
            parse_basic("Basic YWxpY2U6c2U6Y3JldA=="),
            Some(("alice".to_owned(), "se:cret".to_owned()))
        );
        assert_eq!(
            parse_basic("basic Ym9iOg=="),
            Some(("bob".to_owned(), String::new()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic bm9jb2xvbg=="), None);
    }
}
