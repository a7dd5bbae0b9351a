//! End to end with every Python client: uv (pip interface and projects), poetry, pdm install
//! through PyOCI; uv, poetry and hatch publish through it.
//!
//! Each client is pointed only at PyOCI, with its home, config and caches in a throwaway
//! [`ClientHome`] whose proxy variables lead nowhere: a test passes only if PyOCI alone served
//! every package. The fixture packages are small wheels written by `write_dists`, and the
//! dependency `pyoci-e2e-dep` has a newest version that needs Python 3.99, so every client
//! must honour `requires-python` to pick 1.1.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Output,
};

use pyoci_test_support::{
    file_sha256, run_checked, run_expecting_failure, write_dists, ClientHome, DistSpec, Venv,
};

use crate::support::{text, Stack};

const DEP: &str = "pyoci-e2e-dep";
const DEP_MODULE: &str = "pyoci_e2e_dep";
const LIB: &str = "pyoci-e2e-lib";
const LIB_MODULE: &str = "pyoci_e2e_lib";
/// What a resolver must pick for `DEP`: 2.0 needs Python 3.99.
const DEP_PICKED: &str = "1.1";

/// `LIB` 1.0 depends on `DEP>=1.0`; `DEP` has 1.0, 1.1 (both with sdists) and 2.0, which
/// requires Python 3.99.
fn library_and_dependency(dir: &Path) -> Vec<PathBuf> {
    write_dists(
        dir,
        &[
            DistSpec::new(DEP, "1.0")
                .requires_python(">=3.8")
                .with_sdist(),
            DistSpec::new(DEP, "1.1")
                .requires_python(">=3.8")
                .with_sdist(),
            DistSpec::new(DEP, "2.0").requires_python(">=3.99"),
            DistSpec::new(LIB, "1.0")
                .requires(&format!("{DEP}>=1.0"))
                .requires_python(">=3.8"),
        ],
    )
}

fn only_the_dependency(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|path| file_name(path).starts_with(DEP_MODULE))
        .cloned()
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Asserts the installed versions of the library and its dependency in `venv`.
fn assert_installed(venv: &Venv) {
    assert_eq!(venv.import_attribute(LIB_MODULE, "VERSION"), "1.0");
    assert_eq!(venv.import_attribute(DEP_MODULE, "VERSION"), DEP_PICKED);
}

/// `(file name, sha256)` of each file.
fn hashes(files: &[PathBuf]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|file| (file_name(file), file_sha256(file)))
        .collect()
}

/// Every file is on the project's JSON page with its sha256.
fn assert_listed(stack: &Stack, namespace: &str, project: &str, files: &[PathBuf]) {
    assert_listed_with(stack, namespace, project, &hashes(files));
}

