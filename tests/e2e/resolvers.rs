//! End to end: what resolvers read from PyOCI's index. `requires-python` and yanking steer
//! pip and uv; `.metadata` files are the wheels' exact METADATA (PEP 658); the PyPI-style JSON
//! API has PyPI's fields; and a tree of 20 interdependent packages resolves through PyOCI
//! without downloading a single wheel when metadata is stored, counted against a PyOCI whose
//! conservative registry profile stores none.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use pyoci_test_support::{
    file_sha256, run_checked, sha256_hex, wheel_core_metadata, write_dists, ClientHome, DistSpec,
    LoggedRequest, Pyoci, Venv, REQUEST_LOG_FILTER,
};

use crate::support::{dists, resolve, text, Stack, PROJECT};

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One package a resolver chose.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pick {
    name: String,
    version: String,
    yanked: bool,
}

/// `pip install --dry-run --report` of `requirement` from `index`: what pip would install.
fn pip_picks(stack: &Stack, home: &ClientHome, index: &str, requirement: &str) -> Vec<Pick> {
    let report = home.path().join("pip-report.json");
    let mut pip = home.command(&stack.python, "python", home.path());
    pip.args(["-m", "pip", "install", "--dry-run", "--ignore-installed"])
        .args(["--no-cache-dir", "--quiet", "--report"])
        .arg(&report)
        .args(["--index-url", index, requirement]);
    run_checked(&mut pip);
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let mut picks: Vec<Pick> = report["install"]
        .as_array()
        .unwrap_or_else(|| panic!("no install list in pip's report: {report}"))
        .iter()
        .map(|item| Pick {
            name: item["metadata"]["name"].as_str().unwrap().to_owned(),
            version: item["metadata"]["version"].as_str().unwrap().to_owned(),
            yanked: item["is_yanked"].as_bool().unwrap(),
        })
        .collect();
    picks.sort();
    picks
}

/// `uv pip install --dry-run` of `requirement` from `index` into an empty virtualenv:
/// `name==version` of each package uv would install, and uv's whole output.
fn uv_picks(
    stack: &Stack,
    home: &ClientHome,
    index: &str,
    requirement: &str,
) -> (Vec<String>, String) {
    let venv_dir = home
        .path()
        .join(format!("venv-{}", sha256_hex(index.as_bytes())));
    let venv = if venv_dir.exists() {
        Venv::at(&venv_dir)
    } else {
        stack.python.new_venv(&venv_dir)
    };
    let mut uv = home.command(&stack.python, "uv", home.path());
    uv.args(["pip", "install", "--dry-run", "--no-cache", "--python"])
        .arg(venv.python())
        .args(["--index-url", index, requirement]);
    let output = text(&run_checked(&mut uv));
    let mut picks: Vec<String> = output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("+ "))
        .map(str::to_owned)
        .collect();
    picks.sort();
    (picks, output)
}

fn picked(name: &str, version: &str, yanked: bool) -> Pick {
    Pick {
        name: name.to_owned(),
        version: version.to_owned(),
        yanked,
    }
}

