//! Bounds on what PyOCI stores in a version's index and serves from it, against the real
//! binary and registry: each stored text over its bound is refused with a 400 naming it and
//! nothing is stored; a version's index stays within its bound; an index another tool
//! pushed over the bounds is skipped (or its oversized fields left out), not served to all.

use std::path::Path;

use pyoci_test_support::{
    sha256_hex, wheel_bytes, zip_bytes, HttpClient, HttpResponse, Multipart, Pyoci, Registry,
    RegistryAuth,
};

const NAMESPACE: &str = "bounds";
const PROJECT: &str = "hello-probe";
const REPO: &str = "bounds/hello_probe";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// PyOCI's bound on a version's index (`layout::limits::MAX_INDEX_BYTES`).
const MAX_INDEX_BYTES: usize = 1024 * 1024;

struct Setup {
    registry: Registry,
    pyoci: Pyoci,
    http: HttpClient,
}

impl Setup {
    fn start() -> Setup {
        Setup::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> Setup {
        let registry = Registry::start(RegistryAuth::None);
        let mut all = vec![("PYOCI_WRITE_SETTLE_MS", "0")];
        all.extend_from_slice(env);
        let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &all);
        Setup {
            registry,
            pyoci,
            http: HttpClient::new(),
        }
    }

    fn index_url(&self) -> String {
        self.pyoci.index_url(&self.registry, NAMESPACE)
    }

    fn project_url(&self) -> String {
        format!("{}{PROJECT}/", self.index_url())
    }

    fn upload(&self, form: Multipart) -> HttpResponse {
        self.http.post_multipart(&self.index_url(), form, &[])
    }

    fn upload_ok(&self, filename: &str, version: &str, content: &[u8]) {
        let response = self.upload(form(filename, version, content, &[]));
        assert_eq!(response.status, 200, "{}\n{}", response.text(), self.logs());
    }

    /// The registry's own answer for `REPO:tag`: status and body.
    fn tag(&self, tag: &str) -> (u16, Vec<u8>) {
        let response = self.http.get_with(
            &format!("{}/v2/{REPO}/manifests/{tag}", self.registry.url()),
            &[("Accept", INDEX_TYPE)],
        );
        (response.status, response.body)
    }

    /// Pushes `index` under `REPO:tag` straight to the registry, as another tool would.
    fn push_index(&self, tag: &str, index: &serde_json::Value) {
        let response = self.http.request(
            "PUT",
            &format!("{}/v2/{REPO}/manifests/{tag}", self.registry.url()),
            &[("Content-Type", INDEX_TYPE)],
            Some(serde_json::to_vec(index).unwrap()),
        );
        assert_eq!(response.status, 201, "{}", response.text());
    }

    /// Pushes `bytes` as a blob of `REPO` straight to the registry.
    fn push_blob(&self, bytes: &[u8]) {
        let base = self.registry.url();
        let started = self.http.request(
            "POST",
            &format!("{base}/v2/{REPO}/blobs/uploads/"),
            &[],
            None,
        );
        assert_eq!(started.status, 202, "{}", started.text());
        let location = started.header("location").expect("a Location").to_owned();
        let location = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let committed = self.http.request(
            "PUT",
            &format!("{location}{separator}digest=sha256:{}", sha256_hex(bytes)),
            &[("Content-Type", "application/octet-stream")],
            Some(bytes.to_vec()),
        );
        assert_eq!(committed.status, 201, "{}", committed.text());
    }

    /// Whether the registry holds a blob of these bytes.
    fn has_blob(&self, content: &[u8]) -> bool {
        let url = format!(
            "{}/v2/{REPO}/blobs/sha256:{}",
            self.registry.url(),
            sha256_hex(content)
        );
        self.http.request("HEAD", &url, &[], None).status == 200
    }

    fn logs(&self) -> String {
        format!(
            "--- pyoci log ---\n{}\n--- registry log ---\n{}",
            self.pyoci.log(),
            self.registry.log()
        )
    }
}

