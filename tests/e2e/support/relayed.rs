//! The set-up of the cache tests: a token-auth registry with three users behind a
//! request-counting relay (the fault proxy, passing everything), and PyOCI processes in
//! front of the relay.

use std::{path::Path, time::Duration};

use pyoci_test_support::{
    basic_auth, content_form, poll_until, FaultProxy, HttpClient, Pyoci, Registry, RegistryAuth,
    Rule, TokenIssuer,
};

/// May do everything.
pub const OWNER: (&str, &str) = ("owner", "owner-pw-3Jq8");
/// May read everything, push nothing.
pub const COLLEAGUE: (&str, &str) = ("colleague", "colleague-pw-5Vb1");
/// May read only repositories under `elsewhere/`.
pub const STRANGER: (&str, &str) = ("stranger", "stranger-pw-8Nc6");
/// The simple API's JSON form.
pub const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// A registry behind a counting relay.
pub struct Relayed {
    pub issuer: Option<TokenIssuer>,
    pub registry: Registry,
    pub proxy: FaultProxy,
    pub http: HttpClient,
}

impl Relayed {
    /// A token-auth registry knowing [`OWNER`], [`COLLEAGUE`] and [`STRANGER`].
    pub fn start() -> Relayed {
        let issuer = TokenIssuer::builder()
            .user(OWNER.0, OWNER.1, vec![Rule::everything()])
            .user(
                COLLEAGUE.0,
                COLLEAGUE.1,
                vec![Rule::repositories("", &["pull"])],
            )
            .user(
                STRANGER.0,
                STRANGER.1,
                vec![Rule::repositories("elsewhere/", &["pull"])],
            )
            .start();
        let registry = Registry::start(RegistryAuth::Token(issuer.clone()));
        Relayed::around(Some(issuer), registry)
    }

    /// A registry anyone may write to.
    pub fn start_open() -> Relayed {
        Relayed::around(None, Registry::start(RegistryAuth::None))
    }

    fn around(issuer: Option<TokenIssuer>, registry: Registry) -> Relayed {
        let proxy = FaultProxy::start(&registry);
        Relayed {
            issuer,
            registry,
            proxy,
            http: HttpClient::new(),
        }
    }

    /// A PyOCI process in front of the relay, with `PYOCI_CACHE_TTL=ttl_secs`, no write
    /// settle delay, and `env`.
    pub fn pyoci(&self, ttl_secs: u64, env: &[(&str, &str)]) -> Pyoci {
        let ttl = ttl_secs.to_string();
        let mut all = vec![
            ("PYOCI_CACHE_TTL", ttl.as_str()),
            ("PYOCI_WRITE_SETTLE_MS", "0"),
        ];
        all.extend_from_slice(env);
        Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &all)
    }

    /// The index URL of `namespace` through `pyoci`, ending in `/`.
    pub fn index_url(&self, pyoci: &Pyoci, namespace: &str) -> String {
        format!(
            "{}/{}/{namespace}/",
            pyoci.base_url(),
            self.proxy.url_segment()
        )
    }

    /// The page URL of `project` in `namespace` through `pyoci`, ending in `/`.
    pub fn project_url(&self, pyoci: &Pyoci, namespace: &str, project: &str) -> String {
        format!("{}{project}/", self.index_url(pyoci, namespace))
    }

    /// The JSON page at `url` of `pyoci` for `credentials`; must be 200.
    pub fn json_page(
        &self,
        pyoci: &Pyoci,
        url: &str,
        credentials: (&str, &str),
    ) -> serde_json::Value {
        let authorization = basic_auth(credentials.0, credentials.1);
        let page = self
            .http
            .get_with(url, &[("Authorization", &authorization), ("Accept", JSON)]);
        assert_eq!(page.status, 200, "{}\n{}", page.text(), pyoci.log());
        page.json()
    }

    /// Uploads `content` as `filename` of `project` `version` to `namespace` through
    /// `pyoci`, as the owner; must succeed.
    pub fn upload(
        &self,
        pyoci: &Pyoci,
        namespace: &str,
        (project, version): (&str, &str),
        filename: &str,
        content: &[u8],
    ) {
        let form = content_form(project, version, filename, content);
        let authorization = basic_auth(OWNER.0, OWNER.1);
        let response = self.http.post_multipart(
            &self.index_url(pyoci, namespace),
            form,
            &[("Authorization", authorization.as_str())],
        );
        assert_eq!(
            response.status,
            200,
            "upload {filename}: {}\n{}",
            response.text(),
            pyoci.log()
        );
    }

    /// The registry requests relayed since the last [`FaultProxy::forget_seen`].
    pub fn registry_requests(&self) -> Vec<String> {
        self.proxy
            .seen()
            .iter()
            .map(|seen| format!("{} {}", seen.method, seen.path))
            .collect()
    }
}

/// The file names on a JSON project page, with `(yanked)` after yanked ones.
pub fn page_files(page: &serde_json::Value) -> Vec<String> {
    page["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|file| {
            let name = file["filename"].as_str().unwrap_or_default().to_owned();
            match file["yanked"] {
                serde_json::Value::Bool(false) | serde_json::Value::Null => name,
                _ => format!("{name} (yanked)"),
            }
        })
        .collect()
}

/// The logs of PyOCI processes, numbered, for failure messages.
pub fn logs<'a>(pyocis: impl IntoIterator<Item = &'a Pyoci>) -> String {
    pyocis
        .into_iter()
        .enumerate()
        .map(|(i, pyoci)| format!("--- pyoci {i} ---\n{}\n", pyoci.log()))
        .collect()
}

/// Polls `condition` every 50 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, condition: impl FnMut() -> bool) -> bool {
    poll_until(Duration::from_millis(50), limit, condition)
}
