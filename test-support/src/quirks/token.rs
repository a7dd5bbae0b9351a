//! The token service as the emulated registry's clients see it: the test issuer's answer,
//! reshaped as that registry shapes it.

use std::time::Instant;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{
    front::{lock, State},
    reply::{empty, forward, full, json, plain, FrontBody},
    TokenFields,
};

/// The token service: the test issuer's answer, reshaped, each token's issue time recorded.
pub(super) async fn token(state: &State, request: Request<Incoming>) -> Response<FrontBody> {
    state.count("token_requests");
    if request.headers().contains_key(header::AUTHORIZATION) {
        state.count("token_requests_with_credentials");
    }
    let Some((issuer, _, _)) = &state.issuer else {
        return plain(StatusCode::NOT_FOUND, "no token issuer");
    };
    let query = request.uri().query().unwrap_or_default().to_owned();
    let mut upstream = Request::builder()
        .method(Method::GET)
        .uri(format!("/token?{query}"))
        .header(header::HOST, issuer.to_string());
    if let Some(authorization) = request.headers().get(header::AUTHORIZATION) {
        upstream = upstream.header(header::AUTHORIZATION, authorization);
    }
    let Ok(upstream) = upstream.body(empty()) else {
        return plain(StatusCode::BAD_REQUEST, "bad token request");
    };
    let response = forward(*issuer, upstream).await;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return plain(StatusCode::BAD_GATEWAY, "the token issuer broke off");
    };
    let bytes = collected.to_bytes();
    if status != StatusCode::OK {
        return Response::from_parts(parts, full(bytes));
    }
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let token = answer["token"].as_str().unwrap_or_default().to_owned();
    lock(&state.tokens).insert(token.clone(), Instant::now());
    let mut reshaped = answer.clone();
    if let Some(object) = reshaped.as_object_mut() {
        match state.quirks.token_fields {
            TokenFields::Both => {}
            TokenFields::TokenOnly => {
                object.remove("access_token");
            }
            TokenFields::AccessTokenOnly => {
                object.remove("token");
            }
        }
    }
    json(StatusCode::OK, &reshaped)
}