#[test]
fn requires_python_and_yanking_steer_pip_and_uv() {
    let stack = Stack::start_traced();
    let home = ClientHome::new();
    let dir = tempfile::tempdir().unwrap();
    let files = write_dists(
        dir.path(),
        &[
            DistSpec::new("rp-demo", "1.0").requires_python(">=3.8"),
            DistSpec::new("rp-demo", "2.0")
                .requires_python(">=3.99")
                .with_sdist(),
            DistSpec::new("yank-demo", "1.0"),
            DistSpec::new("yank-demo", "2.0").with_sdist(),
        ],
    );
    stack.upload_files("resolvers", &files);
    let index = stack.index_url("resolvers");

    // The newest version needs Python 3.99, so both pick the older one.
    assert_eq!(
        pip_picks(&stack, &home, &index, "rp-demo"),
        [picked("rp-demo", "1.0", false)]
    );
    let (uv, output) = uv_picks(&stack, &home, &index, "rp-demo");
    assert_eq!(uv, ["rp-demo==1.0"], "{output}");

    // Yank 2.0 with a reason: both files of the version are yanked.
    let yank_url = format!("{}+yank/2.0", stack.project_url("resolvers", "yank-demo"));
    let yank = stack.http.request(
        "POST",
        &yank_url,
        &[("Content-Type", "application/json")],
        Some(br#"{"reason": "broken build"}"#.to_vec()),
    );
    assert_eq!(yank.status, 200, "{}\n{}", yank.text(), stack.logs());
    let page = stack.json_page(&stack.project_url("resolvers", "yank-demo"));
    for file in page["files"].as_array().unwrap() {
        let expected = if file["filename"].as_str().unwrap().contains("-2.0") {
            serde_json::json!("broken build")
        } else {
            serde_json::json!(false)
        };
        assert_eq!(file["yanked"], expected, "{page:#}");
    }

    // Unpinned: the yanked version is passed over. Pinned: it is still installable.
    assert_eq!(
        pip_picks(&stack, &home, &index, "yank-demo"),
        [picked("yank-demo", "1.0", false)]
    );
    assert_eq!(
        pip_picks(&stack, &home, &index, "yank-demo==2.0"),
        [picked("yank-demo", "2.0", true)]
    );
    let (uv, output) = uv_picks(&stack, &home, &index, "yank-demo");
    assert_eq!(uv, ["yank-demo==1.0"], "{output}");
    let (uv, output) = uv_picks(&stack, &home, &index, "yank-demo==2.0");
    assert_eq!(uv, ["yank-demo==2.0"], "{output}");
    assert!(
        output.contains("broken build"),
        "uv showed no reason:\n{output}"
    );

    // Unyanked, 2.0 is the newest choice again.
    let unyank_url = format!("{}+unyank/2.0", stack.project_url("resolvers", "yank-demo"));
    let unyank = stack.http.request("POST", &unyank_url, &[], None);
    assert_eq!(unyank.status, 200, "{}", unyank.text());
    assert_eq!(
        pip_picks(&stack, &home, &index, "yank-demo"),
        [picked("yank-demo", "2.0", false)]
    );
    let (uv, output) = uv_picks(&stack, &home, &index, "yank-demo");
    assert_eq!(uv, ["yank-demo==2.0"], "{output}");
}

/// The `<a ...>filename</a>` tag of an HTML simple page.
fn anchor_of<'a>(html: &'a str, filename: &str) -> &'a str {
    let close = format!(">{filename}</a>");
    let end = html
        .find(&close)
        .unwrap_or_else(|| panic!("{filename} not on the page:\n{html}"));
    let start = html[..end].rfind("<a ").unwrap();
    &html[start..end]
}

