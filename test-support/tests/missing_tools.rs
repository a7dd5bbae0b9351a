//! A missing tool is a loud failure that says how to fix it, never a skipped test.
//! (Alone in its own test binary because it changes the process environment.)

use pyoci_test_support::Python;

#[test]
fn a_missing_virtualenv_says_to_run_scripts_test() {
    std::env::set_var("PYOCI_TEST_VENV", "/nonexistent/pyoci-test-venv");
    let result = std::panic::catch_unwind(Python::locate);
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("Python clients not installed: run scripts/test"),
        "{message}"
    );
    assert!(
        message.contains("/nonexistent/pyoci-test-venv"),
        "{message}"
    );
}