/// Every `(file name, sha256)` is on the project's JSON page.
fn assert_listed_with(stack: &Stack, namespace: &str, project: &str, files: &[(String, String)]) {
    let page = stack.json_page(&stack.project_url(namespace, project));
    let listed = page["files"].as_array().cloned().unwrap_or_default();
    for (name, sha256) in files {
        let entry = listed
            .iter()
            .find(|entry| entry["filename"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} is not listed:\n{page:#}"));
        assert_eq!(entry["hashes"]["sha256"], sha256.as_str(), "{name}");
    }
    assert_eq!(listed.len(), files.len(), "{page:#}");
}

fn run(home: &ClientHome, stack: &Stack, program: &str, args: &[&str], cwd: &Path) -> Output {
    let mut command = home.command(&stack.python, program, cwd);
    command.args(args);
    run_checked(&mut command)
}

/// Requests that PyOCI answered with an error since `mark`, for assertions.
fn failed_requests(stack: &Stack, mark: usize) -> Vec<String> {
    stack
        .requests_since(mark)
        .into_iter()
        .filter(|request| request.status >= 400)
        .map(|request| format!("{} {} -> {}", request.method, request.uri, request.status))
        .collect()
}

#[test]
fn uv_pip_install_and_uv_sync_with_an_explicit_index() {
    let stack = Stack::start_traced();
    let dists = tempfile::tempdir().unwrap();
    let files = library_and_dependency(dists.path());
    // Everything in one namespace; only the dependency in a second, the project's default.
    stack.upload_files("uv-all", &files);
    stack.upload_files("uv-deps", &only_the_dependency(&files));
    let all = stack.index_url("uv-all");
    let deps = stack.index_url("uv-deps");
    let home = ClientHome::new();

    // uv pip install: reads PEP 658 metadata, never the 2.0 wheel it cannot use.
    let mark = stack.log_mark();
    let (_venv_dir, venv) = stack.fresh_venv();
    let python = venv.python();
    let python = python.to_str().unwrap();
    run(
        &home,
        &stack,
        "uv",
        &[
            "pip",
            "install",
            "--python",
            python,
            "--no-cache",
            "--index-url",
            &all,
            LIB,
        ],
        home.path(),
    );
    assert_installed(&venv);
    let requests = stack.requests_since(mark);
    let metadata = requests
        .iter()
        .filter(|request| request.uri.ends_with(".whl.metadata"))
        .count();
    assert!(metadata >= 2, "uv read no PEP 658 metadata: {requests:#?}");
    assert!(
        !requests
            .iter()
            .any(|request| request.uri.ends_with("pyoci_e2e_dep-2.0-py3-none-any.whl")),
        "uv fetched the wheel it cannot install: {requests:#?}"
    );
    assert_eq!(failed_requests(&stack, mark), Vec::<String>::new());

    // uv sync: the library pinned to an explicit index, everything else from the default.
    let project = tempfile::tempdir().unwrap();
    fs::write(
        project.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"uv-consumer\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\n\
             dependencies = [\"{LIB}>=1.0\"]\n\n\
             [tool.uv]\npackage = false\n\n\
             [[tool.uv.index]]\nname = \"pyoci\"\nurl = \"{all}\"\nexplicit = true\n\n\
             [tool.uv.sources]\n{LIB} = {{ index = \"pyoci\" }}\n"
        ),
    )
    .unwrap();
    let interpreter = stack.python.python();
    run(
        &home,
        &stack,
        "uv",
        &[
            "sync",
            "--no-cache",
            "--default-index",
            &deps,
            "--python",
            interpreter.to_str().unwrap(),
        ],
        project.path(),
    );
    assert_installed(&Venv::at(&project.path().join(".venv")));
    let lock = fs::read_to_string(project.path().join("uv.lock")).unwrap();
    for (package, index) in [(LIB, &all), (DEP, &deps)] {
        let entry = lock
            .split("[[package]]")
            .find(|entry| entry.contains(&format!("name = \"{package}\"")))
            .unwrap_or_else(|| panic!("{package} is not in uv.lock:\n{lock}"));
        assert!(
            entry.contains(&format!("source = {{ registry = \"{index}\" }}")),
            "{package} should come from {index}:\n{lock}"
        );
    }
    assert!(
        lock.contains(&format!("name = \"{DEP}\"\nversion = \"{DEP_PICKED}\"")),
        "{lock}"
    );
}

#[test]
fn poetry_installs_from_a_primary_source_and_publishes() {
    let stack = Stack::start_traced();
    let dists = tempfile::tempdir().unwrap();
    stack.upload_files("poetry", &library_and_dependency(dists.path()));
    let index = stack.index_url("poetry");
    let home = ClientHome::new();

    // A primary source turns PyPI off: the library and its dependency come from PyOCI.
    let project = tempfile::tempdir().unwrap();
    fs::write(
        project.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"poetry-consumer\"\nversion = \"0.1.0\"\n\
             requires-python = \">=3.8\"\ndependencies = [\"{LIB}>=1.0\"]\n\n\
             [tool.poetry]\npackage-mode = false\n\n\
             [[tool.poetry.source]]\nname = \"pyoci\"\nurl = \"{index}\"\npriority = \"primary\"\n"
        ),
    )
    .unwrap();
    let mark = stack.log_mark();
    let mut install = home.command(&stack.python, "poetry", project.path());
    install
        .args(["install", "--no-root"])
        .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
        .env("POETRY_VIRTUALENVS_OPTIONS_NO_PIP", "true");
    run_checked(&mut install);
    assert_installed(&Venv::at(&project.path().join(".venv")));
    let lock = fs::read_to_string(project.path().join("poetry.lock")).unwrap();
    assert!(
        lock.contains(&format!("url = \"{}\"", index.trim_end_matches('/'))),
        "poetry.lock does not name PyOCI's index:\n{lock}"
    );
    assert!(!lock.contains("pypi.org"), "{lock}");
    assert_eq!(failed_requests(&stack, mark), Vec::<String>::new());

    // poetry publish -r pyoci, configured only through the environment.
    let published = tempfile::tempdir().unwrap();
    let dist_dir = published.path().join("dist");
    fs::create_dir(&dist_dir).unwrap();
    let name = "pyoci-e2e-poetry-published";
    fs::write(
        published.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"{name}\"\nversion = \"0.3.0\"\n\
             description = \"published by poetry\"\nrequires-python = \">=3.8\"\n"
        ),
    )
    .unwrap();
    let spec = DistSpec::new(name, "0.3.0")
        .requires_python(">=3.8")
        .with_sdist();
    let files = write_dists(&dist_dir, std::slice::from_ref(&spec));
    let publish = |extra: &[&str]| {
        let mut command = home.command(&stack.python, "poetry", published.path());
        command
            .args(["publish", "-r", "pyoci"])
            .args(extra)
            .env("POETRY_REPOSITORIES_PYOCI_URL", &index)
            .env("POETRY_HTTP_BASIC_PYOCI_USERNAME", "poet")
            .env("POETRY_HTTP_BASIC_PYOCI_PASSWORD", "secret");
        command
    };
    run_checked(&mut publish(&[]));
    assert_listed(&stack, "poetry", name, &files);
    // The same bytes again are fine.
    run_checked(&mut publish(&[]));

    // Other bytes under the same names: 409, which `--skip-existing` reads as "exists".
    let originals = hashes(&files);
    let changed = write_dists(&dist_dir, &[spec.summary("changed bytes")]);
    assert_eq!(changed, files);
    assert_ne!(hashes(&changed), originals);
    let conflict = run_expecting_failure(&mut publish(&[]));
    assert!(
        text(&conflict).contains("409"),
        "poetry said:\n{}",
        text(&conflict)
    );
    run_checked(&mut publish(&["--skip-existing"]));
    assert_listed_with(&stack, "poetry", name, &originals);
}

