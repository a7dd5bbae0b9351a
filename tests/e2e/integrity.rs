//! Integrity against the real registry: nothing is written over a tag PyOCI cannot read,
//! aborted uploads leave nothing behind, only real distributions are accepted, an upload is
//! answered only once its whole body arrived, one rule for which file names name a file,
//! whole-version deletes, and cache headers that stay true when a file is replaced.

use std::{
    fs,
    io::{Read, Write},
    net::{Shutdown, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use pyoci_test_support::{
    answered_requests, run_checked, sdist_bytes, sha256_hex, wait_for, wheel_bytes, zip_bytes,
    Fault, FaultProxy, FaultRule, HttpClient, HttpResponse, Multipart, Pyoci, Registry,
    RegistryAuth, REQUEST_LOG_FILTER,
};

const NAMESPACE: &str = "integrity";
const PROJECT: &str = "hello-probe";
const REPO: &str = "integrity/hello_probe";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

fn start_pyoci(env: &[(&str, &str)]) -> Pyoci {
    let mut all = vec![
        ("PYOCI_ALLOW_PRIVATE_REGISTRIES", "true"),
        ("PYOCI_WRITE_SETTLE_MS", "0"),
        ("RUST_LOG", REQUEST_LOG_FILTER),
    ];
    all.extend_from_slice(env);
    Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &all)
}

fn wheel_name(version: &str) -> String {
    format!("hello_probe-{version}-py3-none-any.whl")
}

fn sdist_name(version: &str) -> String {
    format!("hello_probe-{version}.tar.gz")
}

/// The upload form twine would send for `filename` holding `content`.
fn form(filename: &str, version: &str, content: &[u8]) -> Multipart {
    pyoci_test_support::content_form(PROJECT, version, filename, content)
}

/// A registry, PyOCI in front of it (optionally through a fault proxy), and a client.
struct Setup {
    registry: Registry,
    proxy: Option<FaultProxy>,
    pyoci: Pyoci,
    http: HttpClient,
}

impl Setup {
    fn direct() -> Setup {
        let registry = Registry::start(RegistryAuth::None);
        Setup {
            pyoci: start_pyoci(&[]),
            registry,
            proxy: None,
            http: HttpClient::new(),
        }
    }

    fn proxied() -> Setup {
        let registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        Setup {
            pyoci: start_pyoci(&[("PYOCI_REGISTRY_TIMEOUT", "5")]),
            registry,
            proxy: Some(proxy),
            http: HttpClient::new(),
        }
    }

    fn proxy(&self) -> &FaultProxy {
        self.proxy.as_ref().expect("a proxied setup")
    }

    fn segment(&self) -> String {
        match &self.proxy {
            Some(proxy) => proxy.url_segment(),
            None => self.registry.url_segment(),
        }
    }

    fn index_url(&self) -> String {
        format!("{}/{}/{NAMESPACE}/", self.pyoci.base_url(), self.segment())
    }

    fn project_url(&self) -> String {
        format!("{}{PROJECT}/", self.index_url())
    }

    fn file_url(&self, filename: &str) -> String {
        format!("{}{filename}", self.project_url())
    }

    fn upload(&self, filename: &str, version: &str, content: &[u8]) -> HttpResponse {
        self.http
            .post_multipart(&self.index_url(), form(filename, version, content), &[])
    }

    fn upload_ok(&self, filename: &str, version: &str, content: &[u8]) {
        let response = self.upload(filename, version, content);
        assert_eq!(
            response.status,
            200,
            "upload of {filename}: {}\n{}",
            response.text(),
            self.logs()
        );
    }

    /// The file names the project page lists (empty for a 404).
    fn listed(&self) -> Vec<String> {
        let page = self.http.get_with(
            &self.project_url(),
            &[("Accept", "application/vnd.pypi.simple.v1+json")],
        );
        if page.status == 404 {
            return Vec::new();
        }
        assert_eq!(page.status, 200, "{}\n{}", page.text(), self.logs());
        let mut names: Vec<String> = page.json()["files"]
            .as_array()
            .expect("a files array")
            .iter()
            .map(|file| file["filename"].as_str().unwrap_or_default().to_owned())
            .collect();
        names.sort();
        names
    }

    /// The registry's own answer for `REPO:tag` (straight from it, not through the proxy):
    /// status, digest and body.
    fn tag_in_registry(&self, tag: &str) -> (u16, Option<String>, Vec<u8>) {
        let response = self.http.get_with(
            &format!("{}/v2/{REPO}/manifests/{tag}", self.registry.url()),
            &[("Accept", MANIFEST_TYPES)],
        );
        let digest = response.header("docker-content-digest").map(str::to_owned);
        (response.status, digest, response.body)
    }

    fn logs(&self) -> String {
        format!(
            "--- pyoci log ---\n{}\n--- registry log ---\n{}",
            self.pyoci.log(),
            self.registry.log()
        )
    }
}

/// How often the tests look at what the registry and PyOCI did.
const POLL: Duration = Duration::from_millis(20);

// --- Nothing is written over a tag PyOCI cannot read -------------------------------------

/// A single-layer image in an OCI layout directory, as a build tool would leave it.
fn write_image_layout(dir: &Path) {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).unwrap();
    let write_blob = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let layer = sdist_bytes("image-layer", "1.0", b"not a python package");
    let (layer_digest, layer_size) = write_blob(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
    .to_string();
    let (config_digest, config_size) = write_blob(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer_size,
        }],
    })
    .to_string();
    let (manifest_digest, manifest_size) = write_blob(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "image"},
        }],
    })
    .to_string();
    fs::write(dir.join("index.json"), index).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[test]
