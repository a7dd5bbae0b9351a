//! The public index client: project pages (PEP 691 JSON) and files from the index the
//! mirror pulls through.
//!
//! Everything goes through the [`HttpClient`] it is given, which is meant to be built with
//! an address policy: the index, every redirect and every file URL a page names are checked,
//! so a hostile page cannot make PyOCI fetch internal addresses. No request carries
//! credentials or cookies, and project names reach the index only as valid normalized names.
//!
//! Pages are kept for a TTL and asked once however many callers want them at the same time
//! (the fetch runs in a task of its own, so a caller going away does not waste it); errors
//! are not kept, so the next caller tries again.

mod error;
mod page;

#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use futures_util::{
    future::{BoxFuture, Shared},
    stream::BoxStream,
    FutureExt, StreamExt,
};
use http::{header, StatusCode};
use http_body_util::BodyExt;
use pyoci_oci::{FinalUrl, HttpClient};
use tower::ServiceExt;

use crate::{fallback::BaseUrl, package::ProjectName};

pub use error::{Oversized, PublicError};
pub use page::parse_project_page;

/// The content type of PEP 691 JSON pages, asked for and required.
pub const PEP_691_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// Redirects followed for a page or a file: enough for an index behind a CDN or a storage
/// host, few enough that a loop ends quickly.
const MAX_REDIRECTS: usize = 5;

/// A project as the public index lists it (PEP 691 JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicProject {
    /// The name as the page gives it (not normalized).
    pub name: String,
    pub files: Vec<PublicFile>,
}

/// One file of a [`PublicProject`], validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicFile {
    /// One path component: no `/` or `\`, no `..`, no control characters, at most 255 bytes.
    pub filename: String,
    /// Absolute http(s), resolved against the page URL, without credentials or fragment.
    pub url: http::Uri,
    /// Lowercase hex, 64 digits (other hashes are ignored).
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// PEP 700 `upload-time`; `None` when absent or unreadable.
    pub upload_time: Option<SystemTime>,
    /// PEP 592: `None` when not yanked, else the reason (`""` when none was given).
    pub yanked: Option<String>,
    pub requires_python: Option<String>,
    /// PEP 658/714: whether the index serves the file's core metadata at `<url>.metadata`.
    pub core_metadata: CoreMetadataHint,
}

/// What a page says about a file's core metadata (PEP 658 `core-metadata`, or PEP 714's
/// legacy `dist-info-metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreMetadataHint {
    /// Not served.
    Absent,
    /// Served, without a sha256 to check it against.
    Present,
    /// Served, with this sha256 (lowercase hex).
    Sha256(String),
}

impl PublicFile {
    /// The file's PEP 658 metadata as a file of its own (`<filename>.metadata` at
    /// `<url>.metadata`, with the page's sha256 for it), for [`PublicIndexClient::file`];
    /// `None` when the page does not say it is served.
    pub fn metadata_file(&self) -> Option<PublicFile> {
        let sha256 = match &self.core_metadata {
            CoreMetadataHint::Absent => return None,
            CoreMetadataHint::Present => None,
            CoreMetadataHint::Sha256(hex) => Some(hex.clone()),
        };
        // `.metadata` goes on the path; a query (a signed URL) stays after it.
        let mut parts = self.url.clone().into_parts();
        let path_and_query = parts.path_and_query.as_ref()?;
        let with_suffix = match path_and_query.query() {
            Some(query) => format!("{}.metadata?{query}", path_and_query.path()),
            None => format!("{}.metadata", path_and_query.path()),
        };
        parts.path_and_query = Some(with_suffix.parse().ok()?);
        Some(PublicFile {
            filename: format!("{}.metadata", self.filename),
            url: http::Uri::from_parts(parts).ok()?,
            sha256,
            size: None,
            upload_time: self.upload_time,
            yanked: None,
            requires_python: None,
            core_metadata: CoreMetadataHint::Absent,
        })
    }
}

