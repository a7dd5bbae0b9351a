//! A local public index for the mirror's tests: a PEP 691 JSON simple index (PEP 700 upload
//! times and sizes, PEP 658 metadata of wheels, PEP 592 yanks) built in memory from
//! distribution files, on a loopback address of the caller's choosing, with a request log
//! and [`StaticFault`]s to switch on while clients use it.
//!
//! Routes: `/simple/` (the project list), `/simple/<project>/` (JSON when the `Accept`
//! header names `application/vnd.pypi.simple.v1+json`, HTML otherwise; other spellings of a
//! name are redirected to the normalized one, as PyPI does), `/files/<filename>` and, for
//! wheels, `/files/<filename>.metadata`.

use std::{
    convert::Infallible,
    io::{Cursor, Read},
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{header, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::{body::Frame, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::AbortHandle};

use crate::{sha256_hex, timefmt};

const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";

type ServedBody = BoxBody<Bytes, Infallible>;

/// What the index does instead of answering properly, until the next
/// [`StaticIndex::set_fault`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticFault {
    /// Answers properly.
    None,
    /// Stops listening and drops open connections: connections are refused.
    Down,
    /// Answers every request with this status.
    Status(u16),
    /// Project pages are HTML, whatever was asked.
    Html,
    /// Project pages are invalid JSON, with the JSON content type.
    Garbage,
    /// Every request is redirected to itself.
    RedirectLoop,
    /// Files are other bytes (as many) than the pages' sha256 says.
    WrongHash,
    /// Files declare their full length, send half, and the connection closes.
    Truncated,
    /// Files declare their full length, send half, then nothing, the connection open.
    Stall,
}

/// One request the index received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticRequest {
    /// The path, e.g. `/simple/demo/` or `/files/demo-1.0.tar.gz`.
    pub path: String,
    /// Whether it carried an `Authorization` header.
    pub authorization: bool,
    /// Whether it carried a `Cookie` header.
    pub cookie: bool,
    /// Its `Accept` header, if any.
    pub accept: Option<String>,
}

/// One distribution as served.
struct ServedFile {
    project: String,
    filename: String,
    bytes: Bytes,
    sha256: String,
    upload_time: SystemTime,
    yanked: Option<String>,
    /// A wheel's `.dist-info/METADATA`.
    metadata: Option<Bytes>,
    requires_python: Option<String>,
}

struct Shared {
    address: SocketAddr,
    files: Vec<ServedFile>,
    fault: Mutex<StaticFault>,
    delay: Mutex<Duration>,
    requests: Mutex<Vec<StaticRequest>>,
    /// The accept loop and the connections, aborted to go [`StaticFault::Down`].
    tasks: Mutex<Vec<AbortHandle>>,
}

/// A running static index; stopped on drop.
pub struct StaticIndex {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl StaticIndex {
    /// Serves `files` (project name, path, upload time, yank reason) on `host` (a loopback
    /// address, e.g. [`PUBLIC_INDEX_HOST`](crate::PUBLIC_INDEX_HOST)) at a free port. Works
    /// from plain and from async tests (it runs on a runtime of its own).
    pub fn start<P: AsRef<Path>>(
        host: Ipv4Addr,
        files: &[(&str, P, SystemTime, Option<&str>)],
    ) -> StaticIndex {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("static-index")
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the static index's runtime: {err}"));
        let listener = std::net::TcpListener::bind((host, 0))
            .unwrap_or_else(|err| panic!("the static index cannot bind {host}: {err}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("a bound listener has no address: {err}"));
        let served = files
            .iter()
            .map(|(project, path, upload_time, yanked)| {
                served_file(project, path.as_ref(), *upload_time, *yanked)
            })
            .collect();
        let shared = Arc::new(Shared {
            address,
            files: served,
            fault: Mutex::new(StaticFault::None),
            delay: Mutex::new(Duration::ZERO),
            requests: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
        });
        let index = StaticIndex {
            shared,
            runtime: Some(runtime),
        };
        index.listen(listener);
        index
    }

    /// `http://HOST:PORT/simple/`.
    pub fn url(&self) -> String {
        format!("{}/simple/", self.base_url())
    }

    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.address)
    }

