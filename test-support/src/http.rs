//! Direct HTTP for assertions on status codes, headers and bodies.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use base64::Engine;
use reqwest::{header::HeaderMap, redirect, Method};

/// A blocking HTTP client that never follows redirects (tests assert on them) and never
/// uses a proxy. It owns a small tokio runtime: use it from plain `#[test]`s, not from
/// inside an async runtime.
pub struct HttpClient {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// A complete response.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("the response body is not JSON ({err}):\n{}", self.text()))
    }

    /// A header's value when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    /// A client with a 60 s timeout per request.
    pub fn new() -> HttpClient {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the HTTP client's runtime: {err}"));
        let client = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|err| panic!("cannot build the HTTP client: {err}"));
        HttpClient { runtime, client }
    }

    /// Sends a request with extra headers and an optional body, and reads the whole answer.
    /// Panics when no HTTP answer arrives (connection refused, timeout).
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> HttpResponse {
        self.try_request(method, url, headers, body)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// Sends `chunks` as a streamed body, so it goes out with `Transfer-Encoding: chunked`
    /// and no `Content-Length`, and reads the whole answer.
    pub fn request_chunked(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        chunks: Vec<Vec<u8>>,
    ) -> HttpResponse {
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|chunk| Ok::<_, std::io::Error>(bytes::Bytes::from(chunk))),
        );
        self.send(
            method,
            url,
            headers,
            Some(reqwest::Body::wrap_stream(stream)),
        )
        .unwrap_or_else(|err| panic!("{err}"))
    }

    /// Like [`HttpClient::request`], but a failure is returned instead of panicking: no
    /// answer at all, or an answer whose body broke off (the error then names the status
    /// and how many body bytes arrived).
    pub fn try_request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<HttpResponse, String> {
        self.send(method, url, headers, body.map(reqwest::Body::from))
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<reqwest::Body>,
    ) -> Result<HttpResponse, String> {
        let method = Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|err| panic!("`{method}` is not an HTTP method: {err}"));
        let mut builder = self.client.request(method.clone(), url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        self.runtime.block_on(async {
            let mut response = builder
                .send()
                .await
                .map_err(|err| format!("{method} {url} got no answer: {err}"))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(err) => {
                        return Err(format!(
                            "{method} {url}: status {status}, then the body broke off after {} \
                             bytes: {err}",
                            body.len()
                        ))
                    }
                }
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }

    /// `GET url`, returning a failure instead of panicking (see [`HttpClient::try_request`]).
    pub fn try_get(&self, url: &str) -> Result<HttpResponse, String> {
        self.try_request("GET", url, &[], None)
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> HttpResponse {
        self.request("GET", url, &[], None)
    }

    /// `GET url` with headers (e.g. `[("Authorization", &basic_auth("alice", "secret"))]`).
    pub fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> HttpResponse {
        self.request("GET", url, headers, None)
    }

    /// `DELETE url` with headers.
    pub fn delete(&self, url: &str, headers: &[(&str, &str)]) -> HttpResponse {
        self.request("DELETE", url, headers, None)
    }

    /// `POST url` of a multipart form, with headers.
    pub fn post_multipart(
        &self,
        url: &str,
        form: Multipart,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let content_type = form.content_type();
        let mut all_headers = vec![("Content-Type", content_type.as_str())];
        all_headers.extend_from_slice(headers);
        self.request("POST", url, &all_headers, Some(form.into_body()))
    }
}

/// The value of an `Authorization: Basic ...` header.
pub fn basic_auth(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// A `multipart/form-data` body, built by hand so tests control every byte.
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

static BOUNDARIES: AtomicUsize = AtomicUsize::new(0);

impl Default for Multipart {
    fn default() -> Self {
        Multipart::new()
    }
}

impl Multipart {
    /// An empty form with a boundary unique in this process.
    pub fn new() -> Multipart {
        Multipart {
            boundary: format!(
                "pyoci-test-boundary-{}-{}-x7Kq",
                std::process::id(),
                BOUNDARIES.fetch_add(1, Ordering::Relaxed)
            ),
            body: Vec::new(),
        }
    }

    /// Adds a text field.
    pub fn text(mut self, name: &str, value: &str) -> Multipart {
        self.open_part(&format!("form-data; name=\"{name}\""), None);
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// Adds a file field.
    pub fn file(
        mut self,
        name: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Multipart {
        self.open_part(
            &format!("form-data; name=\"{name}\"; filename=\"{filename}\""),
            Some(content_type),
        );
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    fn open_part(&mut self, disposition: &str, content_type: Option<&str>) {
        self.body
            .extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
        self.body
            .extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        if let Some(content_type) = content_type {
            self.body
                .extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        self.body.extend_from_slice(b"\r\n");
    }

    /// The request's `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The finished body, closing boundary included.
    pub fn into_body(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encodes_user_and_password() {
        assert_eq!(basic_auth("alice", "secret"), "Basic YWxpY2U6c2VjcmV0");
    }

    #[test]
    fn multipart_bodies_are_well_formed() {
        let form = Multipart::new().text(":action", "file_upload").file(
            "content",
            "a.whl",
            "application/octet-stream",
            b"\x00PK",
        );
        let boundary = form.boundary.clone();
        assert_eq!(
            form.content_type(),
            format!("multipart/form-data; boundary={boundary}")
        );
        let expected = [
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n").into_bytes(),
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a.whl\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes(),
            b"\x00PK\r\n".to_vec(),
            format!("--{boundary}--\r\n").into_bytes(),
        ]
        .concat();
        assert_eq!(form.into_body(), expected);
        assert_ne!(Multipart::new().boundary, boundary);
    }
}
