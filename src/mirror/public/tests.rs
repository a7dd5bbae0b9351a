//! The client against a tiny in-test index on loopback: what it asks, what it keeps, and
//! how each misbehaviour of the index comes back.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{atomic::AtomicUsize, Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use http::{Request, Response};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::{body::Frame, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use pyoci_oci::AddressPolicy;
use tokio::net::TcpListener;

use super::*;

type TestBody = BoxBody<Bytes, Infallible>;
type Handler = Arc<dyn Fn(&Seen) -> Response<TestBody> + Send + Sync>;

/// One request the test index received.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    accept: Option<String>,
    authorization: bool,
    cookie: bool,
    /// How many requests came before this one.
    number: usize,
}

struct TestIndex {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestIndex {
    /// Answers every request with `handler`, after `delay`.
    async fn start(delay: Duration, handler: Handler) -> TestIndex {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::new(AtomicUsize::new(0));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (log, handler, counter) = (log.clone(), handler.clone(), counter.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let header = |name| {
                            request
                                .headers()
                                .get(name)
                                .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
                        };
                        let seen = Seen {
                            path: request.uri().path().to_owned(),
                            accept: header(header::ACCEPT),
                            authorization: header(header::AUTHORIZATION).is_some(),
                            cookie: header(header::COOKIE).is_some(),
                            number: counter.fetch_add(1, Ordering::SeqCst),
                        };
                        log.lock().unwrap().push(seen.clone());
                        let handler = handler.clone();
                        async move {
                            tokio::time::sleep(delay).await;
                            Ok::<_, Infallible>(handler(&seen))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestIndex { address, seen }
    }

    fn base(&self) -> BaseUrl {
        format!("http://{}/simple/", self.address).parse().unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// A client that may reach this index (its origin is trusted) and nothing else private.
    fn client(&self, ttl: Duration, limits: PublicLimits) -> PublicIndexClient {
        let policy = AddressPolicy::public_only().trust_origin(
            "http",
            &self.address.ip().to_string(),
            Some(self.address.port()),
        );
        let http = HttpClient::with_address_policy(reqwest::Client::builder(), policy).unwrap();
        PublicIndexClient::new(self.base(), http, ttl, limits)
    }
}

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<TestBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

fn json(body: impl Into<Bytes>) -> Response<TestBody> {
    answer(200, PEP_691_JSON, body)
}

fn page(name: &str, files: &[String]) -> String {
    format!(
        r#"{{"meta":{{"api-version":"1.1"}},"name":"{name}","files":[{}]}}"#,
        files.join(",")
    )
}

fn file_entry(filename: &str, url: &str, size: Option<u64>) -> String {
    let size = size
        .map(|size| format!(r#","size":{size}"#))
        .unwrap_or_default();
    format!(r#"{{"filename":"{filename}","url":"{url}","hashes":{{}}{size}}}"#)
}

fn demo() -> ProjectName {
    ProjectName::parse("Demo_Project").unwrap()
}

fn handler(f: impl Fn(&Seen) -> Response<TestBody> + Send + Sync + 'static) -> Handler {
    Arc::new(f)
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn asks_for_json_by_normalized_name_without_credentials() {
    let index = TestIndex::start(
        Duration::ZERO,
        handler(|_| {
            json(page(
                "demo-project",
                &[file_entry("demo_project-1.0.tar.gz", "x", None)],
            ))
        }),
    )
    .await;
    let client = index.client(HOUR, PublicLimits::default());
    let project = client.project(&demo()).await.unwrap().unwrap();
    assert_eq!(project.files[0].filename, "demo_project-1.0.tar.gz");
    assert_eq!(
        project.files[0].url,
        index.url("/simple/demo-project/x").as_str()
    );
    let seen = index.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/simple/demo-project/");
    assert_eq!(seen[0].accept.as_deref(), Some(PEP_691_JSON));
    assert!(!seen[0].authorization && !seen[0].cookie);
}

#[tokio::test]
async fn concurrent_callers_share_one_request_and_the_page_is_kept() {
    let index = TestIndex::start(
        Duration::from_millis(300),
        handler(|_| json(page("demo-project", &[]))),
    )
    .await;
    let client = index.client(HOUR, PublicLimits::default());
    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.project(&demo()).await })
    });
    for call in futures_util::future::join_all(calls).await {
        assert!(call.unwrap().unwrap().is_some());
    }
    assert_eq!(index.seen().len(), 1);
    client.project(&demo()).await.unwrap();
    assert_eq!(index.seen().len(), 1, "kept for the TTL");
    // Another spelling of the same name is the same page.
    client
        .project(&ProjectName::parse("demo.project").unwrap())
        .await
        .unwrap();
    assert_eq!(index.seen().len(), 1);
}

#[tokio::test]
async fn pages_are_asked_again_after_the_ttl() {
    let index =
        TestIndex::start(Duration::ZERO, handler(|_| json(page("demo-project", &[])))).await;
    let client = index.client(Duration::from_millis(100), PublicLimits::default());
    client.project(&demo()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    client.project(&demo()).await.unwrap();
    assert_eq!(index.seen().len(), 2);
}

#[tokio::test]
async fn not_found_is_none_and_kept() {
    let index = TestIndex::start(Duration::ZERO, handler(|_| answer(404, "text/html", "no"))).await;
    let client = index.client(HOUR, PublicLimits::default());
    assert_eq!(client.project(&demo()).await.unwrap(), None);
    assert_eq!(client.project(&demo()).await.unwrap(), None);
    assert_eq!(index.seen().len(), 1);
}

#[tokio::test]
async fn errors_are_not_kept() {
    let index = TestIndex::start(
        Duration::from_millis(100),
        handler(|seen| match seen.number {
            0 => answer(503, "text/plain", "down"),
            _ => json(page("demo-project", &[])),
        }),
    )
    .await;
    let client = index.client(HOUR, PublicLimits::default());
    // Callers waiting on the failing request share its error: one request, not twenty.
    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.project(&demo()).await })
    });
    for call in futures_util::future::join_all(calls).await {
        let error = call.unwrap().unwrap_err();
        assert_eq!(error, PublicError::Status(503));
        assert!(error.index_unavailable());
        assert!(error.to_string().contains("HTTP 503"), "{error}");
    }
    assert_eq!(index.seen().len(), 1);
    assert!(client.project(&demo()).await.unwrap().is_some());
    assert_eq!(index.seen().len(), 2);
}

#[tokio::test]
async fn pages_of_another_kind_are_clear_errors() {
    let index = TestIndex::start(
        Duration::ZERO,
        handler(|seen| match seen.path.as_str() {
            "/simple/html/" => answer(200, "text/html; charset=utf-8", "<html></html>"),
            "/simple/untyped/" => Response::new(Full::new(Bytes::from("{}")).boxed()),
            "/simple/garbage/" => json("{\"meta\": nonsense"),
            "/simple/other/" => json(page("someone-else", &[])),
            "/simple/loop/" => Response::builder()
                .status(302)
                .header(header::LOCATION, "/simple/loop/")
                .body(Full::new(Bytes::new()).boxed())
                .unwrap(),
            "/simple/forbidden/" => answer(403, "text/plain", "no"),
            _ => answer(500, "text/plain", "?"),
        }),
    )
    .await;
    let client = index.client(HOUR, PublicLimits::default());
    let error = |name: &'static str| {
        let client = client.clone();
        async move {
            client
                .project(&ProjectName::parse(name).unwrap())
                .await
                .unwrap_err()
        }
    };
    let html = error("html").await;
    assert_eq!(
        html,
        PublicError::NotJson("text/html; charset=utf-8".into())
    );
    assert!(
        html.to_string().contains("instead of a PEP 691 JSON page"),
        "{html}"
    );
    assert_eq!(
        error("untyped").await,
        PublicError::NotJson("no content type".into())
    );
    assert!(matches!(error("garbage").await, PublicError::Invalid(_)));
    let other = error("other").await;
    assert!(
        other.to_string().contains("the page is for `someone-else`"),
        "{other}"
    );
    let looping = error("loop").await;
    assert_eq!(looping, PublicError::RedirectLoop { limit: 5 });
    assert!(looping.to_string().contains("redirect loop"), "{looping}");
    assert_eq!(
        index
            .seen()
            .iter()
            .filter(|s| s.path == "/simple/loop/")
            .count(),
        6,
        "the request and 5 redirects"
    );
    let forbidden = error("forbidden").await;
    assert!(!forbidden.index_unavailable());
    assert!(
        forbidden.to_string().contains("no credentials"),
        "{forbidden}"
    );
}