    /// Where a file is served: `http://HOST:PORT/files/<filename>`.
    pub fn file_url(&self, filename: &str) -> String {
        format!("{}/files/{filename}", self.base_url())
    }

    /// The sha256 the pages list for `filename` (of the file as given, whatever the fault).
    pub fn sha256(&self, filename: &str) -> Option<String> {
        self.shared
            .files
            .iter()
            .find(|file| file.filename == filename)
            .map(|file| file.sha256.clone())
    }

    /// Delays every answer by `delay` from now on (zero: none), as a public index that far
    /// away would.
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.shared.delay) = delay;
    }

    /// Applies `fault` from now on, replacing the last one.
    pub fn set_fault(&self, fault: StaticFault) {
        let was_down = {
            let mut current = lock(&self.shared.fault);
            let was_down = *current == StaticFault::Down;
            *current = fault.clone();
            was_down
        };
        match (was_down, fault == StaticFault::Down) {
            (false, true) => {
                for task in lock(&self.shared.tasks).drain(..) {
                    task.abort();
                }
            }
            (true, false) => {
                let listener = std::net::TcpListener::bind(self.shared.address)
                    .unwrap_or_else(|err| panic!("the static index cannot listen again: {err}"));
                self.listen(listener);
            }
            _ => {}
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<StaticRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The requests whose path contains `part`.
    pub fn requests_for(&self, part: &str) -> Vec<StaticRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.path.contains(part))
            .collect()
    }

    /// Forgets the requests received so far.
    pub fn forget_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    fn listen(&self, listener: std::net::TcpListener) {
        let Some(runtime) = &self.runtime else {
            return;
        };
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|err| panic!("cannot make the listener non-blocking: {err}"));
        let _context = runtime.enter();
        let listener = TcpListener::from_std(listener)
            .unwrap_or_else(|err| panic!("cannot hand the listener to tokio: {err}"));
        let task = runtime.spawn(accept_loop(listener, self.shared.clone()));
        lock(&self.shared.tasks).push(task.abort_handle());
    }
}

impl Drop for StaticIndex {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn served_file(
    project: &str,
    path: &Path,
    upload_time: SystemTime,
    yanked: Option<&str>,
) -> ServedFile {
    let bytes =
        std::fs::read(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let filename = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| panic!("{} has no file name", path.display()));
    let metadata = filename
        .ends_with(".whl")
        .then(|| wheel_metadata(&bytes))
        .flatten();
    let requires_python = metadata.as_deref().and_then(requires_python);
    ServedFile {
        project: normalize(project),
        filename,
        sha256: sha256_hex(&bytes),
        bytes: Bytes::from(bytes),
        upload_time,
        yanked: yanked.map(str::to_owned),
        metadata: metadata.map(Bytes::from),
        requires_python,
    }
}

/// The root `.dist-info/METADATA` of a wheel, if it has one.
fn wheel_metadata(wheel: &[u8]) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).ok()?;
    let name = archive
        .file_names()
        .find(|name| name.matches('/').count() == 1 && name.ends_with(".dist-info/METADATA"))?
        .to_owned();
    let mut metadata = Vec::new();
    archive
        .by_name(&name)
        .ok()?
        .read_to_end(&mut metadata)
        .ok()?;
    Some(metadata)
}

/// `Requires-Python` from core metadata headers.
fn requires_python(metadata: &[u8]) -> Option<String> {
    String::from_utf8_lossy(metadata)
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix("Requires-Python:"))
        .map(|value| value.trim().to_owned())
}

/// PEP 503: lowercase, runs of `-`, `_` and `.` become one `-`.
fn normalize(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normalized.ends_with('-') {
                normalized.push('-');
            }
        } else {
            normalized.push(c.to_ascii_lowercase());
        }
    }
    normalized
}