fn a_foreign_image_under_a_version_tag_is_a_409_and_stays_untouched() {
    let setup = Setup::direct();
    let layout = tempfile::tempdir().unwrap();
    write_image_layout(layout.path());
    run_checked(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:image", layout.path().display()),
        &format!("docker://{}/{REPO}:2.0", setup.registry.host_port()),
    ]));
    let (status, before, image) = setup.tag_in_registry("2.0");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&image).contains("image.manifest.v1+json"),
        "skopeo pushed an image manifest"
    );

    let content = wheel_bytes(PROJECT, "2.0", b"a wheel");
    let refused = setup.upload(&wheel_name("2.0"), "2.0", &content);
    assert_eq!(refused.status, 409, "{}\n{}", refused.text(), setup.logs());
    assert!(
        refused.text().contains("2.0") && refused.text().contains("untouched"),
        "{}",
        refused.text()
    );
    // No other writer touches it either.
    let yank = setup.http.request(
        "POST",
        &format!("{}+yank/2.0", setup.project_url()),
        &[],
        None,
    );
    assert_eq!(yank.status, 409, "{}", yank.text());
    let delete_file = setup.http.delete(&setup.file_url(&wheel_name("2.0")), &[]);
    assert_eq!(delete_file.status, 409, "{}", delete_file.text());
    let delete_version = setup.http.delete(&setup.file_url("2.0"), &[]);
    assert_eq!(delete_version.status, 409, "{}", delete_version.text());
    let (status, after, bytes) = setup.tag_in_registry("2.0");
    assert_eq!((status, &after, &bytes), (200, &before, &image));

    // Listings still skip it, and a version beside it works as ever.
    setup.upload_ok(
        &wheel_name("1.0"),
        "1.0",
        &wheel_bytes(PROJECT, "1.0", b"x"),
    );
    assert_eq!(setup.listed(), [wheel_name("1.0")]);
}

/// Uploads a wheel of 1.0, then an sdist of 1.0 while the proxy answers the index read with
/// `fault`: a 502, and the registry's index is exactly as before.
fn unreadable_index_is_a_502_and_nothing_is_written(what: &str, fault: Fault) {
    refused_index_read_writes_nothing(what, fault, 502, "unexpected response");
}

