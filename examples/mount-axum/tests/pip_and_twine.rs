//! The axum example against the real registry: its own route answers, and pip and twine
//! work through PyOCI mounted under `/pypi`, so every link and redirect keeps the prefix.

use std::{fs, path::Path};

use pyoci_test_support::{
    run_checked, sha256_hex, wheel_bytes, HttpClient, Pyoci, Python, Registry, RegistryAuth,
};

const WHEEL: &str = "mounted_demo-1.0-py3-none-any.whl";

#[test]
fn pip_and_twine_work_under_the_mount_prefix() {
    let registry = Registry::start(RegistryAuth::None);
    let app = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_mount-axum")),
        &[("PYOCI_EXAMPLE_REGISTRY", &registry.url())],
    );
    let http = HttpClient::new();
    let base = app.base_url();
    let index = format!("{base}/pypi/{}/acme/", registry.url_segment());

    // The app's own route is still the app's.
    let home = http.get(&format!("{base}/"));
    assert_eq!(home.status, 200);
    assert!(String::from_utf8_lossy(&home.body).contains("an app of its own"));

    // twine uploads through the mount.
    let python = Python::locate();
    let dir = tempfile::tempdir().unwrap();
    let wheel = dir.path().join(WHEEL);
    let bytes = wheel_bytes("mounted-demo", "1.0", b"print('mounted')\n");
    fs::write(&wheel, &bytes).unwrap();
    run_checked(&mut python.twine_upload(&index, "user", "password", &[wheel.as_path()]));

    // The page links to the file under /pypi.
    let page = http.get(&format!("{index}mounted-demo/"));
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert_eq!(page.status, 200, "{html}\n{}", app.log());
    assert!(
        html.contains(&format!(
            "href=\"/pypi/{}/acme/mounted-demo/{WHEEL}",
            registry.url_segment()
        )),
        "{html}"
    );

    // Redirects keep the prefix: a missing slash, an unnormalized name.
    for (path, location) in [
        ("mounted-demo", "mounted-demo/"),
        ("Mounted_Demo/", "mounted-demo/"),
    ] {
        let response = http.get(&format!("{index}{path}"));
        assert_eq!(response.status, 301, "{path}");
        let expected = format!("/pypi/{}/acme/{location}", registry.url_segment());
        assert_eq!(
            response.header("location"),
            Some(expected.as_str()),
            "{path}"
        );
    }

    // pip finds and downloads the very bytes through the mount.
    let downloads = dir.path().join("downloads");
    run_checked(
        python
            .command("python")
            .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir"])
            .args(["--disable-pip-version-check", "--index-url", &index, "-d"])
            .arg(&downloads)
            .arg("Mounted_Demo==1.0"),
    );
    let downloaded = fs::read(downloads.join(WHEEL)).unwrap();
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&bytes));
}
