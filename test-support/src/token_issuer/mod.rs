//! A Docker token server (the protocol of ghcr.io, Docker Hub and ACR) for token-auth
//! registries: `GET /token?service=S&scope=SCOPE[&scope=...]`, optional Basic credentials,
//! answered with an ES256 JWT granting what was both asked for and allowed.

mod jwt;
mod policy;
mod server;

use std::{
    collections::BTreeMap,
    net::TcpListener,
    path::Path,
    sync::{atomic::AtomicUsize, Arc, Mutex},
    thread,
};

use tempfile::TempDir;
use tokio::sync::oneshot;

pub use self::policy::{Access, Rule};
use self::{jwt::SigningKey, server::IssuerState};

/// The default issuer's all-powerful user and password.
pub const ALICE: (&str, &str) = ("alice", "secret");
/// The default issuer's read-only user and password.
pub const BOB: (&str, &str) = ("bob", "builder");

const SERVICE: &str = "pyoci-test-registry";
const ISSUER: &str = "pyoci-test-issuer";

/// A token the issuer handed out: to whom (`None`: anonymous) and what it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The Basic-auth user, `None` for an anonymous request.
    pub user: Option<String>,
    /// The access entries in the token.
    pub access: Vec<Access>,
    /// The token itself, so tests can check it never shows up where it must not.
    pub token: String,
}

/// Users, their passwords and rules, and what anonymous clients may do.
pub struct TokenIssuerBuilder {
    users: BTreeMap<String, (String, Vec<Rule>)>,
    anonymous: Vec<Rule>,
    realm_host: String,
    token_lifetime: u64,
}

impl TokenIssuerBuilder {
    /// Adds (or replaces) a user with a password and the rules limiting their tokens.
    pub fn user(mut self, name: &str, password: &str, rules: Vec<Rule>) -> Self {
        self.users
            .insert(name.to_owned(), (password.to_owned(), rules));
        self
    }

    /// The rules for requests without credentials (none by default: empty tokens).
    pub fn anonymous(mut self, rules: Vec<Rule>) -> Self {
        self.anonymous = rules;
        self
    }

    /// The host the registry names in its realm (`127.0.0.1` by default). `localhost` puts
    /// the token service on another host than a registry addressed as `127.0.0.1`, as Docker
    /// Hub's `auth.docker.io` is for `registry-1.docker.io`. The issuer listens on 127.0.0.1
    /// whatever the name.
    pub fn realm_host(mut self, host: &str) -> Self {
        self.realm_host = host.to_owned();
        self
    }

    /// Seconds each token is valid (`expires_in` and the JWT's `exp`; 300 by default).
    pub fn token_lifetime(mut self, seconds: u64) -> Self {
        self.token_lifetime = seconds;
        self
    }

    /// Generates the signing key and starts serving on a free loopback port.
    pub fn start(self) -> TokenIssuer {
        let dir = tempfile::Builder::new()
            .prefix("pyoci-token-issuer-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let key = SigningKey::generate(dir.path());
        let certificate_path = key.certificate_path().to_owned();
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|err| panic!("cannot bind the token issuer's port: {err}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("the token issuer's listener has no address: {err}"))
            .port();
        let state = Arc::new(IssuerState {
            service: SERVICE.to_owned(),
            issuer: ISSUER.to_owned(),
            users: self.users,
            anonymous: self.anonymous,
            key,
            requests: AtomicUsize::new(0),
            grants: Mutex::new(Vec::new()),
            token_lifetime: self.token_lifetime,
            revoked: Mutex::default(),
        });
        let (shutdown, shutdown_signal) = oneshot::channel();
        let server_state = Arc::clone(&state);
        let thread = thread::Builder::new()
            .name(format!("token-issuer-{port}"))
            .spawn(move || server::serve(listener, server_state, shutdown_signal))
            .unwrap_or_else(|err| panic!("cannot start the token issuer thread: {err}"));
        TokenIssuer {
            running: Arc::new(Running {
                state,
                port,
                realm_host: self.realm_host,
                certificate_path,
                shutdown: Mutex::new(Some(shutdown)),
                thread: Mutex::new(Some(thread)),
                _dir: dir,
            }),
        }
    }
}

/// A running token issuer. Clones share it; it stops when the last clone drops.
#[derive(Clone)]
pub struct TokenIssuer {
    running: Arc<Running>,
}

struct Running {
    state: Arc<IssuerState>,
    port: u16,
    realm_host: String,
    certificate_path: std::path::PathBuf,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.lock().ok().and_then(|mut s| s.take()) {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl TokenIssuer {
    /// An issuer without users; add them with [`TokenIssuerBuilder::user`].
    pub fn builder() -> TokenIssuerBuilder {
        TokenIssuerBuilder {
            users: BTreeMap::new(),
            anonymous: Vec::new(),
            realm_host: "127.0.0.1".to_owned(),
            token_lifetime: server::TOKEN_LIFETIME_SECONDS,
        }
    }

    /// From now on `user`'s password gets no token (401), as when an account is disabled;
    /// tokens already issued stay valid until they expire, as the registry checks only
    /// their signature and expiry.
    pub fn revoke(&self, user: &str) {
        self.running
            .state
            .revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(user.to_owned());
    }

    /// The usual cast: [`ALICE`] may do everything, [`BOB`] may only pull, and anonymous
    /// clients may pull repositories under `public/`.
    pub fn start() -> TokenIssuer {
        TokenIssuer::builder()
            .user(ALICE.0, ALICE.1, vec![Rule::everything()])
            .user(BOB.0, BOB.1, vec![Rule::repositories("", &["pull"])])
            .anonymous(vec![Rule::repositories("public/", &["pull"])])
            .start()
    }

    /// The issuer's loopback port.
    pub fn port(&self) -> u16 {
        self.running.port
    }

    /// `http://127.0.0.1:PORT/token` (another host if [`TokenIssuerBuilder::realm_host`]
    /// says so), the registry's `auth.token.realm`.
    pub fn realm(&self) -> String {
        format!(
            "http://{}:{}/token",
            self.running.realm_host, self.running.port
        )
    }

    /// The `service` (the tokens' `aud`) the registry expects.
    pub fn service(&self) -> &str {
        &self.running.state.service
    }

    /// The tokens' `iss`.
    pub fn issuer(&self) -> &str {
        &self.running.state.issuer
    }

    /// The self-signed certificate of the signing key, the registry's `rootcertbundle`.
    pub fn cert_path(&self) -> &Path {
        &self.running.certificate_path
    }

    /// How many requests reached the issuer, failed ones included.
    pub fn token_requests(&self) -> usize {
        self.running.state.request_count()
    }

    /// Every token handed out so far, oldest first.
    pub fn grants(&self) -> Vec<Grant> {
        self.running.state.grants()
    }
}