/// As [`unreadable_index_is_a_502_and_nothing_is_written`], answered with `status` and a
/// message containing `says`.
fn refused_index_read_writes_nothing(what: &str, fault: Fault, status: u16, says: &str) {
    let setup = Setup::proxied();
    setup.upload_ok(
        &wheel_name("1.0"),
        "1.0",
        &wheel_bytes(PROJECT, "1.0", b"first file"),
    );
    let (_, before, index) = setup.tag_in_registry("1.0");
    assert!(before.is_some());

    let proxy = setup.proxy();
    proxy.forget_seen();
    proxy.set(
        FaultRule::new(fault)
            .method("GET")
            .path_contains("/manifests/1.0"),
    );
    let sdist = sdist_bytes(PROJECT, "1.0", b"second file");
    let refused = setup.upload(&sdist_name("1.0"), "1.0", &sdist);
    proxy.clear();
    assert!(
        proxy.faults_injected() > 0,
        "the fault was never injected: {:?}",
        proxy.seen()
    );
    assert_eq!(
        refused.status,
        status,
        "{what}: {}\n{}",
        refused.text(),
        setup.logs()
    );
    assert!(refused.text().contains(says), "{}", refused.text());
    assert_eq!(
        proxy.count("PUT", "/manifests/1.0"),
        0,
        "an index was written"
    );
    let (_, after, unchanged) = setup.tag_in_registry("1.0");
    assert_eq!((after, unchanged), (before, index));
    assert_eq!(setup.listed(), [wheel_name("1.0")]);
}

#[test]
fn an_html_page_instead_of_the_index_is_a_502_and_nothing_is_written() {
    unreadable_index_is_a_502_and_nothing_is_written(
        "an HTML page",
        Fault::Answer {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            body: b"<html><body>Please sign in</body></html>".to_vec(),
        },
    );
}

#[test]
fn an_unexpected_redirect_instead_of_the_index_is_a_502_and_nothing_is_written() {
    unreadable_index_is_a_502_and_nothing_is_written(
        "a 302",
        Fault::Answer {
            status: 302,
            content_type: "text/plain".into(),
            body: b"moved".to_vec(),
        },
    );
}

