//! The single-layers example, run as a server: the credentials layer feeds its own access
//! check, the index layer renders its pages as HTML or JSON, and its links lead to the file.

use std::path::Path;

use pyoci_test_support::{basic_auth, sha256_hex, HttpClient, Pyoci};

#[test]
fn renders_its_own_store_for_its_own_users() {
    let app = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_single-layers")), &[]);
    let http = HttpClient::new();
    let page = format!("{}/simple/Hello/", app.base_url());
    let demo = basic_auth("demo", "demo");

    assert_eq!(http.get(&page).status, 401);
    assert_eq!(
        http.get_with(&page, &[("Authorization", &basic_auth("demo", "wrong"))])
            .status,
        401
    );
    // Not Basic at all: the credentials layer answers 400 before the handler runs.
    assert_eq!(
        http.get_with(&page, &[("Authorization", "Basic !!")])
            .status,
        400
    );

    let html = http.get_with(&page, &[("Authorization", &demo)]);
    assert_eq!(html.status, 200);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = String::from_utf8_lossy(&html.body);
    assert!(
        text.contains("href=\"/files/hello-1.0.tar.gz#sha256="),
        "{text}"
    );

    let json = http.get_with(
        &page,
        &[
            ("Authorization", &demo),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    assert_eq!(
        json.header("content-type"),
        Some("application/vnd.pypi.simple.v1+json")
    );
    assert!(String::from_utf8_lossy(&json.body).contains(r#""name":"hello""#));

    // The link leads to the file, whose bytes match the page's sha256.
    let file = http.get_with(
        &format!("{}/files/hello-1.0.tar.gz", app.base_url()),
        &[("Authorization", &demo)],
    );
    assert_eq!(file.status, 200);
    assert!(text.contains(&sha256_hex(&file.body)), "{text}");
}
