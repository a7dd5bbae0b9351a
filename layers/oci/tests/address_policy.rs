//! `HttpClient::with_address_policy` against a real loopback HTTP server: refused addresses
//! never get a connection, whether named by IP, by a name, or by a redirect.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::StatusCode;
use pyoci_core::{find_in_chain, Credentials};
use pyoci_oci::{
    AddressPolicy, AddressRefused, HttpClient, OciClient, OciError, Registry, RestrictedRange,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::{BoxError, ServiceExt};

/// What the test server answers to every request.
#[derive(Clone)]
enum Answer {
    Ok,
    RedirectTo(String),
    RedirectToItself,
}

/// A server on 127.0.0.1 that counts requests, and those that carried `Authorization`.
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
    authorized: Arc<AtomicUsize>,
}

impl Server {
    async fn start(answer: Answer) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let redirect_to = match answer {
            Answer::Ok => None,
            Answer::RedirectTo(location) => Some(location),
            Answer::RedirectToItself => Some(format!("http://127.0.0.1:{port}/again")),
        };
        let requests = Arc::new(AtomicUsize::new(0));
        let authorized = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let authorized_counter = authorized.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let counter = counter.clone();
                let authorized_counter = authorized_counter.clone();
                let redirect_to = redirect_to.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !seen.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => seen.extend_from_slice(&buffer[..read]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if head.contains("\r\nauthorization:") {
                        authorized_counter.fetch_add(1, Ordering::SeqCst);
                    }
                    let answer = match redirect_to {
                        Some(location) => format!(
                            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n\
                             Content-Length: 0\r\nConnection: close\r\n\r\n"
                        ),
                        None => {
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                                .to_owned()
                        }
                    };
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Server {
            port,
            requests,
            authorized,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn authorized(&self) -> usize {
        self.authorized.load(Ordering::SeqCst)
    }
}

fn client(policy: AddressPolicy) -> HttpClient {
    HttpClient::with_address_policy(reqwest::Client::builder().no_proxy(), policy).unwrap()
}

async fn get(client: &HttpClient, url: &str) -> Result<http::Response<reqwest::Body>, BoxError> {
    let request = http::Request::get(url)
        .body(reqwest::Body::from(""))
        .unwrap();
    client.clone().oneshot(request).await
}

fn refusal(error: &BoxError) -> AddressRefused {
    match find_in_chain::<AddressRefused>(error.as_ref()) {
        Some(refused) => refused.clone(),
        None => panic!("no AddressRefused in {error:?}"),
    }
}

#[tokio::test]
async fn literal_loopback_addresses_are_refused_before_connecting() {
    let server = Server::start(Answer::Ok).await;
    let client = client(AddressPolicy::public_only());
    for url in [
        format!("http://127.0.0.1:{}/v2/", server.port),
        // reqwest reads a bare number as an IPv4 address.
        format!("http://2130706433:{}/v2/", server.port),
        format!("http://[::ffff:127.0.0.1]:{}/v2/", server.port),
    ] {
        let error = get(&client, &url).await.unwrap_err();
        assert_eq!(refusal(&error).range, RestrictedRange::Loopback, "{url}");
    }
    assert_eq!(server.requests(), 0);

    // Through the OCI client, the refusal is a 403 that says what to do.
    let registry = Registry::new("http", &format!("127.0.0.1:{}", server.port)).unwrap();
    let oci = OciClient::new(client, registry, Credentials::Anonymous);
    let error = oci.list_tags("acme/hello").await.unwrap_err();
    assert!(matches!(error, OciError::AddressRefused(_)), "{error:?}");
    assert_eq!(error.status_hint(), StatusCode::FORBIDDEN);
    assert!(
        error
            .to_string()
            .contains("resolves to a private address (127.0.0.1, loopback)"),
        "{error}"
    );
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn names_resolving_to_loopback_are_refused_at_resolution() {
    let server = Server::start(Answer::Ok).await;
    let client = client(AddressPolicy::public_only());
    let error = get(&client, &format!("http://localhost:{}/", server.port))
        .await
        .unwrap_err();
    let refused = refusal(&error);
    assert_eq!(refused.host, "localhost");
    assert_eq!(refused.range, RestrictedRange::Loopback);
    assert_eq!(server.requests(), 0);

    let registry = Registry::new("http", &format!("localhost:{}", server.port)).unwrap();
    let oci = OciClient::new(client, registry, Credentials::Anonymous);
    let error = oci.list_tags("acme/hello").await.unwrap_err();
    assert_eq!(error.status_hint(), StatusCode::FORBIDDEN, "{error:?}");
}

#[tokio::test]
async fn trusted_hosts_and_allow_all_connect() {
    let server = Server::start(Answer::Ok).await;
    let trusted = client(AddressPolicy::public_only().trust_host("127.0.0.1"));
    let response = get(&trusted, &format!("http://127.0.0.1:{}/", server.port))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let everything = client(AddressPolicy::allow_all());
    let response = get(&everything, &format!("http://localhost:{}/", server.port))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let plain = HttpClient::new(reqwest::Client::builder().no_proxy().build().unwrap());
    let response = get(&plain, &format!("http://127.0.0.1:{}/", server.port))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn redirects_to_refused_addresses_are_not_followed() {
    let target = Server::start(Answer::Ok).await;
    let trusted = || client(AddressPolicy::public_only().trust_host("127.0.0.1"));
    for location in [
        format!("http://[::1]:{}/", target.port),
        format!("http://127.0.0.2:{}/", target.port),
        format!("http://localhost:{}/", target.port),
    ] {
        let redirecting = Server::start(Answer::RedirectTo(location.clone())).await;
        let error = get(
            &trusted(),
            &format!("http://127.0.0.1:{}/", redirecting.port),
        )
        .await
        .unwrap_err();
        assert_eq!(
            refusal(&error).range,
            RestrictedRange::Loopback,
            "{location}"
        );
        assert_eq!(redirecting.requests(), 1);
    }
    assert_eq!(target.requests(), 0);
}

#[tokio::test]
async fn redirect_loops_end() {
    let looping = Server::start(Answer::RedirectToItself).await;
    let client = client(AddressPolicy::allow_all());
    let error = get(&client, &format!("http://127.0.0.1:{}/", looping.port))
        .await
        .unwrap_err();
    let message = format!("{error:?}");
    assert!(message.contains("gave up after 10 redirects"), "{message}");
    assert_eq!(looping.requests(), 11, "the first request and 10 redirects");
}

#[tokio::test]
async fn special_purpose_addresses_are_refused_before_connecting() {
    // None of these is reachable from here, so a connection attempt would show up as a
    // connect error or a timeout, not as a refusal naming the range.
    let strict = client(AddressPolicy::public_only());
    for (url, range) in [
        ("http://192.0.2.1/v2/", RestrictedRange::Documentation),
        ("http://198.51.100.1/v2/", RestrictedRange::Documentation),
        ("http://203.0.113.1/v2/", RestrictedRange::Documentation),
        ("http://198.18.0.1/v2/", RestrictedRange::Benchmarking),
        (
            "http://192.0.0.1/v2/",
            RestrictedRange::SpecialPurpose("IPv4 service continuity prefix"),
        ),
        (
            "http://192.88.99.1/v2/",
            RestrictedRange::SpecialPurpose("deprecated 6to4 relay anycast"),
        ),
        (
            "http://[2001::1]/v2/",
            RestrictedRange::SpecialPurpose("Teredo"),
        ),
        (
            "http://[2002:c000:204::1]/v2/",
            RestrictedRange::SpecialPurpose("6to4"),
        ),
        (
            "http://[64:ff9b:1::1]/v2/",
            RestrictedRange::SpecialPurpose("local-use IPv4/IPv6 translation"),
        ),
        (
            "http://[100::1]/v2/",
            RestrictedRange::SpecialPurpose("discard-only"),
        ),
    ] {
        let error = get(&strict, url).await.unwrap_err();
        assert_eq!(refusal(&error).range, range, "{url}");
    }

    // Nor are they reached by a redirect from a trusted registry.
    let redirecting = Server::start(Answer::RedirectTo("http://203.0.113.9/blob".into())).await;
    let trusted = client(AddressPolicy::public_only().trust_host("127.0.0.1"));
    let error = get(&trusted, &format!("http://127.0.0.1:{}/", redirecting.port))
        .await
        .unwrap_err();
    assert_eq!(refusal(&error).range, RestrictedRange::Documentation);
    assert_eq!(redirecting.requests(), 1);
}

#[tokio::test]
async fn a_trusted_origin_does_not_trust_other_ports_of_its_host() {
    // PYOCI_REGISTRIES=http://127.0.0.1:<listed>: a redirect to another port of the same
    // host is not followed. A mock server: the real registry cannot be made to redirect.
    for host in ["127.0.0.1", "localhost"] {
        let unlisted = Server::start(Answer::Ok).await;
        let listed = Server::start(Answer::RedirectTo(format!(
            "http://{host}:{}/elsewhere",
            unlisted.port
        )))
        .await;
        let policy = AddressPolicy::public_only().trust_origin("http", host, Some(listed.port));
        let error = get(
            &client(policy.clone()),
            &format!("http://{host}:{}/", listed.port),
        )
        .await
        .unwrap_err();
        assert_eq!(refusal(&error).range, RestrictedRange::Loopback, "{host}");
        assert_eq!(listed.requests(), 1, "{host}");
        assert_eq!(unlisted.requests(), 0, "{host}");

        // Listed too, it is followed.
        let both = policy.trust_origin("http", host, Some(unlisted.port));
        let response = get(&client(both), &format!("http://{host}:{}/", listed.port))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
        assert_eq!(unlisted.requests(), 1, "{host}");
    }
}

#[tokio::test]
async fn authorization_does_not_follow_a_redirect_to_another_origin() {
    let elsewhere = Server::start(Answer::Ok).await;
    let redirecting = Server::start(Answer::RedirectTo(format!(
        "http://127.0.0.1:{}/blob",
        elsewhere.port
    )))
    .await;
    let request = http::Request::get(format!("http://127.0.0.1:{}/", redirecting.port))
        .header("authorization", "Bearer secret")
        .body(reqwest::Body::from(""))
        .unwrap();
    let response = client(AddressPolicy::allow_all())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!((redirecting.requests(), redirecting.authorized()), (1, 1));
    assert_eq!((elsewhere.requests(), elsewhere.authorized()), (1, 0));
}
