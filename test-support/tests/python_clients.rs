//! The fixture builds with the test virtualenv, and its wheel installs and imports.

use pyoci_test_support::{build_fixture, file_sha256, run_checked, Python};

#[test]
fn fixture_builds_installs_and_changes_with_its_marker() {
    let python = Python::locate();
    for program in ["twine", "uv", "poetry", "pip"] {
        assert!(python.bin(program).exists());
    }
    let dir = tempfile::tempdir().unwrap();
    let first = build_fixture(&dir.path().join("a"), "hello-pyoci", "0.1.0", "one");
    assert_eq!(first.sdist_name(), "hello_pyoci-0.1.0.tar.gz");
    assert_eq!(first.wheel_name(), "hello_pyoci-0.1.0-py3-none-any.whl");
    let changed = build_fixture(&dir.path().join("b"), "hello-pyoci", "0.1.0", "two");
    assert_eq!(changed.wheel_name(), first.wheel_name());
    assert_ne!(file_sha256(&changed.wheel), file_sha256(&first.wheel));
    let same = build_fixture(&dir.path().join("c"), "hello-pyoci", "0.1.0", "one");
    assert_eq!(
        file_sha256(&same.wheel),
        file_sha256(&first.wheel),
        "wheels are reproducible"
    );

    let venv = python.new_venv(&dir.path().join("venv"));
    let mut install = python.command("python");
    install
        .args(["-m", "pip", "--python"])
        .arg(venv.python())
        .args(["install", "--no-index", "--no-cache-dir"])
        .arg(&first.wheel);
    run_checked(&mut install);
    assert_eq!(
        venv.import_attribute("hello_pyoci", "GREETING"),
        "Hello from hello-pyoci 0.1.0 via PyOCI"
    );
    assert_eq!(venv.import_attribute("hello_pyoci", "MARKER"), "one");
}

#[test]
fn other_project_names_build_other_modules() {
    let dir = tempfile::tempdir().unwrap();
    let dists = build_fixture(dir.path(), "Other.Pkg", "2.0", "");
    assert_eq!(dists.wheel_name(), "other_pkg-2.0-py3-none-any.whl");
    assert_eq!(dists.sdist_name(), "other_pkg-2.0.tar.gz");
}

#[test]
fn fresh_venvs_are_isolated() {
    let python = Python::locate();
    let dir = tempfile::tempdir().unwrap();
    let venv = python.new_venv(dir.path());
    let config = std::fs::read_to_string(dir.path().join("pyvenv.cfg")).unwrap();
    assert!(
        config.contains("include-system-site-packages = false"),
        "{config}"
    );
    let mut probe = python.command(venv.python().to_str().unwrap());
    probe.args(["-c", "import twine"]);
    pyoci_test_support::run_expecting_failure(&mut probe);
}