/// Bounds on what the public index can make PyOCI read or wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicLimits {
    /// Largest project page read, checked as bytes arrive (16 MiB; PyPI's largest pages
    /// are a few MiB).
    pub max_page_bytes: usize,
    /// Most files a page may list (20 000).
    pub max_files: usize,
    /// Largest file fetched (1 GiB).
    pub max_file_bytes: u64,
    /// For a page, the whole request; for a file, until the answer's head (30 s).
    pub timeout: Duration,
    /// A file's body delivering nothing this long fails (30 s).
    pub idle_timeout: Duration,
    /// Most project pages kept at once (1024); beyond, expired pages go first, then the
    /// oldest ones.
    pub max_cached_pages: usize,
}

impl Default for PublicLimits {
    fn default() -> Self {
        PublicLimits {
            max_page_bytes: 16 << 20,
            max_files: 20_000,
            max_file_bytes: 1 << 30,
            timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            max_cached_pages: 1024,
        }
    }
}

/// A file's answer from the public index: its declared length and its body.
pub struct PublicDownload {
    /// `Content-Length`, when the index sent one.
    pub length: Option<u64>,
    /// The bytes; ends with an error when the file is over its limit or the page's size,
    /// shorter than announced, or stalls.
    pub body: BoxStream<'static, Result<Bytes, PublicError>>,
}

impl fmt::Debug for PublicDownload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicDownload")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// The public index's pages and files. Cloning is cheap and shares the page cache.
#[derive(Clone)]
pub struct PublicIndexClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: BaseUrl,
    http: HttpClient,
    ttl: Duration,
    limits: PublicLimits,
    /// Pages by normalized project name.
    pages: Mutex<HashMap<String, Slot>>,
    next_fetch: AtomicU64,
}

type PageResult = Result<Option<Arc<PublicProject>>, PublicError>;

enum Slot {
    Fetched {
        page: Option<Arc<PublicProject>>,
        at: Instant,
    },
    /// A fetch under way, which every caller for the name awaits.
    Fetching {
        id: u64,
        result: Shared<BoxFuture<'static, PageResult>>,
    },
}