#[tokio::test]
async fn large_pages_are_refused_as_bytes_arrive() {
    let index = TestIndex::start(
        Duration::ZERO,
        handler(|seen| match seen.path.as_str() {
            // No Content-Length, and no end: only counting what arrives can stop it.
            "/simple/endless/" => Response::builder()
                .header(header::CONTENT_TYPE, PEP_691_JSON)
                .body(BodyExt::boxed(StreamBody::new(stream::repeat_with(|| {
                    Ok(Frame::data(Bytes::from(vec![b' '; 4096])))
                }))))
                .unwrap(),
            "/simple/declared/" => json(vec![b' '; 2048]),
            _ => json(page(
                "many",
                &(0..11)
                    .map(|n| file_entry(&format!("many-{n}.tar.gz"), "x", None))
                    .collect::<Vec<_>>(),
            )),
        }),
    )
    .await;
    let limits = PublicLimits {
        max_page_bytes: 1024 * 1024,
        max_files: 10,
        ..PublicLimits::default()
    };
    let client = index.client(HOUR, limits);
    let project = |name: &'static str| {
        let client = client.clone();
        async move { client.project(&ProjectName::parse(name).unwrap()).await }
    };
    let page_limit = PublicError::TooLarge {
        what: Oversized::Page,
        limit: 1024 * 1024,
    };
    assert_eq!(project("endless").await.unwrap_err(), page_limit);
    let small = index.client(
        HOUR,
        PublicLimits {
            max_page_bytes: 1024,
            ..PublicLimits::default()
        },
    );
    assert_eq!(
        small
            .project(&ProjectName::parse("declared").unwrap())
            .await
            .unwrap_err(),
        PublicError::TooLarge {
            what: Oversized::Page,
            limit: 1024
        }
    );
    assert_eq!(
        project("many").await.unwrap_err(),
        PublicError::TooLarge {
            what: Oversized::Files,
            limit: 10
        }
    );
}