#[test]
fn pdm_installs_with_pyoci_as_its_only_source() {
    let stack = Stack::start_traced();
    let dists = tempfile::tempdir().unwrap();
    stack.upload_files("pdm", &library_and_dependency(dists.path()));
    let index = stack.index_url("pdm");
    let home = ClientHome::new();

    // A source named "pypi" replaces PyPI.
    let project = tempfile::tempdir().unwrap();
    fs::write(
        project.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"pdm-consumer\"\nversion = \"0.1.0\"\n\
             requires-python = \">=3.8\"\ndependencies = [\"{LIB}>=1.0\"]\n\n\
             [tool.pdm]\ndistribution = false\n\n\
             [[tool.pdm.source]]\nname = \"pypi\"\nurl = \"{index}\"\n"
        ),
    )
    .unwrap();
    // pdm installs into the interpreter it is given: a fresh virtualenv, not the test one.
    let (_venv_dir, venv) = stack.fresh_venv();
    let mark = stack.log_mark();
    let mut install = home.command(&stack.python, "pdm", project.path());
    install.arg("install").env("PDM_PYTHON", venv.python());
    run_checked(&mut install);
    assert_installed(&venv);
    let lock = fs::read_to_string(project.path().join("pdm.lock")).unwrap();
    assert!(
        lock.contains(&format!("name = \"{DEP}\"\nversion = \"{DEP_PICKED}\"")),
        "{lock}"
    );
    let requests = stack.requests_since(mark);
    assert!(
        requests
            .iter()
            .any(|request| request.uri.ends_with(&format!("/{DEP}/"))),
        "pdm never read the dependency's page: {requests:#?}"
    );
    assert_eq!(failed_requests(&stack, mark), Vec::<String>::new());
}