impl fmt::Debug for PublicIndexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicIndexClient")
            .field("base", &self.inner.base)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl PublicIndexClient {
    /// `base` like `https://pypi.org/simple/`; `http` is the outgoing client (it is never
    /// given credentials; at most 5 redirects are followed); `ttl` how long a page is kept.
    pub fn new(base: BaseUrl, http: HttpClient, ttl: Duration, limits: PublicLimits) -> Self {
        PublicIndexClient {
            inner: Arc::new(Inner {
                base,
                http: http.max_redirects(MAX_REDIRECTS),
                ttl,
                limits,
                pages: Mutex::new(HashMap::new()),
                next_fetch: AtomicU64::new(0),
            }),
        }
    }

    /// The project's page: `Ok(None)` when the index says 404 (no such project). Asked at
    /// most once per project per TTL whatever the number of concurrent callers; errors are
    /// not kept (the next call tries again).
    pub async fn project(&self, name: &ProjectName) -> PageResult {
        let normalized = name.normalized();
        let fetch = {
            let mut pages = lock(&self.inner.pages);
            match pages.get(normalized) {
                Some(Slot::Fetched { page, at }) if at.elapsed() < self.inner.ttl => {
                    return Ok(page.clone())
                }
                Some(Slot::Fetching { result, .. }) => result.clone(),
                _ => {
                    let id = self.inner.next_fetch.fetch_add(1, Ordering::Relaxed);
                    let result = self.start_fetch(normalized.to_owned(), id);
                    pages.insert(
                        normalized.to_owned(),
                        Slot::Fetching {
                            id,
                            result: result.clone(),
                        },
                    );
                    evict(
                        &mut pages,
                        self.inner.ttl,
                        self.inner.limits.max_cached_pages,
                    );
                    result
                }
            }
        };
        fetch.await
    }

    /// Fetches a page in a task of its own, which records the outcome when it ends.
    fn start_fetch(&self, name: String, id: u64) -> Shared<BoxFuture<'static, PageResult>> {
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            let result = inner.fetch_page(&name).await;
            let mut pages = lock(&inner.pages);
            let still_ours = matches!(
                pages.get(&name),
                Some(Slot::Fetching { id: current, .. }) if *current == id
            );
            if still_ours {
                match &result {
                    Ok(page) => {
                        pages.insert(
                            name,
                            Slot::Fetched {
                                page: page.clone(),
                                at: Instant::now(),
                            },
                        );
                    }
                    Err(_) => {
                        pages.remove(&name);
                    }
                }
            }
            result
        });
        async move {
            task.await.unwrap_or_else(|join_error| {
                Err(PublicError::Unreachable(format!(
                    "the request for the page stopped: {join_error}"
                )))
            })
        }
        .boxed()
        .shared()
    }

    /// Streams a file from the public index (at most 5 redirects, each through the address
    /// policy). A declared length above the limit, or other than the page's size, is
    /// refused before reading; the body ends with an error when more arrives than either,
    /// less than announced, or nothing for `idle_timeout`.
    pub async fn file(&self, file: &PublicFile) -> Result<PublicDownload, PublicError> {
        let limits = &self.inner.limits;
        let response = self.inner.get(&file.url, None).await?;
        if response.status() != StatusCode::OK {
            return Err(PublicError::Status(response.status().as_u16()));
        }
        // Nothing is asked compressed; a compressed answer would not be the listed bytes.
        if let Some(encoding) = response.headers().get(header::CONTENT_ENCODING) {
            if !encoding.as_bytes().eq_ignore_ascii_case(b"identity") {
                return Err(PublicError::Invalid(format!(
                    "the file `{}` came with Content-Encoding `{}`, not as is",
                    file.filename,
                    String::from_utf8_lossy(encoding.as_bytes())
                )));
            }
        }
        let length = content_length(response.headers())?;
        if let Some(declared) = length {
            if declared > limits.max_file_bytes {
                return Err(PublicError::TooLarge {
                    what: Oversized::File,
                    limit: limits.max_file_bytes,
                });
            }
            if let Some(listed) = file.size.filter(|listed| *listed != declared) {
                return Err(PublicError::SizeMismatch {
                    listed,
                    received: declared,
                });
            }
        }
        let reading = Reading {
            body: response.into_body(),
            received: 0,
            limit: limits.max_file_bytes,
            listed: file.size,
            idle: limits.idle_timeout,
            finished: false,
        };
        Ok(PublicDownload {
            length,
            body: futures_util::stream::unfold(reading, Reading::next).boxed(),
        })
    }
}

impl Inner {
    /// The page of a normalized name; `None` for 404.
    async fn fetch_page(&self, normalized: &str) -> PageResult {
        let url: http::Uri = self.base.join_dir(normalized).parse().map_err(|err| {
            PublicError::Invalid(format!("the page URL for `{normalized}`: {err}"))
        })?;
        let timeout = self.limits.timeout;
        let page = tokio::time::timeout(timeout, self.fetch_page_at(url))
            .await
            .map_err(|_| PublicError::TimedOut(timeout))??;
        if let Some(page) = &page {
            // A page for another project would put its files under this name.
            if pyoci_core::normalize_project_name(&page.name) != normalized {
                return Err(PublicError::Invalid(format!(
                    "asked for `{normalized}`, the page is for `{}`",
                    page.name.escape_debug()
                )));
            }
        }
        Ok(page.map(Arc::new))
    }

