//! The end-to-end tests: the `pyoci` binary against real registries and real Python clients,
//! one module per area. They are one test binary so that the dependency tree is linked once
//! rather than once per file; run an area with `cargo test --test e2e noauth::`.
//!
//! Two test files stay binaries of their own: `tests/config_without_env.rs` sets
//! environment variables every process started here would inherit, and `tests/e2e_otel.rs`
//! needs the `otel` feature, which would rebuild this whole binary for one test.

mod support;

mod browser;
mod budgets;
mod cache;
mod cache_isolation;
mod clients;
mod concurrency;
mod container;
mod digests;
mod doc_examples;
mod events;
mod fallback;
mod faults;
mod file_cache;
mod hostile_pages;
mod hostile_uploads;
mod htpasswd;
mod http2;
mod http2_idle;
mod integrity;
mod limits;
mod listing_document;
mod log_secrets;
mod mirror;
mod noauth;
mod ops;
mod policy;
mod protocol;
mod quirks;
mod resolvers;
mod resources;
mod stored_bounds;
mod tls;
mod token;
mod try_script;
mod workflow;
mod write_window;