/// PyOCI's bound on a version's index is 1 MiB (registries take manifests up to 4 MiB): one
/// over it is left untouched, as another tool's document would be.
#[test]
fn an_index_over_the_size_bound_is_a_409_and_nothing_is_written() {
    let mut body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"x":""#.to_vec();
    body.resize(2 * 1024 * 1024, b'x');
    body.extend_from_slice(br#""}}"#);
    refused_index_read_writes_nothing(
        "a 2 MiB index",
        Fault::Answer {
            status: 200,
            content_type: INDEX_TYPE.into(),
            body,
        },
        409,
        "larger than 1048576 bytes",
    );
}

// --- Only real distributions are accepted --------------------------------------------------

/// Files that are not distributions, each refused with a 400 naming what is missing.
fn not_distributions() -> Vec<(&'static str, String, Vec<u8>, &'static str)> {
    let random: Vec<u8> = (0..4096u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    vec![
        ("random bytes", wheel_name("1.0"), random, "METADATA"),
        (
            "a zip without METADATA",
            wheel_name("1.0"),
            zip_bytes(&[("hello_probe/__init__.py", b"print('hi')\n")]),
            "METADATA",
        ),
        ("an empty wheel", wheel_name("1.0"), Vec::new(), "METADATA"),
        ("an empty sdist", sdist_name("1.0"), Vec::new(), "PKG-INFO"),
        (
            "an sdist of another project",
            sdist_name("1.0"),
            sdist_bytes("other", "1.0", b"payload"),
            "names the project `other`",
        ),
        (
            "a wheel whose METADATA has no Version",
            wheel_name("1.0"),
            zip_bytes(&[(
                "hello_probe-1.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: hello-probe\n",
            )]),
            "Version",
        ),
    ]
}

fn assert_not_distributions_are_refused(setup: &Setup) {
    for (what, filename, content, missing) in not_distributions() {
        let refused = setup.upload(&filename, "1.0", &content);
        assert_eq!(
            refused.status,
            400,
            "{what} was accepted: {}\n{}",
            refused.text(),
            setup.logs()
        );
        assert!(
            refused.text().contains(missing),
            "{what}: the answer must say what is missing: {}",
            refused.text()
        );
        let download = setup.http.get(&setup.file_url(&filename));
        assert_eq!(download.status, 404, "{what}: {}", download.text());
    }
    assert_eq!(
        setup.listed(),
        Vec::<String>::new(),
        "nothing may be listed"
    );
    let tags = setup
        .http
        .get(&format!("{}/v2/{REPO}/tags/list", setup.registry.url()));
    assert!(
        tags.status == 404 || tags.json()["tags"].as_array().map_or(true, Vec::is_empty),
        "no tag may exist: {}",
        tags.text()
    );
    // A real wheel still goes in.
    setup.upload_ok(
        &wheel_name("1.0"),
        "1.0",
        &wheel_bytes(PROJECT, "1.0", b"real"),
    );
    assert_eq!(setup.listed(), [wheel_name("1.0")]);
}

#[test]
fn files_that_are_not_distributions_are_refused_and_nothing_is_stored() {
    assert_not_distributions_are_refused(&Setup::direct());
}

#[test]
fn a_conservative_registry_profile_validates_distributions_too() {
    let registry = Registry::start(RegistryAuth::None);
    let profile = format!("{}=conservative", registry.host_port());
    let setup = Setup {
        pyoci: start_pyoci(&[("PYOCI_REGISTRY_PROFILES", &profile)]),
        registry,
        proxy: None,
        http: HttpClient::new(),
    };
    assert_not_distributions_are_refused(&setup);
}

// --- An aborted upload leaves nothing behind -----------------------------------------------

/// The repository's unfinished blob uploads in the registry's storage (filesystem driver).
fn upload_sessions(registry: &Registry) -> Vec<PathBuf> {
    let uploads = registry
        .data_dir()
        .join("docker/registry/v2/repositories")
        .join(REPO)
        .join("_uploads");
    match fs::read_dir(&uploads) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Bytes of partial data the registry holds for an unfinished upload session.
fn session_bytes(session: &Path) -> u64 {
    fs::metadata(session.join("data")).map_or(0, |data| data.len())
}

/// Every file under `dir`, with its size.
fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(meta) if meta.is_dir() => found.extend(files_under(&path)),
            Ok(meta) => found.push((path, meta.len())),
            Err(_) => {}
        }
    }
    found
}

#[test]
fn a_client_dropping_mid_upload_leaves_no_partial_blob_in_the_registry() {
    let setup = Setup::direct();
    let payload: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let wheel = wheel_bytes(PROJECT, "1.0", &payload);
    let form = form(&wheel_name("1.0"), "1.0", &wheel);
    let content_type = form.content_type();
    let body = form.into_body();
    let path = setup
        .index_url()
        .trim_start_matches(&setup.pyoci.base_url())
        .to_owned();
    let mut stream = TcpStream::connect(("127.0.0.1", setup.pyoci.port())).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();

    // The registry holds part of the file in an upload session...
    wait_for(
        POLL,
        Duration::from_secs(20),
        || {
            upload_sessions(&setup.registry)
                .iter()
                .any(|session| session_bytes(session) > 0)
        },
        || format!("no partial data in the registry\n{}", setup.logs()),
    );
    // ...when the client goes away.
    stream.shutdown(Shutdown::Both).unwrap();
    drop(stream);

    // Cancelled at its current location, the session's data goes. (Distribution 2.8 then
    // writes the session's hash state once more while closing the request, so a
    // `hashstates/` file of about a hundred bytes stays; the partial data does not.)
    let partial_data = || -> Vec<(PathBuf, u64)> {
        upload_sessions(&setup.registry)
            .iter()
            .flat_map(|session| files_under(session))
            .filter(|(path, size)| path.ends_with("data") || *size > 1024)
            .collect()
    };
    wait_for(
        POLL,
        Duration::from_secs(20),
        || partial_data().is_empty(),
        || {
            format!(
                "the registry kept the partial upload: {:?}\n{}",
                partial_data(),
                setup.logs()
            )
        },
    );
    assert_eq!(setup.listed(), Vec::<String>::new());
}