#[test]
fn uv_publish_and_hatch_publish_upload_through_pyoci() {
    let stack = Stack::start_traced();
    let index = stack.index_url("publish");
    let home = ClientHome::new();
    let dists = tempfile::tempdir().unwrap();
    let uv_name = "pyoci-e2e-uv-published";
    let hatch_name = "pyoci-e2e-hatch-published";
    let files = write_dists(
        dists.path(),
        &[
            DistSpec::new(uv_name, "1.0")
                .requires_python(">=3.9")
                .with_sdist(),
            DistSpec::new(hatch_name, "1.0").with_sdist(),
        ],
    );
    let (uv_files, hatch_files): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|file| file_name(file).starts_with("pyoci_e2e_uv"));
    let paths = |files: &[PathBuf]| -> Vec<String> {
        files
            .iter()
            .map(|file| file.to_string_lossy().into_owned())
            .collect()
    };

    // uv publish, with --check-url so a second run sees the files and skips them.
    let mut uv_args = vec![
        "publish",
        "--no-cache",
        "--publish-url",
        &index,
        "--check-url",
        &index,
        "-u",
        "uv-user",
        "-p",
        "secret",
    ];
    let uv_paths = paths(&uv_files);
    uv_args.extend(uv_paths.iter().map(String::as_str));
    run(&home, &stack, "uv", &uv_args, home.path());
    assert_listed(&stack, "publish", uv_name, &uv_files);
    let mark = stack.log_mark();
    let again = run(&home, &stack, "uv", &uv_args, home.path());
    assert!(
        text(&again).contains("already exists, skipping"),
        "uv publish said:\n{}",
        text(&again)
    );
    let posts = stack
        .requests_since(mark)
        .into_iter()
        .filter(|request| request.method == "POST")
        .count();
    assert_eq!(posts, 0, "uv uploaded files the index already lists");

    // hatch publish first GETs <upload-url>/+simple/<name>/ (devpi's layout) to skip files
    // already there; whatever the answer, it must upload.
    let mark = stack.log_mark();
    let mut hatch_args = vec![
        "publish",
        "-r",
        &index,
        "-u",
        "hatch-user",
        "-a",
        "secret",
        "-n",
        "-y",
    ];
    let hatch_paths = paths(&hatch_files);
    hatch_args.extend(hatch_paths.iter().map(String::as_str));
    let published = run(&home, &stack, "hatch", &hatch_args, home.path());
    assert_listed(&stack, "publish", hatch_name, &hatch_files);
    let requests = stack.requests_since(mark);
    let probe = requests
        .iter()
        .find(|request| request.uri.contains("simple/"))
        .unwrap_or_else(|| panic!("hatch sent no +simple probe: {requests:#?}"));
    eprintln!(
        "hatch's probe: {} {} answered {}",
        probe.method, probe.uri, probe.status
    );
    let uploads = requests
        .iter()
        .filter(|request| request.method == "POST" && request.status == 200)
        .count();
    assert_eq!(uploads, 2, "{}\n{requests:#?}", text(&published));
    // Publishing the same files again is fine.
    run(&home, &stack, "hatch", &hatch_args, home.path());
}