#[tokio::test]
async fn a_silent_index_times_out() {
    let index = TestIndex::start(Duration::from_secs(5), handler(|_| json("{}"))).await;
    let client = index.client(
        HOUR,
        PublicLimits {
            timeout: Duration::from_millis(200),
            ..PublicLimits::default()
        },
    );
    let error = client.project(&demo()).await.unwrap_err();
    assert_eq!(error, PublicError::TimedOut(Duration::from_millis(200)));
    assert!(error.index_unavailable());
}

#[tokio::test]
async fn an_index_that_is_not_there_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let http =
        HttpClient::with_address_policy(reqwest::Client::builder(), AddressPolicy::allow_all())
            .unwrap();
    let client = PublicIndexClient::new(
        format!("http://{address}/simple/").parse().unwrap(),
        http,
        HOUR,
        PublicLimits::default(),
    );
    let error = client.project(&demo()).await.unwrap_err();
    assert!(matches!(error, PublicError::Unreachable(_)), "{error}");
    assert!(error.index_unavailable());
}

/// A page naming a private address, or redirecting there, never gets PyOCI to connect.
#[tokio::test]
async fn file_urls_go_through_the_address_policy() {
    let internal = TestIndex::start(
        Duration::ZERO,
        handler(|_| answer(200, "text/plain", "secret")),
    )
    .await;
    let internal_url = internal.url("/admin/demo-1.0.tar.gz");
    let index = TestIndex::start(
        Duration::ZERO,
        handler(move |seen| match seen.path.as_str() {
            "/files/hop.tar.gz" => Response::builder()
                .status(302)
                .header(header::LOCATION, internal_url.as_str())
                .body(Full::new(Bytes::new()).boxed())
                .unwrap(),
            _ => answer(404, "text/plain", ""),
        }),
    )
    .await;
    let client = index.client(HOUR, PublicLimits::default());
    let direct = public_file(&internal.url("/admin/demo-1.0.tar.gz"), None);
    let error = client.file(&direct).await.unwrap_err();
    assert!(matches!(error, PublicError::Refused { .. }), "{error}");
    assert!(error.to_string().contains("private address"), "{error}");
    let redirected = public_file(&index.url("/files/hop.tar.gz"), None);
    let error = client.file(&redirected).await.unwrap_err();
    assert!(matches!(error, PublicError::Refused { .. }), "{error}");
    assert!(internal.seen().is_empty());
}

