//! Test support for PyOCI's end-to-end tests: real processes, real clients, nothing mocked.
//!
//! - [`Registry`]: the CNCF distribution registry (`/usr/bin/docker-registry`) in one of three
//!   auth modes ([`RegistryAuth`]): none, htpasswd (Basic) or token (Bearer, like ghcr.io).
//! - [`TokenIssuer`]: the Docker token server a token-mode registry points clients to, with
//!   users, per-user [`Rule`]s and a request count.
//! - [`Pyoci`]: the `pyoci` server binary under test, on a free port, with its log captured.
//! - [`Python`]: the virtualenv `scripts/test` fills with twine, pip, uv, build, poetry, pdm
//!   and hatch.
//! - [`build_fixture`]: builds the `tests/fixtures/hello-pyoci` project into an sdist and a wheel.
//! - [`HttpClient`] and [`Multipart`]: direct HTTP for asserting status codes and headers.
//! - [`write_dists`]: many small wheels and sdists from [`DistSpec`]s, written directly.
//! - [`wheel_bytes`] and [`sdist_bytes`]: a valid wheel or sdist around any payload, in memory.
//! - [`ClientHome`]: a throwaway home for poetry, pdm and hatch, with a dead proxy.
//! - [`answered_requests`]: the requests a PyOCI answered, from its trace log.
//! - [`wait_for`]: waits for what another process does, and fails with the logs that say
//!   why it never happened.
//! - [`ForwardProxy`]: a loopback forward proxy (CONNECT and absolute-form HTTP) for
//!   `HTTP_PROXY`, recording what it was asked for.
//! - [`FaultProxy`]: a reverse proxy in front of a [`Registry`] that injects [`Fault`]s
//!   (error statuses, delays, dropped connections, answers cut halfway) on demand.
//! - [`TlsRegistry`]: the registry over https with a certificate from a test CA;
//!   [`make_certificates`]: such a CA and certificate for any server.
//! - [`StaticIndex`]: a PEP 691 JSON public index served from distribution files on a
//!   loopback address, with upload times, a request log and [`StaticFault`]s (for the mirror).
//! - [`QuirkRegistry`]: a registry behind a front that behaves as a hosted registry
//!   ([`Quirks`]: ghcr.io, Docker Hub, GitLab, ECR, ACR, Quay, Harbor, a CDN, short tokens).
//!
//! Everything runs on loopback, and each process is killed when its handle drops. A missing
//! tool is a panic telling you to run `scripts/test`, never a silently skipped test.
//!
//! ```
//! use pyoci_test_support::{HttpClient, Registry, RegistryAuth};
//!
//! let registry = Registry::start(RegistryAuth::None);
//! let response = HttpClient::new().get(&format!("http://{}/v2/", registry.host_port()));
//! assert_eq!(response.status, 200);
//! assert_eq!(registry.url_segment(), format!("http%3A%2F%2F127.0.0.1%3A{}", registry.port()));
//! ```

mod archives;
mod client_home;
mod dists;
mod fault_proxy;
mod fixture;
mod forward_proxy;
mod http;
mod ports;
mod process;
mod public_index;
mod pyoci;
mod python;
mod quirks;
mod registry;
mod request_log;
mod static_index;
mod timefmt;
mod tls_registry;
mod token_issuer;
mod upload;

pub use archives::{sdist_bytes, wheel_bytes, zip_bytes};
pub use client_home::{ClientHome, DEAD_PROXY};
pub use dists::{wheel_core_metadata, write_dists, DistSpec};
pub use fault_proxy::{Fault, FaultProxy, FaultRule, SeenRequest};
pub use fixture::{build_fixture, file_sha256, sha256_hex, Dists};
pub use forward_proxy::ForwardProxy;
pub use http::{basic_auth, HttpClient, HttpResponse, Multipart};
pub use ports::free_port;
pub use process::{
    output_text, run_checked, run_expecting_failure, wait_for, without_proxy_env, PROXY_ENV,
};
pub use public_index::{PublicIndex, PublicRequest, PUBLIC_INDEX_HOST};
pub use pyoci::Pyoci;
pub use python::{Python, Venv};
pub use quirks::{
    MissingRepository, QuirkRegistry, Quirks, Realm, TokenFields, AUTH_HOST, STORAGE_HOST,
};
pub use registry::{Notify, Registry, RegistryAuth};
pub use request_log::{answered_requests, LoggedRequest, REQUEST_LOG_FILTER};
pub use static_index::{StaticFault, StaticIndex, StaticRequest};
pub use tls_registry::{make_certificates, TlsRegistry};
pub use token_issuer::{Access, Grant, Rule, TokenIssuer, TokenIssuerBuilder, ALICE, BOB};
pub use upload::{content_form, upload_form, upload_form_with_sha256};