#[test]
fn metadata_files_are_the_wheels_own_metadata() {
    let stack = Stack::start_traced();
    let dir = tempfile::tempdir().unwrap();
    // A setuptools wheel and sdist (python -m build), and a directly written one.
    let built = dists("0.1.0", "original");
    let written = write_dists(
        dir.path(),
        &[DistSpec::new("meta-demo", "1.0")
            .requires("hello-pyoci>=0.1")
            .requires_python(">=3.10")
            .with_sdist()],
    );
    let mut files = vec![built.sdist.clone(), built.wheel.clone()];
    files.extend(written.iter().cloned());
    stack.upload_files("pep658", &files);

    for (project, wheel, sdist, requires_python) in [
        (PROJECT, &built.wheel, &built.sdist, ">=3.8"),
        ("meta-demo", &written[0], &written[1], ">=3.10"),
    ] {
        let page_url = stack.project_url("pep658", project);
        let metadata = wheel_core_metadata(wheel);
        let metadata_sha256 = sha256_hex(&metadata);

        // JSON: core-metadata and its legacy twin carry the METADATA's sha256.
        let page = stack.json_page(&page_url);
        let entry = |path: &Path| {
            page["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|file| file["filename"] == file_name(path).as_str())
                .cloned()
                .unwrap_or_else(|| panic!("{} not listed:\n{page:#}", file_name(path)))
        };
        let wheel_entry = entry(wheel);
        let expected = serde_json::json!({ "sha256": metadata_sha256 });
        assert_eq!(wheel_entry["core-metadata"], expected, "{page:#}");
        assert_eq!(wheel_entry["dist-info-metadata"], expected, "{page:#}");
        assert_eq!(wheel_entry["requires-python"], requires_python);
        let sdist_entry = entry(sdist);
        for key in ["core-metadata", "dist-info-metadata"] {
            assert!(
                sdist_entry.get(key).is_none() || sdist_entry[key] == false,
                "an sdist has no PEP 658 metadata: {sdist_entry:#}"
            );
        }
        // The sdist's Requires-Python comes from its PKG-INFO.
        assert_eq!(sdist_entry["requires-python"], requires_python);

        // HTML: the same, as data- attributes.
        let html = stack.get(&page_url, None).text();
        let wheel_anchor = anchor_of(&html, &file_name(wheel));
        for attribute in ["data-core-metadata", "data-dist-info-metadata"] {
            assert!(
                wheel_anchor.contains(&format!("{attribute}=\"sha256={metadata_sha256}\"")),
                "{wheel_anchor}"
            );
        }
        let sdist_anchor = anchor_of(&html, &file_name(sdist));
        for attribute in ["data-core-metadata", "data-dist-info-metadata"] {
            assert!(!sdist_anchor.contains(attribute), "{sdist_anchor}");
        }

        // <file-url>.metadata is the exact METADATA; the sdist has none.
        let wheel_url = resolve(&page_url, wheel_entry["url"].as_str().unwrap());
        let served = stack.get(&format!("{wheel_url}.metadata"), None);
        assert_eq!(served.status, 200, "{}\n{}", served.text(), stack.logs());
        assert!(
            served.body == metadata,
            "{project}: .metadata differs from the wheel's METADATA:\n--- served ---\n{}\n--- in the wheel ---\n{}",
            served.text(),
            String::from_utf8_lossy(&metadata)
        );
        let sdist_url = resolve(&page_url, sdist_entry["url"].as_str().unwrap());
        let none = stack.get(&format!("{sdist_url}.metadata"), None);
        assert_eq!(none.status, 404, "{}", none.text());
    }
}

/// Asserts `value` is a JSON string matching `shape` (`9` for a digit, other chars literal).
fn assert_shaped(value: &serde_json::Value, shape: &str, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"));
    let fits =
        text.len() == shape.len()
            && text.chars().zip(shape.chars()).all(|(c, s)| {
                if s == '9' {
                    c.is_ascii_digit()
                } else {
                    c == s
                }
            });
    assert!(fits, "{what} = {text:?} does not look like {shape}");
}

fn assert_string_or_null(value: &serde_json::Value, what: &str) {
    assert!(
        value.is_string() || value.is_null(),
        "{what} is neither a string nor null: {value}"
    );
}

#[test]
fn the_json_api_has_pypis_fields_and_types() {
    let stack = Stack::start_traced();
    let old = dists("0.1.0", "original");
    let new = dists("0.2.0", "original");
    let files = [&old.sdist, &old.wheel, &new.sdist, &new.wheel];
    stack.upload_files("jsonapi", &files.map(|file| file.to_path_buf()));
    let page_url = stack.project_url("jsonapi", PROJECT);
    let yank = stack.http.request(
        "POST",
        &format!("{page_url}+yank/0.1.0"),
        &[],
        Some(br#"{"reason": "superseded"}"#.to_vec()),
    );
    assert_eq!(yank.status, 200, "{}", yank.text());

    let json_url = format!("{page_url}json");
    let response = stack.get(&json_url, None);
    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        stack.logs()
    );
    assert!(
        response
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    let json = response.json();

    let info = &json["info"];
    assert_eq!(info["name"], PROJECT, "{json:#}");
    assert_eq!(info["version"], "0.2.0", "the newest version: {json:#}");
    assert_eq!(
        info["summary"], "A fixture package for PyOCI's end-to-end tests",
        "{json:#}"
    );
    assert_string_or_null(&info["home_page"], "info.home_page");
    assert_eq!(
        info["project_urls"],
        serde_json::json!({ "Homepage": "https://example.invalid/hello-pyoci" }),
        "{json:#}"
    );
    assert_eq!(info["requires_python"], ">=3.8", "{json:#}");

    let releases = json["releases"].as_object().expect("releases is an object");
    assert_eq!(
        releases.keys().collect::<Vec<_>>(),
        ["0.1.0", "0.2.0"],
        "{json:#}"
    );
    let by_name: BTreeMap<String, &PathBuf> =
        files.iter().map(|file| (file_name(file), *file)).collect();
    for (version, release) in releases {
        let release = release.as_array().expect("a release is a list of files");
        assert_eq!(release.len(), 2, "{version}: {json:#}");
        for file in release {
            let filename = file["filename"].as_str().expect("filename is a string");
            let local = by_name
                .get(filename)
                .unwrap_or_else(|| panic!("{filename} was never uploaded"));
            let what = |field: &str| format!("releases[{version}][{filename}].{field}");
            let is_wheel = filename.ends_with(".whl");
            assert_eq!(
                file["digests"]["sha256"],
                file_sha256(local),
                "{}",
                what("digests")
            );
            assert_eq!(
                file["size"].as_u64(),
                Some(fs::metadata(local).unwrap().len()),
                "{}",
                what("size")
            );
            assert_eq!(
                file["packagetype"],
                if is_wheel { "bdist_wheel" } else { "sdist" },
                "{}",
                what("packagetype")
            );
            assert_eq!(
                file["python_version"],
                if is_wheel { "py3" } else { "source" },
                "{}",
                what("python_version")
            );
            assert_eq!(
                file["requires_python"],
                ">=3.8",
                "{}",
                what("requires_python")
            );
            assert_shaped(
                &file["upload_time"],
                "9999-99-99T99:99:99",
                &what("upload_time"),
            );
            assert_shaped(
                &file["upload_time_iso_8601"],
                "9999-99-99T99:99:99.999999Z",
                &what("upload_time_iso_8601"),
            );
            let yanked = version == "0.1.0";
            assert_eq!(file["yanked"], yanked, "{}", what("yanked"));
            assert_eq!(
                file["yanked_reason"],
                if yanked {
                    serde_json::json!("superseded")
                } else {
                    serde_json::Value::Null
                },
                "{}",
                what("yanked_reason")
            );
            // The url serves the very file.
            let url = file["url"].as_str().expect("url is a string");
            let download = stack.get(&resolve(&json_url, url), None);
            assert_eq!(download.status, 200, "{}: {url}", what("url"));
            assert_eq!(
                sha256_hex(&download.body),
                file_sha256(local),
                "{}",
                what("url")
            );
        }
    }
    assert_eq!(json["urls"], json["releases"]["0.2.0"], "{json:#}");
}

// --- A tree of 20 packages, resolved with and without stored metadata --------------------

const TREE_SIZE: usize = 20;
const TREE_VERSIONS: [&str; 3] = ["1.0", "1.1", "2.0"];

fn tree_name(index: usize) -> String {
    format!("tree-pkg-{index:02}")
}

/// Package `i` depends on `i - 1` (`<2` when `i` is odd, so a resolver must pass over a
/// newer version) and on one or two other lower-numbered packages: 1 to 3 dependencies each.
fn tree_dependencies(index: usize) -> Vec<(String, &'static str)> {
    let mut dependencies: Vec<(usize, &'static str)> = Vec::new();
    if index > 0 {
        let previous = if index % 2 == 1 { ">=1.0,<2" } else { ">=1.1" };
        dependencies.push((index - 1, previous));
        for other in [index * 7 % index, index * 3 % index] {
            if !dependencies.iter().any(|(known, _)| *known == other) {
                dependencies.push((other, ">=1.0"));
            }
        }
    }
    dependencies
        .into_iter()
        .map(|(other, specifier)| (tree_name(other), specifier))
        .collect()
}

fn tree_specs() -> Vec<DistSpec> {
    (0..TREE_SIZE)
        .flat_map(|index| {
            TREE_VERSIONS.iter().map(move |version| {
                tree_dependencies(index).into_iter().fold(
                    DistSpec::new(&tree_name(index), version).requires_python(">=3.8"),
                    |spec, (name, specifier)| spec.requires(&format!("{name}{specifier}")),
                )
            })
        })
        .collect()
}

/// `2` -> (2, 0), `1.1` -> (1, 1).
fn version_key(version: &str) -> (u32, u32) {
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    (major.parse().unwrap(), minor.parse().unwrap())
}

/// Whether `version` satisfies a `>=a,<b` style specifier (the only operators used here).
fn satisfies(version: &str, specifier: &str) -> bool {
    specifier.split(',').all(|clause| {
        let (operator, bound) = if let Some(bound) = clause.strip_prefix(">=") {
            (">=", bound)
        } else if let Some(bound) = clause.strip_prefix('<') {
            ("<", bound)
        } else {
            panic!("unexpected specifier {clause}")
        };
        match operator {
            ">=" => version_key(version) >= version_key(bound),
            _ => version_key(version) < version_key(bound),
        }
    })
}

/// Checks a resolution of the tree's top package: every package once, every dependency
/// satisfied, and the newest allowed version of each (odd dependents cap even packages <2).
fn assert_tree_resolution(pins: &[String], output: &str) {
    let versions: BTreeMap<&str, &str> = pins
        .iter()
        .map(|pin| {
            pin.split_once("==")
                .unwrap_or_else(|| panic!("{pin}: {output}"))
        })
        .collect();
    assert_eq!(versions.len(), TREE_SIZE, "{output}");
    for index in 0..TREE_SIZE {
        let name = tree_name(index);
        let version = versions
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} not resolved: {output}"));
        for (dependency, specifier) in tree_dependencies(index) {
            let chosen = versions[dependency.as_str()];
            assert!(
                satisfies(chosen, specifier),
                "{name} needs {dependency}{specifier}, got {chosen}"
            );
        }
        let capped = index % 2 == 0 && index + 1 < TREE_SIZE;
        assert_eq!(
            *version,
            if capped { "1.1" } else { "2.0" },
            "{name}: {output}"
        );
    }
}

/// What a resolution asked PyOCI for.
#[derive(Debug, Default)]
struct RequestCounts {
    total: usize,
    pages: usize,
    metadata: usize,
    wheel_heads: usize,
    wheel_gets: usize,
}

impl RequestCounts {
    fn of(requests: &[LoggedRequest]) -> RequestCounts {
        let mut counts = RequestCounts {
            total: requests.len(),
            ..RequestCounts::default()
        };
        for request in requests {
            let last = request.last_segment();
            if last.is_empty() {
                counts.pages += 1;
            } else if last.ends_with(".whl.metadata") {
                counts.metadata += 1;
            } else if last.ends_with(".whl") && request.method == "HEAD" {
                counts.wheel_heads += 1;
            } else if last.ends_with(".whl") {
                counts.wheel_gets += 1;
            }
        }
        counts
    }

    fn wheel_requests(&self) -> usize {
        self.wheel_heads + self.wheel_gets
    }
}

/// A PyOCI's requests and the registry's ranged blob answers while `resolve` runs.
fn counted<T>(
    pyoci: &Pyoci,
    stack: &Stack,
    namespace: &str,
    resolve: impl FnOnce() -> T,
) -> (T, RequestCounts, usize) {
    let pyoci_mark = pyoci.log().len();
    let registry_mark = stack.registry.log().len();
    let result = resolve();
    let requests = pyoci_test_support::answered_requests(&pyoci.log()[pyoci_mark..]);
    let registry_log = stack.registry.log();
    let ranged = registry_log[registry_mark..]
        .lines()
        .filter(|line| {
            line.contains(&format!("/v2/{namespace}/"))
                && line.contains("/blobs/sha256:")
                && line.contains("\" 206 ")
        })
        .count();
    (result, RequestCounts::of(&requests), ranged)
}

#[test]
fn a_tree_of_twenty_packages_resolves_from_metadata_alone() {
    // PyOCI with the default profile stores each wheel's METADATA; a second PyOCI in front
    // of the same registry writes the conservative way, without it.
    let stack = Stack::start_traced();
    let conservative = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[
            ("RUST_LOG", REQUEST_LOG_FILTER),
            ("PYOCI_WRITE_SETTLE_MS", "0"),
            ("PYOCI_REGISTRY_PROFILES", "127.0.0.1=conservative"),
        ],
    );
    let home = ClientHome::new();
    let dir = tempfile::tempdir().unwrap();
    let files = write_dists(dir.path(), &tree_specs());
    assert_eq!(files.len(), TREE_SIZE * TREE_VERSIONS.len());
    let top = tree_name(TREE_SIZE - 1);

    stack.upload_files("tree-meta", &files);
    let plain_upload_url = conservative.index_url(&stack.registry, "tree-plain");
    let file_refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    run_checked(
        &mut stack
            .python
            .twine_upload(&plain_upload_url, "any", "any", &file_refs),
    );
    let with_metadata = stack.index_url("tree-meta");
    let without_metadata = plain_upload_url;
    let plain_page = stack.json_page(&format!("{without_metadata}{}/", tree_name(0)));
    assert!(
        plain_page["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|file| file.get("core-metadata").is_none()),
        "the conservative profile stored metadata: {plain_page:#}"
    );

    // uv, with and without PEP 658 metadata: the same resolution.
    let ((uv_pins, uv_output), uv_meta, _) = counted(&stack.pyoci, &stack, "tree-meta", || {
        uv_picks(&stack, &home, &with_metadata, &top)
    });
    assert_tree_resolution(&uv_pins, &uv_output);
    let ((uv_plain_pins, uv_plain_output), uv_plain, uv_ranged) =
        counted(&conservative, &stack, "tree-plain", || {
            uv_picks(&stack, &home, &without_metadata, &top)
        });
    assert_eq!(uv_plain_pins, uv_pins, "{uv_plain_output}");

    // pip, the same two ways.
    let (pip, pip_meta, _) = counted(&stack.pyoci, &stack, "tree-meta", || {
        pip_picks(&stack, &home, &with_metadata, &top)
    });
    let pip_pins: Vec<String> = pip
        .iter()
        .map(|pick| format!("{}=={}", pick.name, pick.version))
        .collect();
    assert_eq!(pip_pins, uv_pins);
    let (pip_plain, pip_plain_counts, pip_ranged) =
        counted(&conservative, &stack, "tree-plain", || {
            pip_picks(&stack, &home, &without_metadata, &top)
        });
    assert_eq!(pip_plain, pip);

    for (client, meta, plain, ranged) in [
        ("uv", &uv_meta, &uv_plain, uv_ranged),
        ("pip", &pip_meta, &pip_plain_counts, pip_ranged),
    ] {
        eprintln!(
            "{client} resolution of {TREE_SIZE} packages: {} requests with metadata ({} pages, \
             {} .metadata, {} wheel downloads), {} without ({} pages, {} wheel HEAD + {} wheel \
             GET, {} of them ranged at the registry)",
            meta.total,
            meta.pages,
            meta.metadata,
            meta.wheel_requests(),
            plain.total,
            plain.pages,
            plain.wheel_heads,
            plain.wheel_gets,
            ranged
        );
        assert_eq!(
            meta.wheel_requests(),
            0,
            "{client} touched a wheel: {meta:?}"
        );
        assert!(meta.metadata >= TREE_SIZE, "{client}: {meta:?}");
        assert_eq!(meta.pages, TREE_SIZE, "{client}: {meta:?}");
        assert_eq!(plain.metadata, 0, "{client}: {plain:?}");
        assert!(plain.wheel_gets >= TREE_SIZE, "{client}: {plain:?}");
    }
}
