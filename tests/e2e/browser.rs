//! The pages for people (`+about/`) in a real browser: Debian's chromium, headless, driven
//! by Selenium from the test virtualenv (tests/fixtures/browser/check_pages.py) with
//! chromedriver's path given, so nothing is downloaded. A package whose description carries
//! a `<script>` and an `onerror` attribute must run nothing.

use std::path::Path;

use pyoci_test_support::{file_sha256, run_checked, write_dists, DistSpec};

use crate::support::{listed, text, Stack};

const NAMESPACE: &str = "people";
const PROJECT: &str = "browser-demo";
/// What the hostile description tries: set a global and the title.
const HOSTILE: &str = "# Hello readers\n\nSee [the docs](https://example.org/docs).\n\n\
<script>window.pwned = 'script'; document.title = 'pwned';</script>\n\n\
<img src=\"x\" onerror=\"window.pwned = 'onerror'; document.title = 'pwned'\">\n";

#[test]
fn pages_for_people_render_link_and_run_nothing_from_packages() {
    if !Path::new("/usr/bin/chromium").exists() || !Path::new("/usr/bin/chromedriver").exists() {
        panic!("chromium and chromium-driver are needed (scripts/test installs them)");
    }
    let stack = Stack::start_traced();
    let dir = tempfile::tempdir().unwrap();
    let files = write_dists(
        dir.path(),
        &[
            DistSpec::new(PROJECT, "1.0")
                .requires_python(">=3.8")
                .summary("first")
                .with_sdist(),
            DistSpec::new(PROJECT, "2.0")
                .requires_python(">=3.9")
                .summary("a demo for people")
                .description(HOSTILE),
        ],
    );
    stack.upload_files(NAMESPACE, &files);
    let project_url = stack.project_url(NAMESPACE, PROJECT);
    let yank = stack.http.request(
        "POST",
        &format!("{project_url}+yank/1.0"),
        &[],
        Some(br#"{"reason": "broken build"}"#.to_vec()),
    );
    assert_eq!(yank.status, 200, "{}", yank.text());

    // The hostile markup really is in the stored metadata the page reads.
    let metadata = stack.get(
        &format!("{project_url}browser_demo-2.0-py3-none-any.whl.metadata"),
        None,
    );
    assert!(
        metadata.text().contains("<script>window.pwned"),
        "{}",
        metadata.text()
    );

    // The simple page stays for clients: files only, no link to the pages for people.
    let simple = stack.get(&project_url, None);
    assert_eq!(listed(&simple).len(), 3, "{}", simple.text());
    assert!(!simple.text().contains("+about"), "{}", simple.text());
    let (_venv_dir, venv) = stack.fresh_venv();
    run_checked(
        &mut stack
            .python
            .pip_install(&venv, &stack.index_url(NAMESPACE), PROJECT),
    );
    run_checked(&mut stack.python.uv_pip_install(
        &venv,
        &stack.index_url(NAMESPACE),
        &format!("{PROJECT}==2.0"),
    ));

    let namespace_page = format!("{}+about/", stack.index_url(NAMESPACE));
    let page = stack.get(&namespace_page, None);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.contains("default-src 'none'")),
        "{:?}",
        page.headers
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("browser")
        .join("check_pages.py");
    let mut command = stack.python.command("python");
    command.arg(&script).args([&namespace_page, PROJECT]);
    let output = run_checked(&mut command);
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "the browser script printed no JSON ({err}):\n{}",
            text(&output)
        )
    });
    let strings = |key: &str| -> Vec<String> {
        seen[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} missing in {seen:#}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };

    assert_eq!(strings("namespace_projects"), [PROJECT], "{seen:#}");
    assert!(
        strings("namespace_rows")
            .iter()
            .any(|row| row.contains("2.0")),
        "{seen:#}"
    );
    assert_eq!(seen["h1"], "browser-demo 2.0", "{seen:#}");
    assert_eq!(seen["title"], "browser-demo · PyOCI", "{seen:#}");
    assert_eq!(
        strings("versions"),
        ["2.0", "1.0 yanked: broken build"],
        "{seen:#}"
    );
    let notes = strings("release_notes").join("\n");
    assert!(
        notes.contains("Requires-Python >=3.9") && notes.contains("Requires-Python >=3.8"),
        "{notes}"
    );
    assert!(notes.contains("Uploaded 20"), "{notes}");

    // Every file with its sha256, and each link downloads exactly that file.
    let hashes = strings("hashes");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let sha = file_sha256(file);
        assert!(
            strings("files").contains(&name),
            "{name} not listed: {seen:#}"
        );
        assert!(hashes.contains(&sha), "{sha} not shown: {seen:#}");
        assert_eq!(seen["downloads"][&name], sha, "{seen:#}");
    }

    let index = stack.index_url(NAMESPACE);
    assert_eq!(
        seen["install"]["pip"],
        format!("pip install --index-url {index} {PROJECT}")
    );
    assert_eq!(
        seen["install"]["uv"],
        format!("uv pip install --index-url {index} {PROJECT}")
    );
    assert!(
        seen["install"]["poetry"].as_str().unwrap().contains(&index),
        "{seen:#}"
    );

    // The description rendered, and nothing of it ran.
    assert_eq!(
        strings("description_headings"),
        ["Hello readers"],
        "{seen:#}"
    );
    assert_eq!(
        strings("description_links"),
        ["https://example.org/docs"],
        "{seen:#}"
    );
    assert_eq!(seen["pwned"], serde_json::Value::Null, "{seen:#}");
    assert_eq!(seen["scripts_in_page"], 0, "{seen:#}");
    assert_eq!(seen["event_attributes"], serde_json::json!([]), "{seen:#}");

    // The links between the pages work.
    assert_eq!(seen["simple_url"], project_url, "{seen:#}");
    assert_eq!(strings("simple_links").len(), 3, "{seen:#}");
    assert_eq!(seen["back_to_namespace"], namespace_page, "{seen:#}");
}
