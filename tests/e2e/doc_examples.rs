//! Every runnable recipe in docs/examples runs here, as a user would run it, against a
//! PyOCI in front of a real distribution registry with htpasswd auth: the publish recipes
//! upload the sample project, the install recipes install it with the user's credentials.
//! Each runs in a throwaway home whose proxies lead nowhere, so only PyOCI can serve it.
//! (The GitHub Actions and Renovate recipes need GitHub, ghcr.io or Renovate's own service:
//! their README says so; the JSON API Renovate reads is checked here.)

use std::path::{Path, PathBuf};

use pyoci_test_support::{run_checked, ClientHome, RegistryAuth};

use crate::support::{dists, Stack, PROJECT};

const USER: (&str, &str) = ("example-user", "example-pw-R2d9");
const NAMESPACE: &str = "examples";

/// The publish recipes, each with the namespace it uploads to.
const PUBLISH: [(&str, &str); 5] = [
    ("twine/publish.sh", NAMESPACE),
    ("uv/publish.sh", "examples-uv"),
    ("poetry/publish.sh", "examples-poetry"),
    ("pdm/publish.sh", "examples-pdm"),
    ("hatch/publish.sh", "examples-hatch"),
];
/// The install recipes; each prints the installed package's greeting.
const INSTALL: [&str; 5] = [
    "pip-netrc/install.sh",
    "pip-keyring/install.sh",
    "uv/install.sh",
    "poetry/install.sh",
    "pdm/install.sh",
];
const RENOVATE: &str = "renovate/check-json-api.sh";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples")
}

/// Runs `docs/examples/<recipe>` in a fresh directory of a fresh home.
fn run_recipe(
    stack: &Stack,
    recipe: &str,
    namespace: &str,
    dist_dir: &Path,
    extra: &[(&str, String)],
) -> String {
    let home = ClientHome::new();
    let workdir = home.path().join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    let mut command = stack.python.shell(&examples().join(recipe));
    command
        .envs(home.env())
        .current_dir(&workdir)
        .env("PYOCI_INDEX", stack.index_url(namespace))
        .env("PYOCI_USERNAME", USER.0)
        .env("PYOCI_PASSWORD", USER.1)
        .env("DIST_DIR", dist_dir)
        .envs(extra.iter().map(|(name, value)| (*name, value.as_str())));
    let output = run_checked(&mut command);
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_runnable_recipe_publishes_or_installs_through_pyoci() {
    let stack = Stack::start_with(
        RegistryAuth::Htpasswd(&[USER]),
        &[("PYOCI_WRITE_SETTLE_MS", "0")],
    );
    let dists = dists("0.1.0", "examples");
    let dist_dir = dists.wheel.parent().unwrap().to_owned();
    let greeting = "Hello from hello-pyoci 0.1.0 via PyOCI";

    // Publishing: each client to a namespace of its own, where the files must then be listed.
    for (recipe, namespace) in PUBLISH {
        run_recipe(&stack, recipe, namespace, &dist_dir, &[]);
        let page = stack.get(&stack.project_url(namespace, PROJECT), Some(USER));
        assert_eq!(page.status, 200, "{recipe}: {}", stack.logs());
        for file in [dists.wheel_name(), dists.sdist_name()] {
            assert!(
                page.text().contains(&file),
                "{recipe}: {file} not listed:\n{}",
                page.text()
            );
        }
    }

    // Installing: each recipe imports the package and prints its greeting.
    for recipe in INSTALL {
        let extra = if recipe.starts_with("pip-keyring") {
            keyring_config()
        } else {
            Vec::new()
        };
        let output = run_recipe(&stack, recipe, NAMESPACE, &dist_dir, &extra);
        assert!(output.contains(greeting), "{recipe}:\n{output}");
    }

    // The JSON API the Renovate recipe points Renovate to.
    let output = run_recipe(
        &stack,
        "renovate/check-json-api.sh",
        NAMESPACE,
        &dist_dir,
        &[],
    );
    assert!(output.contains("0.1.0"), "{output}");
}

/// Makes the `keyring` command use the file backend in tests/fixtures (no desktop keychain
/// here): `PYTHON_KEYRING_BACKEND` plus `PYTHONPATH` for the keyring process.
fn keyring_config() -> Vec<(&'static str, String)> {
    let backend_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keyring-backend");
    vec![
        (
            "PYTHON_KEYRING_BACKEND",
            "file_keyring.FileKeyring".to_owned(),
        ),
        ("PYTHONPATH", backend_dir.to_string_lossy().into_owned()),
    ]
}

#[test]
fn every_script_in_docs_examples_is_run_here() {
    let covered: Vec<&str> = PUBLISH
        .iter()
        .map(|(recipe, _)| *recipe)
        .chain(INSTALL)
        .chain([RENOVATE])
        .collect();
    let mut scripts = Vec::new();
    for dir in std::fs::read_dir(examples()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|ext| ext == "sh") {
                let relative = file.strip_prefix(examples()).unwrap();
                scripts.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    assert!(scripts.len() >= covered.len());
    for script in &scripts {
        assert!(
            covered.contains(&script.as_str()),
            "docs/examples/{script} is not run by this test"
        );
    }
}
