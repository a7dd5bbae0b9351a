//! A registry quirk emulator: an HTTP front, in front of the real distribution registry, that
//! behaves as a hosted registry does where it differs from the distribution registry.
//!
//! None of the hosted registries is reachable from the tests, so each one's documented or
//! publicly reported behaviour is emulated here, one profile per registry ([`Quirks::ghcr`],
//! [`Quirks::docker_hub`], [`Quirks::gitlab`], [`Quirks::ecr`], [`Quirks::acr`],
//! [`Quirks::quay`], [`Quirks::harbor`], [`Quirks::cdn_body_limit`],
//! [`Quirks::short_tokens`]), each quirk cited where it is set. Everything else (storage,
//! digests, auth decisions) is the real registry's.
//!
//! The front listens on `127.0.0.1`; a token service "on another host" listens on
//! `127.0.0.2`, and the storage host blob downloads are redirected to on `127.0.0.3`. Each
//! quirk that fires is counted ([`QuirkRegistry::count`]), so a test can show it happened.

mod acr;
mod cdn;
mod config;
mod dockerhub;
mod ecr;
mod front;
mod ghcr;
mod gitlab;
mod harbor;
mod quay;
mod refusals;
mod reply;
mod storage;
mod token;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicU64, AtomicUsize},
        Arc, Mutex,
    },
};

use percent_encoding::utf8_percent_encode;
use tokio::net::TcpListener;

pub use self::config::{MissingRepository, Quirks, Realm, TokenFields};
use self::front::{accept_loop, lock, Role, State};
use crate::{registry::PATH_SEGMENT, Registry, RegistryAuth};

/// The loopback address of a token service on "another host".
pub const AUTH_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The loopback address of the storage host blob downloads are redirected to.
pub const STORAGE_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A distribution registry behind a quirk front; both stop on drop.
pub struct QuirkRegistry {
    state: Arc<State>,
    port: u16,
    auth_port: Option<u16>,
    registry: Registry,
    runtime: Option<tokio::runtime::Runtime>,
}

impl QuirkRegistry {
    /// Starts a registry with `auth` and a front applying `quirks` in front of it.
    pub fn start(quirks: Quirks, auth: RegistryAuth<'_>) -> QuirkRegistry {
        let registry = Registry::start(auth);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("quirk-front")
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the quirk front's runtime: {err}"));
        let bind = |address: Ipv4Addr| {
            let listener = runtime
                .block_on(TcpListener::bind((address, 0)))
                .unwrap_or_else(|err| panic!("the quirk front cannot bind {address}: {err}"));
            let port = listener
                .local_addr()
                .unwrap_or_else(|err| panic!("a bound listener has no address: {err}"))
                .port();
            (listener, port)
        };
        let (front_listener, port) = bind(Ipv4Addr::LOCALHOST);
        let auth = matches!(quirks.realm, Realm::OtherHost(_)).then(|| bind(AUTH_HOST));
        let storage = quirks.redirect_blobs.then(|| bind(STORAGE_HOST));
        let issuer = registry.token_issuer().map(|issuer| {
            (
                SocketAddr::from(([127, 0, 0, 1], issuer.port())),
                issuer.realm(),
                issuer.service().to_owned(),
            )
        });
        let state = Arc::new(State {
            quirks,
            upstream: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), registry.port()),
            issuer,
            front_origin: format!("http://127.0.0.1:{port}"),
            auth_origin: auth
                .as_ref()
                .map(|(_, port)| format!("http://{AUTH_HOST}:{port}")),
            storage_origin: storage
                .as_ref()
                .map(|(_, port)| format!("http://{STORAGE_HOST}:{port}")),
            counters: Mutex::new(BTreeMap::new()),
            tokens: Mutex::new(HashMap::new()),
            repositories: Mutex::new(BTreeSet::new()),
            patches: Mutex::new(HashMap::new()),
            patch_sizes: Mutex::new(Vec::new()),
            signed: Mutex::new(HashMap::new()),
            pulls: AtomicUsize::new(0),
            next_signature: AtomicU64::new(1),
        });
        runtime.spawn(accept_loop(front_listener, state.clone(), Role::Front));
        let auth_port = auth.map(|(listener, port)| {
            runtime.spawn(accept_loop(listener, state.clone(), Role::Auth));
            port
        });
        if let Some((listener, _)) = storage {
            runtime.spawn(accept_loop(listener, state.clone(), Role::Storage));
        }
        QuirkRegistry {
            state,
            port,
            auth_port,
            registry,
            runtime: Some(runtime),
        }
    }

    /// Lets pushes into `name` through: a repository (ECR) or a project (Harbor).
    pub fn create_repository(&self, name: &str) {
        lock(&self.state.repositories).insert(name.to_owned());
    }

    /// How often the quirk or event `what` happened: `delete_refused`, `blob_redirects`,
    /// `storage_gets`, `storage_gets_by_pyoci`, `storage_saw_authorization`, `tag_pages`, `token_requests`,
    /// `token_requests_with_credentials`, `rate_limited`, `manifest_refused`,
    /// `repository_missing`, `patch_201`, `patch_discarded`, `body_too_large`,
    /// `token_expired`, `token_expired_on_upload_put`, `insufficient_scope`.
    pub fn count(&self, what: &str) -> usize {
        lock(&self.state.counters)
            .get(what)
            .copied()
            .unwrap_or_default()
    }

    /// Every counter, for assertion messages.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        lock(&self.state.counters).clone()
    }

    /// The body size of every `PATCH` received, in order.
    pub fn patch_sizes(&self) -> Vec<u64> {
        lock(&self.state.patch_sizes).clone()
    }

    /// The registry behind the front (for its log and token issuer).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The front's port (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, the front.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.2:PORT` of the token service on another host, if the profile has one.
    pub fn auth_host_port(&self) -> Option<String> {
        self.auth_port.map(|port| format!("{AUTH_HOST}:{port}"))
    }

    /// The front as PyOCI's first URL segment, like [`Registry::url_segment`].
    pub fn url_segment(&self) -> String {
        utf8_percent_encode(&self.url(), PATH_SEGMENT).to_string()
    }
}

impl Drop for QuirkRegistry {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests;