/// PEP 700's form: `2024-01-02T03:04:05.123456Z`.
fn upload_time(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = timefmt::rfc3339(since_epoch.as_secs());
    let without_zone = seconds.trim_end_matches('Z');
    format!("{without_zone}.{:06}Z", since_epoch.subsec_micros())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let for_service = shared.clone();
        let connection = tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = for_service.clone();
                async move {
                    // As far away as a public index on the internet, when asked to be.
                    let delay = *lock(&shared.delay);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Ok::<_, Infallible>(answer(&shared, &request))
                }
            });
            // Errors here are the faults themselves (or a client going away).
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        let mut tasks = lock(&shared.tasks);
        tasks.retain(|task| !task.is_finished());
        tasks.push(connection.abort_handle());
    }
}

fn answer<B>(shared: &Shared, request: &Request<B>) -> Response<ServedBody> {
    let header = |name: header::HeaderName| {
        request
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let path = request.uri().path().to_owned();
    let accept = header(header::ACCEPT);
    lock(&shared.requests).push(StaticRequest {
        path: path.clone(),
        authorization: header(header::AUTHORIZATION).is_some(),
        cookie: header(header::COOKIE).is_some(),
        accept: accept.clone(),
    });
    let fault = lock(&shared.fault).clone();
    match fault {
        StaticFault::Status(status) => return plain(status, "fault: status"),
        StaticFault::RedirectLoop => return redirect(&path),
        _ => {}
    }
    if path == "/simple/" {
        return project_list(shared, accept.as_deref());
    }
    if let Some(project) = path
        .strip_prefix("/simple/")
        .and_then(|rest| rest.strip_suffix('/'))
    {
        return project_page(shared, project, accept.as_deref(), &fault);
    }
    if let Some(name) = path.strip_prefix("/files/") {
        let (filename, metadata) = match name.strip_suffix(".metadata") {
            Some(filename) => (filename, true),
            None => (name, false),
        };
        let file = shared.files.iter().find(|file| file.filename == filename);
        let bytes = match file {
            Some(file) if metadata => file.metadata.clone(),
            Some(file) => Some(file.bytes.clone()),
            None => None,
        };
        return match bytes {
            Some(bytes) => file_answer(bytes, &fault),
            None => plain(404, "no such file"),
        };
    }
    plain(404, "not found")
}

fn plain(status: u16, text: &'static str) -> Response<ServedBody> {
    respond(status, "text/plain", Bytes::from_static(text.as_bytes()))
}

fn respond(status: u16, content_type: &str, body: Bytes) -> Response<ServedBody> {
    let mut response = Response::new(Full::new(body).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn redirect(location: &str) -> Response<ServedBody> {
    let mut response = plain(302, "moved");
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// JSON when asked for (PEP 691), HTML otherwise.
fn wants_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| accept.contains(JSON_TYPE))
}

fn html_type(accept: Option<&str>) -> &'static str {
    match accept {
        Some(accept) if accept.contains(HTML_TYPE) => HTML_TYPE,
        _ => "text/html",
    }
}

fn project_list(shared: &Shared, accept: Option<&str>) -> Response<ServedBody> {
    let mut names: Vec<&str> = shared.files.iter().map(|f| f.project.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if wants_json(accept) {
        let projects: Vec<_> = names
            .iter()
            .map(|name| serde_json::json!({ "name": name }))
            .collect();
        let body = serde_json::json!({"meta": {"api-version": "1.1"}, "projects": projects});
        return respond(200, JSON_TYPE, Bytes::from(body.to_string()));
    }
    let links: String = names
        .iter()
        .map(|name| format!("<a href=\"/simple/{name}/\">{name}</a>\n"))
        .collect();
    let page = format!("<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n");
    respond(200, html_type(accept), Bytes::from(page))
}

fn project_page(
    shared: &Shared,
    project: &str,
    accept: Option<&str>,
    fault: &StaticFault,
) -> Response<ServedBody> {
    let normalized = normalize(project);
    if normalized != project {
        return redirect(&format!("/simple/{normalized}/"));
    }
    let files: Vec<&ServedFile> = shared
        .files
        .iter()
        .filter(|file| file.project == normalized)
        .collect();
    if files.is_empty() {
        return plain(404, "no such project");
    }
    if *fault == StaticFault::Garbage {
        return respond(
            200,
            JSON_TYPE,
            Bytes::from_static(b"{\"meta\": {\"api-version\": \"1.1\"}, \"files\": [{,,"),
        );
    }
    let base = format!("http://{}", shared.address);
    if wants_json(accept) && *fault != StaticFault::Html {
        return respond(
            200,
            JSON_TYPE,
            Bytes::from(json_page(&base, project, &files)),
        );
    }
    respond(
        200,
        html_type(accept),
        Bytes::from(html_page(&base, project, &files)),
    )
}

fn json_page(base: &str, project: &str, files: &[&ServedFile]) -> String {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .map(|file| {
            let mut entry = serde_json::json!({
                "filename": file.filename,
                "url": format!("{base}/files/{}", file.filename),
                "hashes": { "sha256": file.sha256 },
                "size": file.bytes.len(),
                "upload-time": upload_time(file.upload_time),
                "yanked": match &file.yanked {
                    Some(reason) if !reason.is_empty() => serde_json::Value::from(reason.as_str()),
                    Some(_) => true.into(),
                    None => false.into(),
                },
            });
            if let Some(metadata) = &file.metadata {
                let hashes = serde_json::json!({ "sha256": sha256_hex(metadata) });
                entry["core-metadata"] = hashes.clone();
                entry["dist-info-metadata"] = hashes;
            }
            if let Some(requires) = &file.requires_python {
                entry["requires-python"] = requires.as_str().into();
            }
            entry
        })
        .collect();
    let mut versions: Vec<String> = files
        .iter()
        .filter_map(|file| version_of(&file.filename))
        .collect();
    versions.sort();
    versions.dedup();
    serde_json::json!({
        "meta": {"api-version": "1.1"},
        "name": project,
        "versions": versions,
        "files": entries,
    })
    .to_string()
}

/// The version in a wheel or sdist filename (`name-version-...` / `name-version.tar.gz`).
fn version_of(filename: &str) -> Option<String> {
    let stem = filename
        .strip_suffix(".whl")
        .or_else(|| filename.strip_suffix(".tar.gz"))
        .or_else(|| filename.strip_suffix(".zip"))?;
    stem.split('-').nth(1).map(str::to_owned)
}

fn html_page(base: &str, project: &str, files: &[&ServedFile]) -> String {
    let links: String = files
        .iter()
        .map(|file| {
            let mut attributes = String::new();
            if let Some(requires) = &file.requires_python {
                attributes.push_str(&format!(
                    " data-requires-python=\"{}\"",
                    escape_html(requires)
                ));
            }
            if let Some(metadata) = &file.metadata {
                let hash = sha256_hex(metadata);
                attributes.push_str(&format!(
                    " data-core-metadata=\"sha256={hash}\" data-dist-info-metadata=\"sha256={hash}\""
                ));
            }
            if let Some(reason) = &file.yanked {
                attributes.push_str(&format!(" data-yanked=\"{}\"", escape_html(reason)));
            }
            format!(
                "<a href=\"{base}/files/{name}#sha256={hash}\"{attributes}>{name}</a><br/>\n",
                name = escape_html(&file.filename),
                hash = file.sha256,
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\">\
         <title>Links for {project}</title></head><body>\n<h1>Links for {project}</h1>\n\
         {links}</body></html>\n"
    )
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A file's answer under `fault`.
fn file_answer(bytes: Bytes, fault: &StaticFault) -> Response<ServedBody> {
    let length = bytes.len();
    let half = bytes.slice(..length / 2);
    let first = stream::iter([Ok::<_, Infallible>(Frame::data(half))]);
    let body = match fault {
        StaticFault::WrongHash => {
            let other: Vec<u8> = bytes.iter().map(|byte| byte ^ 0x5a).collect();
            Full::new(Bytes::from(other)).boxed()
        }
        StaticFault::Truncated => {
            // A pause before the close, so the head and the half are on the wire first.
            let pause = stream::once(tokio::time::sleep(Duration::from_millis(100)))
                .filter_map(|()| async { None });
            BodyExt::boxed(StreamBody::new(first.chain(pause)))
        }
        StaticFault::Stall => BodyExt::boxed(StreamBody::new(first.chain(stream::pending()))),
        _ => Full::new(bytes).boxed(),
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, length.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::{wheel_bytes, HttpClient, PUBLIC_INDEX_HOST};

    struct Fixture {
        _dir: tempfile::TempDir,
        index: StaticIndex,
        wheel: Vec<u8>,
        sdist: Vec<u8>,
    }

    const UPLOADED: u64 = 1_704_164_645;

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let wheel = wheel_bytes("Demo.Project", "1.0", b"payload");
        let sdist = b"not really a tarball, but bytes to serve".to_vec();
        let wheel_path = dir.path().join("demo_project-1.0-py3-none-any.whl");
        let sdist_path = dir.path().join("demo_project-0.9.tar.gz");
        std::fs::write(&wheel_path, &wheel).unwrap();
        std::fs::write(&sdist_path, &sdist).unwrap();
        let uploaded = UNIX_EPOCH + Duration::new(UPLOADED, 123_456_000);
        let index = StaticIndex::start(
            PUBLIC_INDEX_HOST,
            &[
                ("Demo.Project", wheel_path.as_path(), uploaded, None),
                (
                    "demo-project",
                    sdist_path.as_path(),
                    uploaded,
                    Some("broken"),
                ),
            ],
        );
        Fixture {
            _dir: dir,
            index,
            wheel,
            sdist,
        }
    }

    fn json_page(index: &StaticIndex, project: &str) -> crate::HttpResponse {
        HttpClient::new().get_with(
            &format!("{}{project}/", index.url()),
            &[("Accept", JSON_TYPE)],
        )
    }

    #[test]
    fn serves_a_pep_691_index_with_upload_times_and_metadata() {
        let Fixture {
            index,
            wheel,
            sdist,
            ..
        } = fixture();
        assert!(index.url().starts_with("http://127.0.0.4:"));
        let page = json_page(&index, "demo-project");
        assert_eq!(page.status, 200);
        assert_eq!(page.header("content-type"), Some(JSON_TYPE));
        let page = page.json();
        assert_eq!(page["meta"]["api-version"], "1.1");
        assert_eq!(page["name"], "demo-project");
        assert_eq!(page["versions"], serde_json::json!(["0.9", "1.0"]));
        let files = page["files"].as_array().unwrap();
        assert_eq!(files.len(), 2);
        let (whl, tar) = (&files[0], &files[1]);
        assert_eq!(whl["filename"], "demo_project-1.0-py3-none-any.whl");
        assert_eq!(whl["size"], wheel.len());
        assert_eq!(whl["hashes"]["sha256"], sha256_hex(&wheel));
        assert_eq!(whl["upload-time"], "2024-01-02T03:04:05.123456Z");
        assert_eq!(whl["yanked"], false);
        assert_eq!(tar["yanked"], "broken");
        assert!(tar.get("core-metadata").is_none());

        let http = HttpClient::new();
        let served = http.get(whl["url"].as_str().unwrap());
        assert_eq!(served.body, wheel);
        assert_eq!(http.get(tar["url"].as_str().unwrap()).body, sdist);
        let metadata = http.get(&format!("{}.metadata", whl["url"].as_str().unwrap()));
        assert_eq!(metadata.status, 200);
        assert!(
            metadata.text().contains("Name: Demo.Project"),
            "{}",
            metadata.text()
        );
        assert_eq!(
            whl["core-metadata"]["sha256"],
            sha256_hex(&metadata.body),
            "the listed hash is the served metadata's"
        );
        assert_eq!(
            index.sha256("demo_project-1.0-py3-none-any.whl"),
            Some(sha256_hex(&wheel))
        );

        // Not a project, another spelling, the list, HTML.
        assert_eq!(json_page(&index, "nothing").status, 404);
        let respelled = json_page(&index, "Demo_Project");
        assert_eq!(respelled.status, 302);
        assert_eq!(respelled.header("location"), Some("/simple/demo-project/"));
        let list = http.get_with(&index.url(), &[("Accept", JSON_TYPE)]).json();
        assert_eq!(list["projects"][0]["name"], "demo-project");
        let html = http.get_with(
            &format!("{}demo-project/", index.url()),
            &[("Accept", "text/html")],
        );
        assert_eq!(html.header("content-type"), Some("text/html"));
        let html = html.text();
        assert!(
            html.contains(&format!("#sha256={}", sha256_hex(&wheel))),
            "{html}"
        );
        assert!(html.contains("data-yanked=\"broken\""), "{html}");
        assert!(html.contains("data-core-metadata=\"sha256="), "{html}");

        let requests = index.requests();
        assert_eq!(requests[0].path, "/simple/demo-project/");
        assert_eq!(requests[0].accept.as_deref(), Some(JSON_TYPE));
        assert!(requests.iter().all(|r| !r.authorization && !r.cookie));
        http.get_with(&index.url(), &[("Authorization", "Basic eDp5")]);
        assert!(index.requests().last().unwrap().authorization);
        assert_eq!(index.requests_for("/files/").len(), 3);
        index.forget_requests();
        assert!(index.requests().is_empty());
    }

    #[test]
    fn faults_on_pages() {
        let Fixture { index, .. } = fixture();
        let http = HttpClient::new();
        let page_url = format!("{}demo-project/", index.url());

        index.set_fault(StaticFault::Status(503));
        assert_eq!(json_page(&index, "demo-project").status, 503);

        index.set_fault(StaticFault::Html);
        let html = json_page(&index, "demo-project");
        assert_eq!(html.header("content-type"), Some("text/html"));
        assert!(html.text().starts_with("<!DOCTYPE html>"));

        index.set_fault(StaticFault::Garbage);
        let garbage = json_page(&index, "demo-project");
        assert_eq!(garbage.header("content-type"), Some(JSON_TYPE));
        assert!(serde_json::from_slice::<serde_json::Value>(&garbage.body).is_err());

        index.set_fault(StaticFault::RedirectLoop);
        let looping = http.get(&page_url);
        assert_eq!(looping.status, 302);
        assert_eq!(looping.header("location"), Some("/simple/demo-project/"));

        index.set_fault(StaticFault::Down);
        let refused = http.try_get(&page_url).unwrap_err();
        assert!(refused.contains("got no answer"), "{refused}");
        index.set_fault(StaticFault::None);
        assert_eq!(json_page(&index, "demo-project").status, 200);
    }

    #[test]
    fn faults_on_files() {
        let Fixture { index, wheel, .. } = fixture();
        let http = HttpClient::new();
        let url = index.file_url("demo_project-1.0-py3-none-any.whl");

        index.set_fault(StaticFault::WrongHash);
        let other = http.get(&url);
        assert_eq!(other.body.len(), wheel.len());
        assert_ne!(sha256_hex(&other.body), sha256_hex(&wheel));

        index.set_fault(StaticFault::Truncated);
        let truncated = http.try_get(&url).unwrap_err();
        assert!(
            truncated.contains(&format!("broke off after {} bytes", wheel.len() / 2)),
            "{truncated}"
        );

        // Half arrives, then nothing: read with a deadline on a raw connection.
        index.set_fault(StaticFault::Stall);
        let address = index.base_url().trim_start_matches("http://").to_owned();
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        write!(
            stream,
            "GET /files/demo_project-1.0-py3-none-any.whl HTTP/1.1\r\nHost: {address}\r\n\r\n"
        )
        .unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        let stalled = loop {
            match stream.read(&mut buffer) {
                Ok(0) => break false,
                Ok(count) => received.extend_from_slice(&buffer[..count]),
                Err(_) => break true,
            }
        };
        assert!(stalled, "the connection stays open, silent");
        let head_end = received
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap();
        let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
        assert!(
            head.contains(&format!("content-length: {}", wheel.len())),
            "{head}"
        );
        assert_eq!(received.len() - head_end - 4, wheel.len() / 2);

        index.set_fault(StaticFault::None);
        assert_eq!(http.get(&url).body, wheel);
    }
}