/// The form twine sends: `fields` before the file, as clients send them.
fn form(filename: &str, version: &str, content: &[u8], fields: &[(&str, &str)]) -> Multipart {
    let filetype = if filename.ends_with(".whl") {
        "bdist_wheel"
    } else {
        "sdist"
    };
    let mut form = Multipart::new()
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .text("name", PROJECT)
        .text("version", version)
        .text("filetype", filetype)
        .text("sha256_digest", &sha256_hex(content));
    for (name, value) in fields {
        form = form.text(name, value);
    }
    form.file("content", filename, "application/octet-stream", content)
}

/// A wheel of `PROJECT` `version` whose METADATA ends with `extra` header lines.
fn wheel_with_metadata(version: &str, extra: &str) -> Vec<u8> {
    let metadata = format!("Metadata-Version: 2.1\nName: {PROJECT}\nVersion: {version}\n{extra}");
    zip_bytes(&[
        ("hello_probe/__init__.py", b"".as_slice()),
        (
            &format!("hello_probe-{version}.dist-info/METADATA"),
            metadata.as_bytes(),
        ),
    ])
}

fn wheel_name(version: &str) -> String {
    format!("hello_probe-{version}-py3-none-any.whl")
}

fn assert_refused(setup: &Setup, response: &HttpResponse, expected: &[&str]) {
    assert_eq!(
        response.status,
        400,
        "{}\n{}",
        response.text(),
        setup.logs()
    );
    for part in expected {
        assert!(
            response.text().contains(part),
            "`{part}` not in: {}",
            response.text()
        );
    }
}

#[test]
fn each_stored_text_over_its_bound_is_refused_and_nothing_is_stored() {
    let setup = Setup::start();
    let name = wheel_name("1.0");

    // The issue's wheel: a few KB compressed, a Requires-Python of megabytes (stored here).
    let huge = format!(">=3.7{}", ",!=3.0.*".repeat(128 * 1024));
    let wheel = wheel_with_metadata("1.0", &format!("Requires-Python: {huge}\n"));
    let refused = setup.upload(form(&name, "1.0", &wheel, &[]));
    assert_refused(
        &setup,
        &refused,
        &[
            &format!("Requires-Python is {} bytes long", huge.len()),
            "at most 512 bytes",
        ],
    );
    assert!(!setup.has_blob(&wheel), "the file was committed");

    let summary = format!("Summary: {}\n", "s".repeat(513));
    let wheel = wheel_with_metadata("1.0", &summary);
    let refused = setup.upload(form(&name, "1.0", &wheel, &[]));
    assert_refused(
        &setup,
        &refused,
        &["Summary is 513 characters long", "at most 512 characters"],
    );
    assert!(!setup.has_blob(&wheel), "the file was committed");

    let wheel = wheel_bytes(PROJECT, "1.0", b"form fields");
    let label = format!("{}, https://example.test/", "L".repeat(33));
    let url = format!("Home, https://example.test/{}", "u".repeat(2048));
    let classifier = format!("PyOCI :: Label :: org.example.note :: {}", "v".repeat(2049));
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "project_urls",
            &label,
            &["a project_urls label is 33 characters long", "at most 32"],
        ),
        (
            "project_urls",
            &url,
            &[
                "a project_urls URL is 2069 bytes long",
                "at most 2048 bytes",
            ],
        ),
        (
            "classifiers",
            &classifier,
            &[
                "a `PyOCI :: Label ::` value is 2049 bytes long",
                "at most 2048",
            ],
        ),
    ];
    for (field, value, expected) in cases {
        let refused = setup.upload(form(&name, "1.0", &wheel, &[(field, value)]));
        assert_refused(&setup, &refused, expected);
    }
    assert!(!setup.has_blob(&wheel), "the file was committed");

    let long_name = format!("hello_probe-1.0-py3-none-{}.whl", "x".repeat(240));
    let refused = setup.upload(form(&long_name, "1.0", &wheel, &[]));
    assert_refused(
        &setup,
        &refused,
        &[
            &format!("the filename is {} bytes long", long_name.len()),
            "at most 255 bytes",
        ],
    );

    assert_eq!(setup.tag("1.0").0, 404, "a version index was written");

    // Within the bounds, the same fields are stored and served.
    let fits = format!("Requires-Python: >=3.8\nSummary: {}\n", "s".repeat(512));
    let wheel = wheel_with_metadata("1.0", &fits);
    let accepted = setup.upload(form(
        &name,
        "1.0",
        &wheel,
        &[("project_urls", "Homepage, https://example.test/")],
    ));
    assert_eq!(
        accepted.status,
        200,
        "{}\n{}",
        accepted.text(),
        setup.logs()
    );
    let json = setup
        .http
        .get(&format!("{}json", setup.project_url()))
        .json();
    assert_eq!(json["info"]["requires_python"], ">=3.8");
    assert_eq!(json["info"]["summary"].as_str().map(str::len), Some(512));

    // A yank reason over its bound changes nothing.
    let yank_url = format!("{}+yank/{name}", setup.project_url());
    let (_, before) = setup.tag("1.0");
    let reason = serde_json::json!({ "reason": "r".repeat(1025) }).to_string();
    let refused = setup
        .http
        .request("POST", &yank_url, &[], Some(reason.into_bytes()));
    assert_refused(
        &setup,
        &refused,
        &["the yank reason is 1025 bytes long", "at most 1024 bytes"],
    );
    assert_eq!(setup.tag("1.0").1, before, "the index changed");
}

