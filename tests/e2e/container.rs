//! The container files, checked without Docker (there is no Docker engine where the suite
//! runs; the GitHub workflow builds the image): the Dockerfile passes hadolint when it is
//! installed, and every PyOCI setting the Dockerfile and compose.yaml set is one `pyoci`
//! knows, so a renamed setting cannot silently stop applying in the image.

use std::{fs, path::Path, process::Command};

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// `PYOCI_*` names (and `PORT`) set in `text`, as `NAME=` or `NAME:`.
fn settings_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (start, _) in text.match_indices("PYOCI_") {
        let name: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let after = text[start + name.len()..].chars().next();
        if matches!(after, Some('=' | ':')) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[test]
fn dockerfile_and_compose_set_only_settings_pyoci_knows() {
    let help = Command::new(env!("CARGO_BIN_EXE_pyoci"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("PYOCI_HOST"), "{help}");
    for file in ["Dockerfile", "compose.yaml"] {
        let settings = settings_in(&repo_file(file));
        assert!(settings.len() >= 2, "{file}: {settings:?}");
        for setting in settings {
            assert!(
                help.contains(&format!("env: {setting}="))
                    || help.contains(&format!("env: {setting}]")),
                "{file} sets {setting}, which `pyoci --help` does not list"
            );
        }
    }
}

#[test]
fn dockerfile_runs_as_non_root_with_a_healthcheck_of_the_binary() {
    let dockerfile = repo_file("Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|line| line.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage");
    let runtime = dockerfile.rsplit("\nFROM ").next().unwrap();
    assert!(runtime.contains("\nUSER 65532:65532"), "{runtime}");
    assert!(runtime.contains(r#""healthcheck"]"#), "{runtime}");
}

#[test]
fn hadolint_passes_when_installed() {
    let Ok(output) = Command::new("hadolint")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"))
        .output()
    else {
        println!("SKIPPED: hadolint is not installed (the GitHub workflow runs it)");
        return;
    };
    assert!(
        output.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
