//! ghcr.io's blob downloads: a `307` from the registry to a storage host with a signed URL,
//! and the storage host, which must never see the client's credentials.

use std::sync::atomic::Ordering;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::{
    front::{adapt_challenge, lock, State},
    reply::{empty, forward, plain, FrontBody},
};

/// ghcr.io's blob download: the registry checks access, then sends the client to storage.
pub(super) async fn redirect_blob(
    state: &State,
    request: Request<Incoming>,
) -> Response<FrontBody> {
    let path = request.uri().path().to_owned();
    let (mut parts, _) = request.into_parts();
    let authorization = parts.headers.get(header::AUTHORIZATION).cloned();
    parts.method = Method::HEAD;
    let response = forward(state.upstream, Request::from_parts(parts, empty())).await;
    if response.status() != StatusCode::OK {
        return adapt_challenge(state, response);
    }
    let Some(storage) = &state.storage_origin else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "no storage host");
    };
    let signature = format!(
        "sig{}x{}",
        state.next_signature.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    );
    let digest = path.rsplit('/').next().unwrap_or_default();
    lock(&state.signed).insert(signature.clone(), (path.clone(), authorization));
    state.count("blob_redirects");
    let location =
        format!("{storage}/blobs/{digest}?X-Amz-Expires=300&X-Amz-Signature={signature}");
    let mut reply = plain(StatusCode::TEMPORARY_REDIRECT, "");
    if let Ok(location) = HeaderValue::from_str(&location) {
        reply.headers_mut().insert(header::LOCATION, location);
    }
    reply
}

/// The storage host: serves a blob for a valid signature, and refuses (as S3 does) a request
/// that also carries `Authorization`, which is also counted: credentials must never get here.
pub(super) async fn storage(state: &State, request: Request<Incoming>) -> Response<FrontBody> {
    if request.headers().contains_key(header::AUTHORIZATION) {
        state.count("storage_saw_authorization");
        return plain(
            StatusCode::BAD_REQUEST,
            "InvalidArgument: Only one auth mechanism allowed",
        );
    }
    state.count("storage_gets");
    let from_pyoci = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .is_some_and(|agent| agent.starts_with("pyoci/"));
    if from_pyoci {
        state.count("storage_gets_by_pyoci");
    }
    let signature = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
        .unwrap_or_default()
        .to_owned();
    let Some((path, authorization)) = lock(&state.signed).get(&signature).cloned() else {
        return plain(StatusCode::FORBIDDEN, "SignatureDoesNotMatch");
    };
    let mut upstream = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, state.upstream.to_string());
    if let Some(authorization) = authorization {
        upstream = upstream.header(header::AUTHORIZATION, authorization);
    }
    if let Some(range) = request.headers().get(header::RANGE) {
        upstream = upstream.header(header::RANGE, range);
    }
    match upstream.body(empty()) {
        Ok(upstream_request) => forward(state.upstream, upstream_request).await,
        Err(err) => plain(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}