fn public_file(url: &str, size: Option<u64>) -> PublicFile {
    PublicFile {
        filename: "demo-1.0.tar.gz".into(),
        url: url.parse().unwrap(),
        sha256: None,
        size,
        upload_time: None,
        yanked: None,
        requires_python: None,
        core_metadata: CoreMetadataHint::Absent,
    }
}

async fn collect(download: PublicDownload) -> Result<Vec<u8>, PublicError> {
    download
        .body
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
}

/// `Content-Length: 100`, 50 bytes, then the end (`truncated`) or nothing more (`stalled`).
fn half_of_100(ends: bool) -> Response<TestBody> {
    let first = stream::iter([Ok(Frame::data(Bytes::from(vec![b'x'; 50])))]);
    let body = if ends {
        // A pause first, so the head and the half are on the wire before the close.
        let pause = stream::once(tokio::time::sleep(Duration::from_millis(100)))
            .filter_map(|()| async { None });
        BodyExt::boxed(StreamBody::new(first.chain(pause)))
    } else {
        BodyExt::boxed(StreamBody::new(first.chain(stream::pending())))
    };
    Response::builder()
        .header(header::CONTENT_LENGTH, "100")
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn files_stream_within_their_limits() {
    let index = TestIndex::start(
        Duration::ZERO,
        handler(|seen| match seen.path.as_str() {
            "/files/ok.tar.gz" => answer(200, "application/octet-stream", vec![7u8; 100]),
            "/files/moved.tar.gz" => Response::builder()
                .status(301)
                .header(header::LOCATION, "/files/ok.tar.gz")
                .body(Full::new(Bytes::new()).boxed())
                .unwrap(),
            "/files/chunked.tar.gz" => Response::new(BodyExt::boxed(StreamBody::new(
                stream::repeat_with(|| Ok(Frame::data(Bytes::from(vec![1u8; 100])))).take(30),
            ))),
            "/files/truncated.tar.gz" => half_of_100(true),
            "/files/stalled.tar.gz" => half_of_100(false),
            _ => answer(404, "text/plain", ""),
        }),
    )
    .await;
    let limits = PublicLimits {
        max_file_bytes: 1000,
        idle_timeout: Duration::from_millis(300),
        ..PublicLimits::default()
    };
    let client = index.client(HOUR, limits);
    let fetch = |path: &'static str, size: Option<u64>| {
        let client = client.clone();
        let file = public_file(&index.url(path), size);
        async move { client.file(&file).await }
    };

    let download = fetch("/files/ok.tar.gz", Some(100)).await.unwrap();
    assert_eq!(download.length, Some(100));
    assert_eq!(collect(download).await.unwrap(), vec![7u8; 100]);
    let moved = fetch("/files/moved.tar.gz", None).await.unwrap();
    assert_eq!(collect(moved).await.unwrap().len(), 100);

    assert_eq!(
        fetch("/files/missing.tar.gz", None).await.unwrap_err(),
        PublicError::Status(404)
    );
    assert_eq!(
        fetch("/files/ok.tar.gz", Some(99)).await.unwrap_err(),
        PublicError::SizeMismatch {
            listed: 99,
            received: 100
        }
    );
    let small = index.client(
        HOUR,
        PublicLimits {
            max_file_bytes: 99,
            ..PublicLimits::default()
        },
    );
    assert_eq!(
        small
            .file(&public_file(&index.url("/files/ok.tar.gz"), None))
            .await
            .unwrap_err(),
        PublicError::TooLarge {
            what: Oversized::File,
            limit: 99
        },
        "refused before reading"
    );

    // Without a length, the limit is counted as the bytes arrive.
    let chunked = fetch("/files/chunked.tar.gz", None).await.unwrap();
    assert_eq!(chunked.length, None);
    assert_eq!(
        collect(chunked).await.unwrap_err(),
        PublicError::TooLarge {
            what: Oversized::File,
            limit: 1000
        }
    );
    let listed_smaller = fetch("/files/chunked.tar.gz", Some(150)).await.unwrap();
    assert_eq!(
        collect(listed_smaller).await.unwrap_err(),
        PublicError::SizeMismatch {
            listed: 150,
            received: 200
        }
    );

    let truncated = fetch("/files/truncated.tar.gz", None).await.unwrap();
    let error = collect(truncated).await.unwrap_err();
    assert!(matches!(error, PublicError::Interrupted(_)), "{error}");

    let stalled = fetch("/files/stalled.tar.gz", None).await.unwrap();
    let started = Instant::now();
    assert_eq!(
        collect(stalled).await.unwrap_err(),
        PublicError::Stalled(Duration::from_millis(300))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(index
        .seen()
        .iter()
        .all(|seen| !seen.authorization && !seen.cookie));
}

/// Relative file URLs are relative to the page that answered, after its redirects.
#[tokio::test]
async fn relative_urls_follow_the_page_redirect() {
    let index = TestIndex::start(
        Duration::ZERO,
        handler(|seen| match seen.path.as_str() {
            "/simple/demo-project/" => Response::builder()
                .status(301)
                .header(header::LOCATION, "/elsewhere/pages/demo-project/")
                .body(Full::new(Bytes::new()).boxed())
                .unwrap(),
            _ => json(page(
                "Demo-Project",
                &[file_entry(
                    "demo_project-1.0.tar.gz",
                    "../f/demo.tar.gz",
                    None,
                )],
            )),
        }),
    )
    .await;
    let project = index
        .client(HOUR, PublicLimits::default())
        .project(&demo())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        project.files[0].url,
        index.url("/elsewhere/pages/f/demo.tar.gz").as_str()
    );
}

