//! `scripts/try`, the one-command try-out the README points new users to, run end to end:
//! a local distribution registry, PyOCI, a twine upload and a pip install through it; then
//! everything it started is stopped.

use std::{net::TcpStream, path::Path, process::Command};

#[test]
fn scripts_try_publishes_and_installs_then_cleans_up() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/try");
    let mut command = Command::new("bash");
    command.arg(&script);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("PYOCI_") && name_text != "PYOCI_TEST_VENV" {
            command.env_remove(&name);
        }
    }
    let output = command
        .env("PYOCI_BIN", env!("CARGO_BIN_EXE_pyoci"))
        .env("PYOCI_TRY_PORT", "0")
        .env("PYOCI_TRY_EXIT", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("installed; it says: Hello from a package served by PyOCI"),
        "{stderr}"
    );
    let index = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("http://127.0.0.1:") && line.ends_with("/try/"))
        .unwrap_or_else(|| panic!("no index URL printed:\n{stdout}"));

    // Both servers are gone once the script exits.
    let pyoci_address = index
        .trim_start_matches("http://")
        .trim_end_matches("/try/");
    let registry_address = stderr
        .split("distribution registry on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no registry address:\n{stderr}"));
    for address in [pyoci_address, registry_address] {
        assert!(
            TcpStream::connect(address).is_err(),
            "{address} still answers after scripts/try exited"
        );
    }
}
