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
    /// `storage_gets`, `storage_saw_authorization`, `tag_pages`, `token_requests`,
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
mod tests {
    use super::*;
    use crate::{sha256_hex, HttpClient};

    #[test]
    fn the_front_applies_its_quirks_to_a_plain_registry() {
        let front = QuirkRegistry::start(
            Quirks {
                refuse_deletes: true,
                body_limit: Some(1000),
                chunk_min_bytes: Some(500),
                patch_answers_201: true,
                discard_later_patches: true,
                tag_page_size: Some(2),
                ..Quirks::default()
            },
            RegistryAuth::None,
        );
        let http = HttpClient::new();
        let base = front.url();
        let octets = [("Content-Type", "application/octet-stream")];

        // An upload: the minimum chunk is announced, PATCH answers 201, a second PATCH's
        // body is dropped, so the digest of everything sent no longer matches.
        let session = http.request("POST", &format!("{base}/v2/ns/x/blobs/uploads/"), &[], None);
        assert_eq!(session.status, 202, "{}", session.text());
        assert_eq!(session.header("oci-chunk-min-bytes"), Some("500"));
        let first = http.request(
            "PATCH",
            session.header("location").unwrap(),
            &octets,
            Some(vec![1; 600]),
        );
        assert_eq!(first.status, 201, "{}", first.text());
        let second = http.request(
            "PATCH",
            first.header("location").unwrap(),
            &octets,
            Some(vec![2; 300]),
        );
        assert_eq!(second.status, 201, "{}", second.text());
        let mut everything = vec![1; 600];
        everything.extend(vec![2; 300]);
        let sealed = http.request(
            "PUT",
            &format!(
                "{}&digest=sha256:{}",
                second.header("location").unwrap(),
                sha256_hex(&everything)
            ),
            &[],
            None,
        );
        assert_eq!(sealed.status, 400, "{}", sealed.text());
        assert_eq!(front.patch_sizes(), [600, 300]);
        assert_eq!(front.count("patch_discarded"), 1);
        assert_eq!(front.count("patch_201"), 2);

        // Over the body limit: 413, never forwarded.
        let session = http.request("POST", &format!("{base}/v2/ns/x/blobs/uploads/"), &[], None);
        let too_big = http.request(
            "PATCH",
            session.header("location").unwrap(),
            &octets,
            Some(vec![0; 1001]),
        );
        assert_eq!(too_big.status, 413);
        assert_eq!(front.count("body_too_large"), 1);

        // Three tags, listed two at a time with a Link to the rest.
        let config = b"{}".to_vec();
        let config_digest = format!("sha256:{}", sha256_hex(&config));
        let session = http.request("POST", &format!("{base}/v2/ns/x/blobs/uploads/"), &[], None);
        let pushed = http.request(
            "PUT",
            &format!(
                "{}&digest={config_digest}",
                session.header("location").unwrap()
            ),
            &octets,
            Some(config),
        );
        assert_eq!(pushed.status, 201, "{}", pushed.text());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest, "size": 2},
            "layers": [],
        })
        .to_string();
        for tag in ["c", "a", "b"] {
            let put = http.request(
                "PUT",
                &format!("{base}/v2/ns/x/manifests/{tag}"),
                &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
                Some(manifest.clone().into_bytes()),
            );
            assert_eq!(put.status, 201, "{}", put.text());
        }
        let page = http.get(&format!("{base}/v2/ns/x/tags/list"));
        assert_eq!(page.json()["tags"], serde_json::json!(["a", "b"]));
        let link = page.header("link").unwrap();
        assert_eq!(link, "</v2/ns/x/tags/list?n=2&last=b>; rel=\"next\"");
        let rest = http.get(&format!("{base}/v2/ns/x/tags/list?n=2&last=b"));
        assert_eq!(rest.json()["tags"], serde_json::json!(["c"]));
        assert_eq!(rest.header("link"), None);

        // Deletes refused as ghcr.io does.
        let delete = http.delete(&format!("{base}/v2/ns/x/manifests/{}", "sha256:00"), &[]);
        assert_eq!(delete.status, 405);
        assert!(delete.text().contains("UNSUPPORTED"), "{}", delete.text());
    }

    #[test]
    fn ghcr_front_rewrites_the_realm_shapes_tokens_and_redirects_blobs_to_storage() {
        let issuer = crate::TokenIssuer::start();
        let front = QuirkRegistry::start(Quirks::ghcr(), RegistryAuth::Token(issuer));
        let http = HttpClient::new();
        let base = front.url();

        let challenge = http.get(&format!("{base}/v2/public/x/tags/list"));
        assert_eq!(challenge.status, 401);
        let header = challenge.header("www-authenticate").unwrap();
        assert!(
            header.contains(&format!("realm=\"{base}/token\"")),
            "{header}"
        );

        let scope = "repository:public/x:pull,push";
        let answer = http.get_with(
            &format!("{base}/token?service=pyoci-test-registry&scope={scope}"),
            &[("Authorization", &crate::basic_auth("alice", "secret"))],
        );
        let answer = answer.json();
        assert!(answer["access_token"].is_null(), "{answer}");
        let token = answer["token"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {token}");

        let blob = b"stored bytes".to_vec();
        let digest = format!("sha256:{}", sha256_hex(&blob));
        let auth = [("Authorization", bearer.as_str())];
        let session = http.request(
            "POST",
            &format!("{base}/v2/public/x/blobs/uploads/"),
            &auth,
            None,
        );
        assert_eq!(session.status, 202, "{}", session.text());
        let location = format!("{}&digest={digest}", session.header("location").unwrap());
        let pushed = http.request("PUT", &location, &auth, Some(blob.clone()));
        assert_eq!(pushed.status, 201, "{}", pushed.text());

        let redirect = http.get_with(&format!("{base}/v2/public/x/blobs/{digest}"), &auth);
        assert_eq!(redirect.status, 307, "{}", redirect.text());
        let storage = redirect.header("location").unwrap().to_owned();
        assert!(
            storage.starts_with(&format!("http://{STORAGE_HOST}:")),
            "{storage}"
        );
        let leaked = http.get_with(&storage, &auth);
        assert_eq!(
            leaked.status, 400,
            "storage refuses credentials, as S3 does"
        );
        assert_eq!(front.count("storage_saw_authorization"), 1);
        let fetched = http.get(&storage);
        assert_eq!(fetched.status, 200, "{}", fetched.text());
        assert!(fetched.body == blob);
    }
}
