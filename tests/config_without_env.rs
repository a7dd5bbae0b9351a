//! A library user's `Config::default()` reads neither the environment nor the command line
//! (a test binary of its own, not a module of `tests/e2e`: it sets variables the binary
//! reads, which every `pyoci` process the end-to-end tests start would inherit).

use pyoci::Config;

#[test]
fn default_config_ignores_the_environment() {
    // The variables the binary reads, set to other values than the defaults.
    std::env::set_var("PORT", "1234");
    std::env::set_var("PYOCI_PATH", "/elsewhere");
    std::env::set_var("PYOCI_MAX_VERSIONS", "7");
    std::env::set_var("PYOCI_ALLOW_PRIVATE_REGISTRIES", "true");
    let config = Config::default();
    assert_eq!(config.port, 8080);
    assert_eq!(config.path_prefix, "");
    assert_eq!(config.max_versions, 100);
    assert!(!config.allow_private_registries);

    // Built in code, it makes the whole proxy without any flag or variable.
    let mut config = Config::default();
    config.max_versions = 5;
    config.registries = Some("ghcr.io".parse().unwrap());
    assert!(pyoci::pyoci_service::<String>(config).is_ok());
}