#[test]
fn metadata_files_sit_beside_their_file() {
    let mut wheel = public_file(
        "https://files.test/a/demo-1.0-py3-none-any.whl?sig=x",
        Some(5),
    );
    wheel.filename = "demo-1.0-py3-none-any.whl".into();
    assert_eq!(wheel.metadata_file(), None);
    wheel.core_metadata = CoreMetadataHint::Sha256("ab".repeat(32));
    let metadata = wheel.metadata_file().unwrap();
    assert_eq!(metadata.filename, "demo-1.0-py3-none-any.whl.metadata");
    assert_eq!(
        metadata.url,
        "https://files.test/a/demo-1.0-py3-none-any.whl.metadata?sig=x"
    );
    assert_eq!(metadata.sha256, Some("ab".repeat(32)));
    assert_eq!(metadata.size, None);
    wheel.core_metadata = CoreMetadataHint::Present;
    assert_eq!(wheel.metadata_file().unwrap().sha256, None);
}

#[test]
fn the_cache_stays_bounded() {
    let mut pages = HashMap::new();
    let now = Instant::now();
    for n in 0..5u64 {
        pages.insert(
            format!("p{n}"),
            Slot::Fetched {
                page: None,
                at: now - Duration::from_secs(10 - n),
            },
        );
    }
    evict(&mut pages, Duration::from_secs(100), 3);
    let mut left: Vec<_> = pages.keys().cloned().collect();
    left.sort();
    assert_eq!(left, ["p2", "p3", "p4"], "the oldest go first");
    evict(&mut pages, Duration::from_secs(8), 1);
    assert_eq!(pages.keys().collect::<Vec<_>>(), ["p4"]);
}