/// The registry's index of `tag`, parsed.
fn index_of(setup: &Setup, tag: &str) -> serde_json::Value {
    let (status, body) = setup.tag(tag);
    assert_eq!(status, 200, "{}", setup.logs());
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn a_version_index_stays_within_its_bound_and_nothing_is_stored_beyond_it() {
    let setup = Setup::start();
    setup.upload_ok(
        &wheel_name("1.0"),
        "1.0",
        &wheel_bytes(PROJECT, "1.0", b"first"),
    );
    // Another tool leaves the index 400 bytes short of the bound: room for a yank without
    // a reason, not for one more file's entry or a long reason.
    let mut index = index_of(&setup, "1.0");
    index["annotations"]["org.example.padding"] = "".into();
    let padding = MAX_INDEX_BYTES - 400 - serde_json::to_vec(&index).unwrap().len();
    index["annotations"]["org.example.padding"] = "x".repeat(padding).into();
    setup.push_index("1.0", &index);
    let (_, before) = setup.tag("1.0");

    let sdist = pyoci_test_support::sdist_bytes(PROJECT, "1.0", b"second");
    let refused = setup.upload(form("hello_probe-1.0.tar.gz", "1.0", &sdist, &[]));
    assert_refused(
        &setup,
        &refused,
        &[
            "the index of bounds/hello_probe:1.0 would be ",
            "within 1048576 bytes",
        ],
    );
    assert!(!setup.has_blob(&sdist), "the file was committed");

    let yank_url = format!("{}+yank/{}", setup.project_url(), wheel_name("1.0"));
    let reason = serde_json::json!({ "reason": "r".repeat(1000) }).to_string();
    let refused = setup
        .http
        .request("POST", &yank_url, &[], Some(reason.into_bytes()));
    assert_refused(&setup, &refused, &["within 1048576 bytes"]);
    assert_eq!(setup.tag("1.0").1, before, "the index changed");

    let yanked = setup.http.request("POST", &yank_url, &[], None);
    assert_eq!(yanked.status, 200, "{}\n{}", yanked.text(), setup.logs());
}

/// Another tool's index, shaped like PyOCI's, naming the 1.0 file's manifest, with this
/// `Requires-Python`.
fn foreign_index(setup: &Setup, requires_python: String) -> serde_json::Value {
    let mut entry = index_of(setup, "1.0")["manifests"][0].clone();
    entry["annotations"]["com.pyoci.requires_python"] = requires_python.into();
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "artifactType": "application/pyoci.package.v1",
        "manifests": [entry],
    })
}

