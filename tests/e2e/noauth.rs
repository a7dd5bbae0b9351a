//! End to end against a registry without auth: twine uploads through PyOCI, pip and uv
//! install through it, and what lands in the registry is the PyOCI layout skopeo can read.

use std::{fs, path::Path};

use pyoci_test_support::{
    file_sha256, run_checked, sha256_hex, upload_form, upload_form_with_sha256, Pyoci, RegistryAuth,
};

use crate::support::{dists, listed, resolve, text, Stack, MODULE, PROJECT};

const NAMESPACE: &str = "testns";
const ANY: (&str, &str) = ("any", "any");
const GREETING: &str = "Hello from hello-pyoci 0.1.0 via PyOCI";

#[test]
fn health_answers_200() {
    let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
    let health = pyoci_test_support::HttpClient::new().get(&format!("{}/health", pyoci.base_url()));
    assert_eq!(health.status, 200, "{}", pyoci.log());
}

#[test]
fn twine_uploads_and_pip_and_uv_install() {
    let stack = Stack::start(RegistryAuth::None);
    let dists = dists("0.1.0", "original");
    stack.upload(NAMESPACE, ANY, &dists);

    // The page lists both files with their sha256.
    let page_url = stack.project_url(NAMESPACE, PROJECT);
    let page = stack.get(&page_url, None);
    assert_eq!(page.status, 200, "{}\n{}", page.text(), stack.logs());
    let files = listed(&page);
    for dist in [&dists.sdist, &dists.wheel] {
        let name = dist.file_name().unwrap().to_str().unwrap();
        let link = files
            .get(name)
            .unwrap_or_else(|| panic!("{name} not listed:\n{}", page.text()));
        assert_eq!(
            link.sha256.as_deref(),
            Some(file_sha256(dist).as_str()),
            "{name}"
        );
    }
    assert_eq!(files.len(), 2, "{}", page.text());

    // A file download is the very bytes, with a Content-Length.
    let wheel_bytes = fs::read(&dists.wheel).unwrap();
    let wheel_link = &files[&dists.wheel_name()];
    let download = stack.get(&resolve(&page_url, &wheel_link.url), None);
    assert_eq!(download.status, 200, "{}", stack.logs());
    assert_eq!(
        download.header("content-length"),
        Some(wheel_bytes.len().to_string().as_str())
    );
    assert!(
        download.body == wheel_bytes,
        "the downloaded wheel differs from the uploaded one"
    );
    let direct = stack.get(&format!("{page_url}{}", dists.wheel_name()), None);
    assert_eq!(sha256_hex(&direct.body), file_sha256(&dists.wheel));

    // pip installs it into a fresh virtualenv.
    let (_pip_dir, pip_venv) = stack.fresh_venv();
    run_checked(&mut stack.python.pip_install(
        &pip_venv,
        &stack.index_url(NAMESPACE),
        "hello-pyoci==0.1.0",
    ));
    assert_eq!(pip_venv.import_attribute(MODULE, "GREETING"), GREETING);
    assert_eq!(pip_venv.import_attribute(MODULE, "MARKER"), "original");

    // So does uv.
    let (_uv_dir, uv_venv) = stack.fresh_venv();
    run_checked(&mut stack.python.uv_pip_install(
        &uv_venv,
        &stack.index_url(NAMESPACE),
        "hello-pyoci==0.1.0",
    ));
    assert_eq!(uv_venv.import_attribute(MODULE, "GREETING"), GREETING);

    // The PyPI-style JSON knows the release.
    let json = stack.get(&format!("{page_url}json"), None);
    assert_eq!(json.status, 200, "{}", json.text());
    let json = json.json();
    assert!(
        json["releases"].get("0.1.0").is_some(),
        "no 0.1.0 in releases: {json}"
    );

    // In the registry: one index per version, one entry per file.
    let index = stack.skopeo_index("testns/hello_pyoci:0.1.0", None);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(index["artifactType"], "application/pyoci.package.v1");
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{index}");
    for (architecture, dist) in [
        (".tar.gz", &dists.sdist),
        ("py3-none-any.whl", &dists.wheel),
    ] {
        let entry = manifests
            .iter()
            .find(|entry| entry["platform"]["architecture"] == architecture)
            .unwrap_or_else(|| panic!("no {architecture} entry in {index}"));
        assert_eq!(entry["platform"]["os"], "any");
        assert_eq!(
            entry["annotations"]["com.pyoci.sha256_digest"],
            file_sha256(dist)
        );
        assert_eq!(
            entry["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
    }
}

#[test]
fn identical_reuploads_succeed_and_changed_files_conflict() {
    let stack = Stack::start(RegistryAuth::None);
    let original = dists("0.1.0", "original");
    let changed = dists("0.1.0", "changed");
    assert_eq!(original.wheel_name(), changed.wheel_name());
    assert_ne!(file_sha256(&original.wheel), file_sha256(&changed.wheel));
    stack.upload(NAMESPACE, ANY, &original);

    // The same bytes again: fine (twine and the direct API).
    stack.upload(NAMESPACE, ANY, &original);
    let again = stack.http.post_multipart(
        &stack.index_url(NAMESPACE),
        upload_form(&original.wheel, PROJECT, "0.1.0"),
        &[],
    );
    assert_eq!(again.status, 200, "{}\n{}", again.text(), stack.logs());

    // Other bytes under the same name: 409 Conflict.
    let twine = pyoci_test_support::run_expecting_failure(&mut stack.twine_upload(
        NAMESPACE,
        ANY,
        &[&changed.wheel],
    ));
    assert!(
        text(&twine).contains("409"),
        "twine said:\n{}",
        text(&twine)
    );
    let conflict = stack.http.post_multipart(
        &stack.index_url(NAMESPACE),
        upload_form(&changed.wheel, PROJECT, "0.1.0"),
        &[],
    );
    assert_eq!(conflict.status, 409, "{}", conflict.text());

    // The original is still what is served.
    let page = stack.get(&stack.project_url(NAMESPACE, PROJECT), None);
    let files = listed(&page);
    assert_eq!(
        files[&original.wheel_name()].sha256.as_deref(),
        Some(file_sha256(&original.wheel).as_str())
    );
}

#[test]
fn deleting_the_wheel_keeps_the_sdist() {
    let stack = Stack::start(RegistryAuth::None);
    let dists = dists("0.1.0", "original");
    stack.upload(NAMESPACE, ANY, &dists);
    let page_url = stack.project_url(NAMESPACE, PROJECT);

    let deleted = stack
        .http
        .delete(&format!("{page_url}{}", dists.wheel_name()), &[]);
    assert!(
        (200..300).contains(&deleted.status),
        "DELETE answered {}: {}\n{}",
        deleted.status,
        deleted.text(),
        stack.logs()
    );

    let page = stack.get(&page_url, None);
    assert_eq!(page.status, 200, "{}", page.text());
    let files = listed(&page);
    assert!(!files.contains_key(&dists.wheel_name()), "{}", page.text());
    assert!(files.contains_key(&dists.sdist_name()), "{}", page.text());
    let index = stack.skopeo_index("testns/hello_pyoci:0.1.0", None);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
}

#[test]
fn urls_are_normalized_and_unknown_projects_are_404() {
    let stack = Stack::start(RegistryAuth::None);
    stack.upload(NAMESPACE, ANY, &dists("0.1.0", "original"));

    let redirect = stack.get(&stack.project_url(NAMESPACE, "Hello_PyOCI"), None);
    assert_eq!(redirect.status, 301, "{}", redirect.text());
    let location = redirect.header("location").unwrap();
    let expected = format!("/{}/{NAMESPACE}/hello-pyoci/", stack.registry.url_segment());
    assert!(
        location.ends_with(&expected),
        "Location: {location}, wanted …{expected}"
    );

    let unknown = stack.get(&stack.project_url(NAMESPACE, "no-such-project"), None);
    assert_eq!(unknown.status, 404, "{}", unknown.text());
}

#[test]
fn digest_mismatches_are_rejected_and_nothing_is_stored() {
    let stack = Stack::start(RegistryAuth::None);
    let dists = dists("0.1.0", "original");
    let wrong = "0".repeat(64);
    let rejected = stack.http.post_multipart(
        &stack.index_url(NAMESPACE),
        upload_form_with_sha256(&dists.wheel, PROJECT, "0.1.0", &wrong),
        &[],
    );
    assert_eq!(
        rejected.status,
        400,
        "{}\n{}",
        rejected.text(),
        stack.logs()
    );
    // The registry found the mismatch as the blob was committed (PyOCI leaves a declared
    // sha256 to it); the client hears which digest was wrong.
    assert!(
        rejected.text().contains("sha256_digest mismatch"),
        "{}",
        rejected.text()
    );

    let page = stack.get(&stack.project_url(NAMESPACE, PROJECT), None);
    assert!(
        page.status == 404 || (page.status == 200 && listed(&page).is_empty()),
        "after a rejected upload the page answered {}:\n{}",
        page.status,
        page.text()
    );
}