// --- Cache headers stay true when a file is replaced ---------------------------------------

#[test]
fn a_file_replaced_under_its_name_is_revalidated_by_etag() {
    let setup = Setup::direct();
    let name = wheel_name("1.0");
    let url = setup.file_url(&name);
    let first = wheel_bytes(PROJECT, "1.0", b"first bytes");
    setup.upload_ok(&name, "1.0", &first);

    let download = setup.http.get(&url);
    assert_eq!(download.status, 200);
    assert!(download.body == first);
    let cache_control = download.header("cache-control").unwrap_or_default();
    assert!(
        !cache_control.contains("immutable") && cache_control.contains("no-cache"),
        "a file's name does not pin its bytes: {cache_control}"
    );
    let first_etag = download.header("etag").expect("an ETag").to_owned();
    assert_eq!(first_etag, format!("\"{}\"", sha256_hex(&first)));

    // A cache holding the current bytes gets a 304 without a body, for GET and HEAD.
    for method in ["GET", "HEAD"] {
        let revalidated = setup
            .http
            .request(method, &url, &[("If-None-Match", &first_etag)], None);
        assert_eq!(revalidated.status, 304, "{method}: {}", revalidated.text());
        assert!(revalidated.body.is_empty());
        assert_eq!(revalidated.header("etag"), Some(first_etag.as_str()));
    }

    // Deleted and uploaded again with other bytes: the same revalidation gets the new file.
    let deleted = setup.http.delete(&url, &[]);
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let second = wheel_bytes(PROJECT, "1.0", b"other bytes, same name");
    setup.upload_ok(&name, "1.0", &second);
    let revalidated = setup.http.get_with(&url, &[("If-None-Match", &first_etag)]);
    assert_eq!(revalidated.status, 200, "{}", revalidated.text());
    assert!(
        revalidated.body == second,
        "the cache must get the new bytes"
    );
    assert_eq!(
        revalidated.header("etag"),
        Some(format!("\"{}\"", sha256_hex(&second)).as_str())
    );

    // The PEP 658 metadata file revalidates the same way.
    let metadata_url = format!("{url}.metadata");
    let metadata = setup.http.get(&metadata_url);
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    assert!(!metadata
        .header("cache-control")
        .unwrap_or_default()
        .contains("immutable"));
    let metadata_etag = metadata.header("etag").expect("an ETag").to_owned();
    let again = setup
        .http
        .get_with(&metadata_url, &[("If-None-Match", &metadata_etag)]);
    assert_eq!(again.status, 304);
}

// --- Deleting a whole version, as the original PyOCI does ----------------------------------

fn upload_version_files(setup: &Setup, version: &str) {
    setup.upload_ok(
        &wheel_name(version),
        version,
        &wheel_bytes(PROJECT, version, b"wheel"),
    );
    setup.upload_ok(
        &sdist_name(version),
        version,
        &sdist_bytes(PROJECT, version, b"sdist"),
    );
}

