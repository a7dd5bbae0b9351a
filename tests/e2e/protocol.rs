//! The rest of the index protocol against the real registry: project lists, packages the
//! original PyOCI published (and foreign tags beside them), yank rights, and negotiation.

use std::collections::BTreeMap;

use bytes::Bytes;
use pyoci_basic_auth::Credentials;
use pyoci_oci::{
    Descriptor, Digest, HttpClient, ImageIndex, ImageManifest, OciClient, Platform, Registry,
};
use pyoci_test_support::{basic_auth, run_checked, RegistryAuth, TokenIssuer, ALICE, BOB};

use crate::support::{dists, listed, Stack, MODULE, PROJECT};

#[test]
fn the_namespace_page_lists_its_projects() {
    let stack = Stack::start(RegistryAuth::None);
    let dists = dists("0.1.0", "original");
    stack.upload("listing", ("u", "p"), &dists);
    stack.upload("listing/sub", ("u", "p"), &dists);

    let html = stack.get(&stack.index_url("listing"), None);
    assert_eq!(html.status, 200, "{}", html.text());
    assert!(
        html.text().contains(r#"href="hello-pyoci/""#),
        "{}",
        html.text()
    );

    let json = stack.http.get_with(
        &stack.index_url("listing"),
        &[("Accept", "application/vnd.pypi.simple.v1+json")],
    );
    assert_eq!(json.status, 200);
    assert_eq!(
        json.header("content-type"),
        Some("application/vnd.pypi.simple.v1+json")
    );
    let projects: Vec<_> = json.json()["projects"]
        .as_array()
        .expect("a projects array")
        .iter()
        .map(|project| project["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    // Only direct children: `listing/sub/hello_pyoci` belongs to the `listing/sub` page.
    assert_eq!(projects, ["hello-pyoci"]);

    // A namespace of several segments: `/listing/sub/` is not a project, so it lists.
    let nested = stack.get(&stack.index_url("listing/sub"), None);
    assert_eq!(nested.status, 200, "{}", nested.text());
    assert!(nested.text().contains("hello-pyoci"));

    let empty = stack.get(&stack.index_url("nothing-here"), None);
    assert_eq!(empty.status, 404, "{}", empty.text());
}

#[test]
fn nothing_acceptable_is_406_and_pages_vary_on_accept() {
    let stack = Stack::start(RegistryAuth::None);
    stack.upload("negotiation", ("u", "p"), &dists("0.1.0", "original"));
    let page = stack.project_url("negotiation", PROJECT);
    let refused = stack.http.get_with(&page, &[("Accept", "application/xml")]);
    assert_eq!(refused.status, 406, "{}", refused.text());
    let html = stack.http.get_with(&page, &[("Accept", "*/*")]);
    assert_eq!(html.status, 200);
    assert_eq!(html.header("vary"), Some("Accept"));
    assert!(html
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
}

/// Writes a version exactly as the original PyOCI 0.1.x does: empty config, one layer, the
/// sha256 and creation time (whole seconds) on the index entry, nothing else of ours. Beside
/// it, tags and entries that are not PyOCI files.
async fn publish_like_the_original(
    registry: &Registry,
    repo: &str,
    wheel: &[u8],
    wheel_name_arch: &str,
) {
    let oci = OciClient::new(
        HttpClient::new(reqwest::Client::new()),
        registry.clone(),
        Credentials::Anonymous,
    );
    let layer = Digest::sha256_of(wheel);
    oci.push_blob(repo, &layer, Bytes::copy_from_slice(wheel))
        .await
        .unwrap();
    let empty = Descriptor::empty_config();
    oci.push_blob(repo, &empty.digest, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let mut manifest = ImageManifest::new(
        empty,
        vec![Descriptor::new(
            "application/pyoci.package.v1",
            layer.clone(),
            wheel.len() as u64,
        )],
    );
    manifest.artifact_type = Some("application/pyoci.package.v1".into());
    manifest.annotations = BTreeMap::from([(
        "org.opencontainers.image.created".to_owned(),
        "2024-11-20T20:23:36Z".to_owned(),
    )]);
    let mut entry = oci.put_image_manifest(repo, &manifest).await.unwrap();
    entry.platform = Some(Platform::new(wheel_name_arch, "any"));
    entry.annotations = BTreeMap::from([
        (
            "org.opencontainers.image.created".to_owned(),
            "2024-11-20T20:23:36Z".to_owned(),
        ),
        ("com.pyoci.sha256_digest".to_owned(), layer.hex().to_owned()),
    ]);
    // An entry without a platform (an attestation, say) in the same index.
    let stray = oci.put_image_manifest(repo, &manifest).await.unwrap();
    let mut index = ImageIndex::new(vec![entry, stray.clone()]);
    index.artifact_type = Some("application/pyoci.package.v1".into());
    oci.put_index(repo, "0.1.0", &index).await.unwrap();
    // Tags that are not versions, or not PyOCI indexes.
    oci.put_index(repo, "latest", &index).await.unwrap();
    oci.put_manifest(
        repo,
        "0.2.0",
        "application/vnd.oci.image.manifest.v1+json",
        Bytes::from(serde_json::to_vec(&manifest).unwrap()),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn packages_the_original_pyoci_published_list_and_install() {
    let stack = tokio::task::spawn_blocking(|| Stack::start(RegistryAuth::None))
        .await
        .unwrap();
    let dists = tokio::task::spawn_blocking(|| dists("0.1.0", "original"))
        .await
        .unwrap();
    let wheel = std::fs::read(&dists.wheel).unwrap();
    let registry = Registry::new("http", &stack.registry.host_port()).unwrap();
    publish_like_the_original(&registry, "legacy/hello_pyoci", &wheel, "py3-none-any.whl").await;

    tokio::task::spawn_blocking(move || {
        let page = stack.get(&stack.project_url("legacy", PROJECT), None);
        assert_eq!(page.status, 200, "{}\n{}", page.text(), stack.logs());
        let files = listed(&page);
        let names: Vec<_> = files.keys().cloned().collect();
        assert_eq!(
            names,
            ["hello_pyoci-0.1.0-py3-none-any.whl"],
            "{}",
            page.text()
        );
        let link = &files["hello_pyoci-0.1.0-py3-none-any.whl"];
        assert_eq!(
            link.sha256.as_deref(),
            Some(Digest::sha256_of(&wheel).hex())
        );
        // No metadata file was stored, so none is announced; the upload time still shows.
        assert!(
            !page.text().contains("data-core-metadata"),
            "{}",
            page.text()
        );
        let json = stack.http.get_with(
            &stack.project_url("legacy", PROJECT),
            &[("Accept", "application/vnd.pypi.simple.v1+json")],
        );
        assert_eq!(
            json.json()["files"][0]["upload-time"],
            "2024-11-20T20:23:36.000000Z"
        );
        assert_eq!(json.json()["versions"], serde_json::json!(["0.1.0"]));

        let (_dir, venv) = stack.fresh_venv();
        run_checked(
            &mut stack
                .python
                .pip_install(&venv, &stack.index_url("legacy"), PROJECT),
        );
        assert!(!venv.import_attribute(MODULE, "GREETING").is_empty());
    })
    .await
    .unwrap();
}

#[test]
fn only_users_with_push_rights_may_yank() {
    let issuer = TokenIssuer::start();
    let stack = Stack::start(RegistryAuth::Token(issuer));
    let dists = dists("0.1.0", "original");
    stack.upload("yanking", ALICE, &dists);
    let yank_url = format!("{}+yank/0.1.0", stack.project_url("yanking", PROJECT));

    let by_bob = stack.http.request(
        "POST",
        &yank_url,
        &[("Authorization", &basic_auth(BOB.0, BOB.1))],
        Some(br#"{"reason": "bob says so"}"#.to_vec()),
    );
    assert!(
        by_bob.status == 401 || by_bob.status == 403,
        "bob (pull only) yanked: {} {}",
        by_bob.status,
        by_bob.text()
    );
    let anonymous = stack.http.request("POST", &yank_url, &[], None);
    assert!(anonymous.status == 401 || anonymous.status == 403);
    let page = stack.get(&stack.project_url("yanking", PROJECT), Some(ALICE));
    assert!(!page.text().contains("data-yanked"), "{}", page.text());

    let by_alice = stack.http.request(
        "POST",
        &yank_url,
        &[("Authorization", &basic_auth(ALICE.0, ALICE.1))],
        Some(br#"{"reason": "broken build"}"#.to_vec()),
    );
    assert_eq!(by_alice.status, 200, "{}", by_alice.text());
    let page = stack.get(&stack.project_url("yanking", PROJECT), Some(ALICE));
    assert_eq!(
        page.text().matches(r#"data-yanked="broken build""#).count(),
        2,
        "{}",
        page.text()
    );

    let bad = stack.http.request(
        "POST",
        &yank_url,
        &[("Authorization", &basic_auth(ALICE.0, ALICE.1))],
        Some(b"not json".to_vec()),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
}

#[test]
fn a_path_prefix_serves_everything_under_it() {
    let stack = Stack::start_with(RegistryAuth::None, &[("PYOCI_PATH", "/pyoci")]);
    let index = format!(
        "{}/pyoci/{}/prefixed/",
        stack.pyoci.base_url(),
        stack.registry.url_segment()
    );
    let dists = dists("0.1.0", "original");
    run_checked(
        &mut stack
            .python
            .twine_upload(&index, "u", "p", &[&dists.sdist, &dists.wheel]),
    );
    let page = stack.get(&format!("{index}{PROJECT}/"), None);
    assert_eq!(page.status, 200, "{}", page.text());
    for link in listed(&page).values() {
        assert!(link.url.starts_with("/pyoci/"), "{link:?}");
    }
    let (_dir, venv) = stack.fresh_venv();
    run_checked(&mut stack.python.pip_install(&venv, &index, PROJECT));
    assert!(!venv.import_attribute(MODULE, "GREETING").is_empty());
    // Without the prefix there is nothing; health stays at the root.
    let unprefixed = stack.get(&stack.project_url("prefixed", PROJECT), None);
    assert_eq!(unprefixed.status, 404);
    assert_eq!(
        stack
            .get(&format!("{}/health", stack.pyoci.base_url()), None)
            .status,
        200
    );
}

#[test]
fn max_versions_lists_only_the_newest() {
    let stack = Stack::start_with(RegistryAuth::None, &[("PYOCI_MAX_VERSIONS", "2")]);
    for version in ["0.9.0", "0.10.0", "0.1.0"] {
        let built = dists(version, "original");
        stack.upload("newest", ("u", "p"), &built);
    }
    let page = stack.http.get_with(
        &stack.project_url("newest", PROJECT),
        &[("Accept", "application/vnd.pypi.simple.v1+json")],
    );
    assert_eq!(page.status, 200, "{}", page.text());
    // PEP 440 order, not string order: 0.10.0 is the newest.
    assert_eq!(
        page.json()["versions"],
        serde_json::json!(["0.10.0", "0.9.0"])
    );
}

#[test]
fn a_registry_that_refuses_deletes_gets_a_clear_405() {
    let registry = pyoci_test_support::Registry::start_without_deletes(RegistryAuth::None);
    let pyoci =
        pyoci_test_support::Pyoci::start(std::path::Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
    let http = pyoci_test_support::HttpClient::new();
    let index = pyoci.index_url(&registry, "nodelete");
    let dists = dists("0.1.0", "original");
    for dist in [&dists.sdist, &dists.wheel] {
        let name = dist.file_name().unwrap().to_string_lossy();
        let version = "0.1.0";
        let response = http.post_multipart(
            &index,
            pyoci_test_support::upload_form(dist, PROJECT, version),
            &[],
        );
        assert_eq!(response.status, 200, "{name}: {}", response.text());
    }
    let page_url = format!("{index}{PROJECT}/");
    let file_url = |dist: &std::path::Path| {
        format!("{page_url}{}", dist.file_name().unwrap().to_string_lossy())
    };

    // Removing one of two files only rewrites the index, which needs no delete.
    let first = http.delete(&file_url(&dists.wheel), &[]);
    assert_eq!(first.status, 200, "{}", first.text());
    // The last file takes the tag with it: that is a manifest delete, which is refused.
    let last = http.delete(&file_url(&dists.sdist), &[]);
    assert_eq!(last.status, 405, "{}", last.text());
    assert!(
        last.text().to_lowercase().contains("delete"),
        "{}",
        last.text()
    );
    let page = http.get(&page_url);
    let names: Vec<_> = listed(&page).into_keys().collect();
    assert_eq!(
        names,
        ["hello_pyoci-0.1.0.tar.gz"],
        "nothing else may change"
    );
}