    async fn fetch_page_at(&self, url: http::Uri) -> Result<Option<PublicProject>, PublicError> {
        let response = self.get(&url, Some(PEP_691_JSON)).await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            other => return Err(PublicError::Status(other.as_u16())),
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case(PEP_691_JSON) {
            let shown = if content_type.is_empty() {
                "no content type".to_owned()
            } else {
                content_type.chars().take(100).collect()
            };
            return Err(PublicError::NotJson(shown));
        }
        let max = self.limits.max_page_bytes;
        if content_length(response.headers())?.is_some_and(|declared| declared > max as u64) {
            return Err(page_too_large(max));
        }
        // Relative file URLs are relative to where the page came from, after redirects.
        let page_url = response
            .extensions()
            .get::<FinalUrl>()
            .and_then(|FinalUrl(final_url)| final_url.as_str().parse().ok())
            .unwrap_or(url);
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| PublicError::from_body(&err))?;
            if let Ok(data) = frame.into_data() {
                // Checked as bytes arrive: an endless page never fills memory.
                if bytes.len() + data.len() > max {
                    return Err(page_too_large(max));
                }
                bytes.extend_from_slice(&data);
            }
        }
        parse_project_page(&page_url, &bytes, &self.limits).map(Some)
    }

    /// A GET with no credentials, cookies or `Accept-Encoding`, its head within the timeout.
    async fn get(
        &self,
        url: &http::Uri,
        accept: Option<&'static str>,
    ) -> Result<http::Response<reqwest::Body>, PublicError> {
        let mut request = http::Request::get(url.clone());
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        let request = request
            .body(reqwest::Body::from(Bytes::new()))
            .map_err(|err| PublicError::Invalid(format!("the URL `{url}`: {err}")))?;
        let timeout = self.limits.timeout;
        tokio::time::timeout(timeout, self.http.clone().oneshot(request))
            .await
            .map_err(|_| PublicError::TimedOut(timeout))?
            .map_err(|err| PublicError::from_transport(err.as_ref()))
    }
}

fn page_too_large(max: usize) -> PublicError {
    PublicError::TooLarge {
        what: Oversized::Page,
        limit: max as u64,
    }
}

fn content_length(headers: &http::HeaderMap) -> Result<Option<u64>, PublicError> {
    headers
        .get(header::CONTENT_LENGTH)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or_else(|| PublicError::Invalid("a Content-Length that is not a number".into()))
        })
        .transpose()
}

/// A file's body being read, with what bounds it.
struct Reading {
    body: reqwest::Body,
    received: u64,
    limit: u64,
    listed: Option<u64>,
    idle: Duration,
    finished: bool,
}

impl Reading {
    /// The next chunk, or the error that ends the stream.
    async fn next(mut self) -> Option<(Result<Bytes, PublicError>, Reading)> {
        if self.finished {
            return None;
        }
        let idle = self.idle;
        loop {
            let frame = match tokio::time::timeout(idle, self.body.frame()).await {
                Err(_) => return self.fail(PublicError::Stalled(idle)),
                Ok(None) => {
                    self.finished = true;
                    return match self.listed {
                        Some(listed) if listed != self.received => {
                            let received = self.received;
                            self.fail(PublicError::SizeMismatch { listed, received })
                        }
                        _ => None,
                    };
                }
                Ok(Some(Err(err))) => return self.fail(PublicError::from_body(&err)),
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            self.received += data.len() as u64;
            if self.received > self.limit {
                let limit = self.limit;
                return self.fail(PublicError::TooLarge {
                    what: Oversized::File,
                    limit,
                });
            }
            if let Some(listed) = self.listed.filter(|listed| self.received > *listed) {
                let received = self.received;
                return self.fail(PublicError::SizeMismatch { listed, received });
            }
            return Some((Ok(data), self));
        }
    }

    fn fail(mut self, error: PublicError) -> Option<(Result<Bytes, PublicError>, Reading)> {
        self.finished = true;
        Some((Err(error), self))
    }
}

/// Keeps the cache within `max` pages: expired ones go first, then the oldest. Fetches
/// under way stay (their callers wait on them).
fn evict(pages: &mut HashMap<String, Slot>, ttl: Duration, max: usize) {
    if pages.len() <= max {
        return;
    }
    pages.retain(|_, slot| !matches!(slot, Slot::Fetched { at, .. } if at.elapsed() >= ttl));
    while pages.len() > max {
        let oldest = pages
            .iter()
            .filter_map(|(name, slot)| match slot {
                Slot::Fetched { at, .. } => Some((*at, name)),
                Slot::Fetching { .. } => None,
            })
            .min()
            .map(|(_, name)| name.clone());
        match oldest {
            Some(name) => {
                pages.remove(&name);
            }
            None => break,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