#[test]
fn deleting_a_version_removes_it_with_all_its_files_and_a_file_name_one_file() {
    let setup = Setup::direct();
    upload_version_files(&setup, "1.0");
    upload_version_files(&setup, "2.0");
    let (_, _, index) = setup.tag_in_registry("1.0");
    let file_manifests: Vec<String> = serde_json::from_slice::<serde_json::Value>(&index).unwrap()
        ["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(file_manifests.len(), 2);

    let deleted = setup.http.delete(&setup.file_url("1.0"), &[]);
    assert_eq!(deleted.status, 200, "{}\n{}", deleted.text(), setup.logs());
    assert!(deleted.text().contains("2 files"), "{}", deleted.text());
    assert_eq!(setup.listed(), [wheel_name("2.0"), sdist_name("2.0")]);
    assert_eq!(setup.tag_in_registry("1.0").0, 404, "the tag is gone");
    for digest in &file_manifests {
        let (status, _, _) = setup.tag_in_registry(digest);
        assert_eq!(status, 404, "file manifest {digest} is left");
    }
    let again = setup.http.delete(&setup.file_url("1.0"), &[]);
    assert_eq!(again.status, 404, "{}", again.text());
    let not_a_version = setup
        .http
        .delete(&setup.file_url("latest-and-greatest"), &[]);
    assert_eq!(not_a_version.status, 400, "{}", not_a_version.text());

    // A file name still deletes that one file.
    let one = setup.http.delete(&setup.file_url(&wheel_name("2.0")), &[]);
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(setup.listed(), [sdist_name("2.0")]);
}

#[test]
fn deleting_a_version_on_a_registry_that_refuses_deletes_is_a_405_and_changes_nothing() {
    let registry = Registry::start_without_deletes(RegistryAuth::None);
    let setup = Setup {
        pyoci: start_pyoci(&[]),
        registry,
        proxy: None,
        http: HttpClient::new(),
    };
    upload_version_files(&setup, "1.0");
    let (_, before, _) = setup.tag_in_registry("1.0");

    let refused = setup.http.delete(&setup.file_url("1.0"), &[]);
    assert_eq!(refused.status, 405, "{}\n{}", refused.text(), setup.logs());
    assert!(
        refused.text().to_lowercase().contains("delete"),
        "{}",
        refused.text()
    );
    assert_eq!(setup.listed(), [wheel_name("1.0"), sdist_name("1.0")]);
    assert_eq!(
        setup.tag_in_registry("1.0").1,
        before,
        "the index is untouched"
    );
}

// --- One rule for which file names name a file ---------------------------------------------

/// Spellings of `hello_probe-1.0.0.tar.gz` that name it (PEP 503-equal name, same version),
/// and some that do not.
const SAME_SDIST: [&str; 5] = [
    "hello_probe-1.0.0.tar.gz",
    "HELLO_PROBE-1.0.0.tar.gz",
    "hello.probe-1.0.0.tar.gz",
    "Hello-Probe-1.0.0.tar.gz",
    "hello__probe-1.0.0.tar.gz",
];
const OTHER_FILES: [&str; 3] = [
    // 1.0 equals 1.0.0 by PEP 440, but a file name carries the version exactly.
    "hello_probe-1.0.tar.gz",
    "hello_probe-1.0.0.0.tar.gz",
    "hello_probe-1.0.0-py3-none-any.whl",
];

#[test]
fn download_yank_and_delete_agree_on_which_names_name_a_file() {
    let setup = Setup::direct();
    let sdist = sdist_bytes(PROJECT, "1.0.0", b"the sdist");
    setup.upload_ok(&sdist_name("1.0.0"), "1.0.0", &sdist);
    let yank_url = |what: &str, action: &str| format!("{}{action}/{what}", setup.project_url());

    for other in OTHER_FILES {
        let download = setup.http.get(&setup.file_url(other));
        assert_eq!(download.status, 404, "GET {other}: {}", download.text());
        let yank = setup
            .http
            .request("POST", &yank_url(other, "+yank"), &[], None);
        assert_eq!(yank.status, 404, "yank {other}: {}", yank.text());
        let delete = setup.http.delete(&setup.file_url(other), &[]);
        assert_eq!(delete.status, 404, "DELETE {other}: {}", delete.text());
    }
    for spelling in SAME_SDIST {
        let download = setup.http.get(&setup.file_url(spelling));
        assert_eq!(download.status, 200, "GET {spelling}: {}", download.text());
        assert!(download.body == sdist, "GET {spelling}");
        for action in ["+yank", "+unyank"] {
            let yank = setup
                .http
                .request("POST", &yank_url(spelling, action), &[], None);
            assert_eq!(yank.status, 200, "{action} {spelling}: {}", yank.text());
            assert_eq!(
                yank.json()["files"],
                serde_json::json!([sdist_name("1.0.0")]),
                "{action} {spelling}"
            );
        }
    }
    // Any spelling deletes it, once.
    let deleted = setup
        .http
        .delete(&setup.file_url("hello.probe-1.0.0.tar.gz"), &[]);
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(setup.listed(), Vec::<String>::new());
    let again = setup
        .http
        .delete(&setup.file_url("HELLO_PROBE-1.0.0.tar.gz"), &[]);
    assert_eq!(again.status, 404, "{}", again.text());

    // A file of another project is not found under this one, for every operation alike.
    let foreign = "other_probe-1.0.0.tar.gz";
    assert_eq!(setup.http.get(&setup.file_url(foreign)).status, 404);
    assert_eq!(setup.http.delete(&setup.file_url(foreign), &[]).status, 404);
    assert_eq!(
        setup
            .http
            .request("POST", &yank_url(foreign, "+yank"), &[], None)
            .status,
        404
    );
}

// --- An upload is answered only once its whole body arrived --------------------------------

/// Sends a POST of `body` by hand with `Content-Length: declared`, then `extra` bytes. When
/// `close_after` is given, waits for it to hold, then closes the sending side. Returns what
/// PyOCI answered (possibly nothing).
fn raw_upload(
    setup: &Setup,
    content_type: &str,
    body: &[u8],
    declared: usize,
    extra: &[u8],
    close_after: Option<&dyn Fn() -> bool>,
) -> String {
    let path = setup
        .index_url()
        .trim_start_matches(&setup.pyoci.base_url())
        .to_owned();
    let mut stream = TcpStream::connect(("127.0.0.1", setup.pyoci.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream.write_all(extra).unwrap();
    if let Some(condition) = close_after {
        wait_for(POLL, Duration::from_secs(20), condition, || {
            format!("never the moment to hang up\n{}", setup.logs())
        });
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status PyOCI logged for its `n`-th answered upload POST, waiting for it.
fn logged_upload_status(setup: &Setup, n: usize) -> u16 {
    let mut status = None;
    wait_for(
        POLL,
        Duration::from_secs(20),
        || {
            status = answered_requests(&setup.pyoci.log())
                .into_iter()
                .filter(|request| request.method == "POST")
                .nth(n)
                .map(|request| request.status);
            status.is_some()
        },
        || format!("PyOCI never answered upload {n}\n{}", setup.logs()),
    );
    status.unwrap_or_default()
}

#[test]
fn an_upload_whose_body_stops_short_of_its_content_length_is_not_stored() {
    let setup = Setup::direct();
    let wheel = wheel_bytes(PROJECT, "1.0", b"complete multipart, incomplete body");
    let form = form(&wheel_name("1.0"), "1.0", &wheel);
    let content_type = form.content_type();
    let body = form.into_body();

    // The closing boundary arrives, the 16 further bytes the length promised never do: the
    // client hangs up once the whole file went on to the registry.
    let file_streamed = || {
        setup.registry.log().lines().any(|line| {
            line.contains("\"PATCH /v2/integrity/hello_probe/blobs/uploads/")
                && line.contains("\" 202 ")
        })
    };
    let answer = raw_upload(
        &setup,
        &content_type,
        &body,
        body.len() + 16,
        b"",
        Some(&file_streamed),
    );
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "answered before the body was complete: {answer}"
    );
    let status = logged_upload_status(&setup, 0);
    assert_eq!(status, 400, "{answer}\n{}", setup.logs());
    assert_eq!(
        setup.listed(),
        Vec::<String>::new(),
        "nothing may be stored"
    );

    // The same upload with its epilogue sent in full is fine.
    let epilogue = b"\r\nthe epilogue\r\n";
    let answer = raw_upload(
        &setup,
        &content_type,
        &body,
        body.len() + epilogue.len(),
        epilogue,
        None,
    );
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{answer}\n{}",
        setup.logs()
    );
    assert_eq!(setup.listed(), [wheel_name("1.0")]);
}

#[test]
fn a_404_page_without_a_registry_error_code_is_a_502_and_nothing_is_written() {
    unreadable_index_is_a_502_and_nothing_is_written(
        "a proxy's 404 page",
        Fault::Answer {
            status: 404,
            content_type: "text/html".into(),
            body: b"<html><body>404 Not Found</body></html>".to_vec(),
        },
    );
}