#[test]
fn an_oversized_foreign_index_is_skipped_and_oversized_fields_are_left_out() {
    let setup = Setup::start();
    setup.upload_ok(
        &wheel_name("1.0"),
        "1.0",
        &wheel_bytes(PROJECT, "1.0", b"a normal version"),
    );
    let foreign = |requires_python: String| foreign_index(&setup, requires_python);
    // Over the index bound (a 3 MiB annotation), and within it with a field over its own.
    setup.push_index("2.0", &foreign(">=3".repeat(1024 * 1024)));
    setup.push_index("3.0", &foreign(">=3".repeat(200 * 1024)));

    let page = setup.http.get(&setup.project_url());
    assert_eq!(page.status, 200, "{}\n{}", page.text(), setup.logs());
    let html = page.text();
    assert!(html.len() < 16 * 1024, "a page of {} bytes", html.len());
    assert!(html.contains(&wheel_name("1.0")), "{html}");
    assert!(html.contains(&wheel_name("3.0")), "{html}");
    assert!(!html.contains(&wheel_name("2.0")), "{html}");

    let json = setup.http.get(&format!("{}json", setup.project_url()));
    assert_eq!(json.status, 200, "{}", json.text());
    assert!(
        json.body.len() < 16 * 1024,
        "/json of {} bytes",
        json.body.len()
    );
    let json = json.json();
    let mut releases: Vec<&String> = json["releases"].as_object().unwrap().keys().collect();
    releases.sort();
    assert_eq!(releases, ["1.0", "3.0"]);
    assert!(json["releases"]["3.0"][0]["requires_python"].is_null());

    let log = setup.pyoci.log();
    assert!(
        log.contains("listings skip the version") && log.contains("2.0"),
        "{log}"
    );
    assert!(log.contains("pages leave them out"), "{log}");

    // Nobody writes over the oversized index either.
    let (_, before) = setup.tag("2.0");
    let refused = setup.upload(form(
        &wheel_name("2.0"),
        "2.0",
        &wheel_bytes(PROJECT, "2.0", b"x"),
        &[],
    ));
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(refused.text().contains("untouched"), "{}", refused.text());
    assert_eq!(setup.tag("2.0").1, before);
}

#[test]
fn an_oversized_index_recorded_in_the_listing_document_is_skipped_too() {
    let setup = Setup::start_with(&[("PYOCI_LISTING_DOCUMENT", "true")]);
    setup.upload_ok(
        &wheel_name("1.0"),
        "1.0",
        &wheel_bytes(PROJECT, "1.0", b"a normal version"),
    );
    let oversized = foreign_index(&setup, ">=3".repeat(1024 * 1024));
    setup.push_index("2.0", &oversized);

    // Another writer recorded that index in the listing document: too large to inline, so
    // in a blob the document's index names (`0-pyoci-listing`, see docs/listing-document.md).
    let index_url = format!(
        "{}/v2/{REPO}/manifests/0-pyoci-listing",
        setup.registry.url()
    );
    let index = setup.http.get_with(&index_url, &[("Accept", INDEX_TYPE)]);
    assert_eq!(index.status, 200, "{}", setup.logs());
    let mut index = index.json();
    let inline = index["annotations"]["com.pyoci.listing.v1"]
        .as_str()
        .expect("a small document is inline")
        .to_owned();
    let mut document: serde_json::Value = serde_json::from_str(&inline).unwrap();
    document["versions"]["2.0"] = serde_json::json!({
        "digest": format!("sha256:{}", sha256_hex(&serde_json::to_vec(&oversized).unwrap())),
        "index": oversized,
    });
    let document = serde_json::to_vec(&document).unwrap();
    setup.push_blob(&document);
    let blob = serde_json::json!({
        "mediaType": "application/vnd.pyoci.listing.v1+json",
        "digest": format!("sha256:{}", sha256_hex(&document)),
        "size": document.len(),
    });
    let annotations = index["annotations"].as_object_mut().unwrap();
    annotations.remove("com.pyoci.listing.v1");
    annotations.insert("com.pyoci.listing.v1.blob".into(), blob.to_string().into());
    let pushed = setup.http.request(
        "PUT",
        &index_url,
        &[("Content-Type", INDEX_TYPE)],
        Some(serde_json::to_vec(&index).unwrap()),
    );
    assert_eq!(pushed.status, 201, "{}", pushed.text());

    let page = setup.http.get(&setup.project_url());
    assert_eq!(page.status, 200, "{}\n{}", page.text(), setup.logs());
    let html = page.text();
    assert!(html.len() < 16 * 1024, "a page of {} bytes", html.len());
    assert!(html.contains(&wheel_name("1.0")), "{html}");
    assert!(!html.contains(&wheel_name("2.0")), "{html}");
    assert!(
        setup.pyoci.log().contains("listings skip the version"),
        "{}",
        setup.logs()
    );
}
