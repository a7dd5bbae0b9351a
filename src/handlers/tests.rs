//! Handlers in-process, through the router, over a registry in memory behind pyoci-oci's
//! stub registry: the response a client gets and the requests that reach the registry.

use std::{convert::Infallible, sync::Arc};

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use pyoci_basic_auth::Credentials;
use pyoci_index::SharedPage;
use pyoci_oci::test_util::{alice, requests, Log};
use tower::{service_fn, util::BoxCloneSyncService, ServiceExt};

use super::Router;
use crate::{
    app::App,
    body::Body,
    config::Config,
    store::tests::{
        file_entry, files_in, index_of, lines, memory_registry::MemoryRegistry, outgoing,
        written_index, REPO,
    },
};

/// The router over `registry`, and the log of what reaches it.
fn router(registry: &MemoryRegistry) -> (Router, Log) {
    let config = Config {
        write_settle_ms: 0,
        ..Config::default()
    };
    let (service, budgets, caches, log) = outgoing(&config, registry);
    let app = Arc::new(App::new(config, service, budgets, caches));
    let no_uploads =
        service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
    (Router::new(app, BoxCloneSyncService::new(no_uploads)), log)
}

/// `method path` as alice, through `router`.
async fn send(router: &Router, method: Method, path: &str) -> Response<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert::<Credentials>(alice());
    router.clone().oneshot(request).await.unwrap()
}

#[tokio::test]
async fn a_project_page_is_read_from_the_registry_once_then_from_the_page_cache() {
    let registry = MemoryRegistry::new();
    let version = index_of(&[file_entry(".tar.gz", b"sdist")]);
    registry.with_contents(|held| held.put_index(REPO, "1.0", &version));
    let (router, log) = router(&registry);

    let first = send(&router, Method::GET, "/registry.test/acme/hello/").await;
    let second = send(&router, Method::GET, "/registry.test/acme/hello/").await;

    for response in [&first, &second] {
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.extensions().get::<SharedPage>().unwrap().page();
        assert_eq!(page.versions, ["1.0"]);
        let urls: Vec<&str> = page.files.iter().map(|file| file.url.as_str()).collect();
        assert_eq!(urls, ["/registry.test/acme/hello/hello-1.0.tar.gz"]);
    }
    assert_eq!(
        lines(&log),
        [
            "GET /v2/acme/hello/tags/list",
            "GET /v2/acme/hello/manifests/1.0"
        ],
        "the second page costs no registry request"
    );
}

#[tokio::test]
async fn an_unnormalized_project_name_is_redirected_without_asking_the_registry() {
    let registry = MemoryRegistry::new();
    let (router, log) = router(&registry);

    let response = send(&router, Method::GET, "/registry.test/acme/Hello_World/").await;

    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        response.headers()["location"],
        "/registry.test/acme/hello-world/"
    );
    assert!(requests(&log).is_empty());
}

#[tokio::test]
async fn deleting_a_file_rewrites_its_index_then_deletes_its_manifest() {
    let registry = MemoryRegistry::new();
    let sdist = file_entry(".tar.gz", b"sdist");
    let wheel = file_entry("py3-none-any.whl", b"wheel");
    registry.with_contents(|held| held.put_index(REPO, "1.0", &index_of(&[sdist.clone(), wheel])));
    let (router, log) = router(&registry);

    let response = send(
        &router,
        Method::DELETE,
        "/registry.test/acme/hello/hello-1.0.tar.gz",
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"deleted hello-1.0.tar.gz\n");
    assert_eq!(
        lines(&log),
        [
            "GET /v2/acme/hello/manifests/1.0".to_owned(),
            "PUT /v2/acme/hello/manifests/1.0".to_owned(),
            format!("DELETE /v2/acme/hello/manifests/{}", sdist.digest),
        ]
    );
    let written = written_index(&requests(&log)[1]);
    assert_eq!(files_in(&written), ["py3-none-any.whl"]);
}

#[tokio::test]
async fn an_invalid_project_name_is_refused_by_the_route_before_any_request() {
    let registry = MemoryRegistry::new();
    let (router, log) = router(&registry);

    let response = send(&router, Method::GET, "/registry.test/acme/hello/-bad-/").await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let message = String::from_utf8_lossy(&body);
    assert!(
        message.contains("not a valid Python project name"),
        "{message}"
    );
    assert!(requests(&log).is_empty());
}