/// The client against test-support's static index (another loopback host), fault by fault.
#[tokio::test]
async fn against_the_static_index() {
    use pyoci_test_support::{wheel_bytes, StaticFault, StaticIndex, PUBLIC_INDEX_HOST};

    let dir = tempfile::tempdir().unwrap();
    let wheel = wheel_bytes("demo-project", "1.0", &[3u8; 4096]);
    let path = dir.path().join("demo_project-1.0-py3-none-any.whl");
    std::fs::write(&path, &wheel).unwrap();
    let uploaded = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645);
    let index = StaticIndex::start(
        PUBLIC_INDEX_HOST,
        &[("demo-project", &path, uploaded, None)],
    );
    let origin: http::Uri = index.url().parse().unwrap();
    let policy = AddressPolicy::public_only().trust_origin(
        "http",
        origin.host().unwrap(),
        origin.port_u16(),
    );
    let http = HttpClient::with_address_policy(reqwest::Client::builder(), policy).unwrap();
    let limits = PublicLimits {
        idle_timeout: Duration::from_millis(300),
        ..PublicLimits::default()
    };
    let client = PublicIndexClient::new(index.url().parse().unwrap(), http, Duration::ZERO, limits);

    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.project(&demo()).await })
    });
    let pages: Vec<_> = futures_util::future::join_all(calls).await;
    assert!(pages.iter().all(|page| page.as_ref().unwrap().is_ok()));
    let project = pages[0]
        .as_ref()
        .unwrap()
        .as_ref()
        .unwrap()
        .clone()
        .unwrap();
    let file = &project.files[0];
    assert_eq!(file.upload_time, Some(uploaded));
    assert_eq!(file.size, Some(wheel.len() as u64));
    assert_eq!(file.sha256.as_deref(), Some(sha256(&wheel).as_str()));
    let metadata = file.metadata_file().unwrap();
    let metadata_bytes = collect(client.file(&metadata).await.unwrap())
        .await
        .unwrap();
    assert_eq!(metadata.sha256, Some(sha256(&metadata_bytes)));
    assert_eq!(
        collect(client.file(file).await.unwrap()).await.unwrap(),
        wheel
    );

    for (fault, expected) in [
        (StaticFault::Html, "NotJson"),
        (StaticFault::Garbage, "Invalid"),
        (StaticFault::RedirectLoop, "RedirectLoop"),
        (StaticFault::Status(503), "Status"),
        (StaticFault::Down, "Unreachable"),
    ] {
        index.set_fault(fault.clone());
        let error = client.project(&demo()).await.unwrap_err();
        assert!(
            format!("{error:?}").starts_with(expected),
            "{fault:?}: {error:?}"
        );
    }
    index.set_fault(StaticFault::WrongHash);
    let other = collect(client.file(file).await.unwrap()).await.unwrap();
    assert_ne!(
        sha256(&other),
        sha256(&wheel),
        "the hash is the caller's to check"
    );
    index.set_fault(StaticFault::Truncated);
    let error = collect(client.file(file).await.unwrap()).await.unwrap_err();
    assert!(matches!(error, PublicError::Interrupted(_)), "{error:?}");
    index.set_fault(StaticFault::Stall);
    let error = collect(client.file(file).await.unwrap()).await.unwrap_err();
    assert_eq!(error, PublicError::Stalled(Duration::from_millis(300)));
    assert!(index
        .requests()
        .iter()
        .all(|r| !r.authorization && !r.cookie));
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
