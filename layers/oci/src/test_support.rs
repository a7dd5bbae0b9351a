//! A recording stub registry for the unit tests.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use pyoci_core::{Credentials, Secret};
use tower::{service_fn, BoxError, Service};

use crate::{OciClient, Registry};

/// One request as the stub registry saw it.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// Whether the body was a stream (not replayable) rather than buffered bytes.
    pub(crate) streamed: bool,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) extensions: http::Extensions,
}

pub(crate) type Log = Arc<Mutex<Vec<Recorded>>>;

pub(crate) fn alice() -> Credentials {
    Credentials::Basic {
        username: "alice".into(),
        password: Secret::new("hunter2"),
    }
}

/// A client for `https://registry.test` acting as alice, over a stub that records every
/// request (reading its whole body, like a server would) and answers with `respond`.
pub(crate) fn stub_client<F>(
    respond: F,
) -> (
    OciClient<
        impl Service<
                Request<reqwest::Body>,
                Response = Response<reqwest::Body>,
                Error = BoxError,
                Future = impl Send,
            > + Clone
            + Send
            + 'static,
    >,
    Log,
)
where
    F: Fn(&Recorded) -> Result<Response<reqwest::Body>, BoxError> + Clone + Send + Sync + 'static,
{
    let log = Log::default();
    let recorder = Arc::clone(&log);
    let service = service_fn(move |request: Request<reqwest::Body>| {
        let respond = respond.clone();
        let recorder = Arc::clone(&recorder);
        async move {
            let (parts, body) = request.into_parts();
            let streamed = body.as_bytes().is_none();
            let body = body.collect().await?.to_bytes();
            let recorded = Recorded {
                method: parts.method,
                uri: parts.uri.to_string(),
                headers: parts.headers,
                body,
                streamed,
                credentials: parts.extensions.get::<Credentials>().cloned(),
                extensions: parts.extensions,
            };
            let response = respond(&recorded);
            if let Ok(mut log) = recorder.lock() {
                log.push(recorded);
            }
            response
        }
    });
    let registry = Registry::new("https", "registry.test").unwrap();
    (OciClient::new(service, registry, alice()), log)
}

/// A response with `status`, `headers` and `body`.
pub(crate) fn respond(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Response<reqwest::Body>, BoxError> {
    let mut builder = Response::builder().status(StatusCode::from_u16(status)?);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    Ok(builder.body(reqwest::Body::from(body.to_owned()))?)
}

/// The recorded requests, in order.
pub(crate) fn requests(log: &Log) -> Vec<Recorded> {
    log.lock().unwrap().clone()
}
