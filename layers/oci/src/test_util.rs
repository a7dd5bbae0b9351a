//! A recording stub registry, for this crate's unit tests and, with the `test-util` feature,
//! for the tests of crates built on [`OciClient`] (linkerd2-proxy's `test_util` pattern):
//! every request is recorded as the registry saw it, and answered by a function of it.
//!
//! ```
//! use pyoci_oci::test_util::{requests, respond, stub_client};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (client, log) = stub_client(|_| respond(200, &[], r#"{"tags":["1.0"]}"#));
//! assert_eq!(client.list_tags("acme/hello").await.unwrap(), ["1.0"]);
//! let seen = requests(&log);
//! assert_eq!(seen[0].uri, "https://registry.test/v2/acme/hello/tags/list");
//! # }
//! ```

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use pyoci_core::{Credentials, Secret};
use tower::{service_fn, BoxError, Service};

use crate::{OciClient, Registry};

/// One request as the stub registry saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The request's method.
    pub method: Method,
    /// The whole URI, scheme and host included.
    pub uri: String,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The whole body, read as a server would.
    pub body: Bytes,
    /// Whether the body was a stream (not replayable) rather than buffered bytes.
    pub streamed: bool,
    /// The caller's credentials, as the outgoing stack would see them.
    pub credentials: Option<Credentials>,
    /// Every extension of the request (budget permits, write authorizations).
    pub extensions: http::Extensions,
}

impl Recorded {
    /// The URI's path.
    pub fn path(&self) -> &str {
        let after_scheme = self
            .uri
            .split_once("://")
            .map_or(&*self.uri, |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
        path.split_once('?').map_or(path, |(path, _)| path)
    }

    /// The value of the query parameter `name`, if given.
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.uri.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// The header `name` as text, if given.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// The requests a stub registry saw, in order.
pub type Log = Arc<Mutex<Vec<Recorded>>>;

/// The credentials of the stub clients: `alice`, password `hunter2`.
pub fn alice() -> Credentials {
    Credentials::Basic {
        username: "alice".into(),
        password: Secret::new("hunter2"),
    }
}

/// A stub registry service that records every request (reading its whole body, like a
/// server would) and answers with `respond`.
pub fn stub_service<F>(
    respond: F,
) -> (
    impl Service<
            Request<reqwest::Body>,
            Response = Response<reqwest::Body>,
            Error = BoxError,
            Future = impl Send,
        > + Clone
        + Send
        + Sync
        + 'static,
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
    (service, log)
}

/// The registry the stub clients talk to: `https://registry.test`.
pub fn stub_registry() -> Registry {
    Registry::new("https", "registry.test").expect("a valid registry name")
}

/// A client for [`stub_registry`] acting as [`alice`], over [`stub_service`].
pub fn stub_client<F>(
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
            + Sync
            + 'static,
    >,
    Log,
)
where
    F: Fn(&Recorded) -> Result<Response<reqwest::Body>, BoxError> + Clone + Send + Sync + 'static,
{
    let (service, log) = stub_service(respond);
    (OciClient::new(service, stub_registry(), alice()), log)
}

/// A response with `status`, `headers` and `body`.
pub fn respond(
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
pub fn requests(log: &Log) -> Vec<Recorded> {
    log.lock().map(|log| log.clone()).unwrap_or_default()
}
