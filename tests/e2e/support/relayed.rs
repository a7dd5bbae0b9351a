//! The set-up of the cache tests: one project in a registry behind a request-counting relay
//! (the fault proxy, passing everything), and PyOCI processes in front of the relay.

use std::path::Path;

use pyoci_test_support::{
    basic_auth, content_form, sdist_bytes, wheel_bytes, FaultProxy, HttpClient, HttpResponse,
    Pyoci, Registry, RegistryAuth, Rule, TokenIssuer,
};

/// May do everything.
pub const OWNER: (&str, &str) = ("owner", "owner-pw-3Jq8");
/// May read everything, push nothing.
pub const COLLEAGUE: (&str, &str) = ("colleague", "colleague-pw-5Vb1");
/// May read only repositories under `elsewhere/`.
pub const STRANGER: (&str, &str) = ("stranger", "stranger-pw-8Nc6");
/// The simple API's JSON form.
const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// A project in a registry behind a counting relay, and PyOCI processes in front of it: the
/// replicas started with it, or more from [`Stack::pyoci`].
pub struct Stack {
    pub issuer: Option<TokenIssuer>,
    pub registry: Registry,
    pub proxy: FaultProxy,
    pub http: HttpClient,
    pub replicas: Vec<Pyoci>,
    namespace: &'static str,
    project: &'static str,
}

/// The PyOCI a request goes through: a replica by its index, or any process.
pub trait Via<'a> {
    fn pyoci(self, stack: &'a Stack) -> &'a Pyoci;
}

impl<'a> Via<'a> for usize {
    fn pyoci(self, stack: &'a Stack) -> &'a Pyoci {
        &stack.replicas[self]
    }
}

impl<'a> Via<'a> for &'a Pyoci {
    fn pyoci(self, _: &'a Stack) -> &'a Pyoci {
        self
    }
}

impl Stack {
    /// `project` in `namespace` of a token-auth registry knowing [`OWNER`], [`COLLEAGUE`]
    /// and [`STRANGER`].
    pub fn start(namespace: &'static str, project: &'static str) -> Stack {
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
        Stack::around(Some(issuer), registry, (namespace, project))
    }

    /// `project` in `namespace` of a registry anyone may write to: the relay's check of
    /// conditional writes looks up manifests without credentials.
    pub fn start_open(namespace: &'static str, project: &'static str) -> Stack {
        let registry = Registry::start(RegistryAuth::None);
        Stack::around(None, registry, (namespace, project))
    }

    fn around(
        issuer: Option<TokenIssuer>,
        registry: Registry,
        (namespace, project): (&'static str, &'static str),
    ) -> Stack {
        let proxy = FaultProxy::start(&registry);
        Stack {
            issuer,
            registry,
            proxy,
            http: HttpClient::new(),
            replicas: Vec::new(),
            namespace,
            project,
        }
    }

    /// With `count` replicas, each started by [`Stack::pyoci`].
    pub fn with_replicas(mut self, count: usize, ttl_secs: u64, env: &[(&str, &str)]) -> Stack {
        self.replicas = (0..count).map(|_| self.pyoci(ttl_secs, env)).collect();
        self
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

    /// The namespace's index URL through `via`, ending in `/`.
    pub fn index_url<'a>(&'a self, via: impl Via<'a>) -> String {
        format!(
            "{}/{}/{}/",
            via.pyoci(self).base_url(),
            self.proxy.url_segment(),
            self.namespace
        )
    }

    /// The project's page URL through `via`, ending in `/`.
    pub fn page_url<'a>(&'a self, via: impl Via<'a>) -> String {
        format!("{}{}/", self.index_url(via), self.project)
    }

    /// The URL of the wheel of `version` through `via`.
    pub fn wheel_url<'a>(&'a self, via: impl Via<'a>, version: &str) -> String {
        format!("{}{}", self.page_url(via), self.wheel_name(version))
    }

    pub fn wheel_name(&self, version: &str) -> String {
        format!("{}-{version}-py3-none-any.whl", self.project)
    }

    pub fn sdist_name(&self, version: &str) -> String {
        format!("{}-{version}.tar.gz", self.project)
    }

    /// Uploads a wheel of `version` through `via` as the owner; must succeed.
    pub fn upload<'a>(&'a self, via: impl Via<'a>, version: &str) {
        self.upload_with(via, version, format!("payload {version}").as_bytes());
    }

    /// Uploads a wheel of `version` holding `payload` through `via` as the owner; must
    /// succeed. Returns the wheel's bytes.
    pub fn upload_with<'a>(&'a self, via: impl Via<'a>, version: &str, payload: &[u8]) -> Vec<u8> {
        let content = wheel_bytes(self.project, version, payload);
        let filename = self.wheel_name(version);
        self.upload_file(via, (self.project, version), &filename, &content);
        content
    }

    /// Uploads an sdist of `version` through `via` as the owner; must succeed.
    pub fn upload_sdist<'a>(&'a self, via: impl Via<'a>, version: &str) {
        let content = sdist_bytes(
            self.project,
            version,
            format!("payload {version}").as_bytes(),
        );
        let filename = self.sdist_name(version);
        self.upload_file(via, (self.project, version), &filename, &content);
    }

    /// Uploads `content` as `filename` of `project` `version` (of any project in the
    /// namespace) through `via` as the owner; must succeed.
    pub fn upload_file<'a>(
        &'a self,
        via: impl Via<'a>,
        (project, version): (&str, &str),
        filename: &str,
        content: &[u8],
    ) {
        let pyoci = via.pyoci(self);
        let form = content_form(project, version, filename, content);
        let authorization = basic_auth(OWNER.0, OWNER.1);
        let response = self.http.post_multipart(
            &self.index_url(pyoci),
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

    /// GET of the project page through `via` with `headers`.
    pub fn get<'a>(&'a self, via: impl Via<'a>, headers: &[(&str, &str)]) -> HttpResponse {
        self.http.get_with(&self.page_url(via), headers)
    }

    /// The project page as JSON through `via` for `credentials`; must be 200.
    pub fn page<'a>(&'a self, via: impl Via<'a>, credentials: (&str, &str)) -> serde_json::Value {
        let pyoci = via.pyoci(self);
        let authorization = basic_auth(credentials.0, credentials.1);
        let page = self.http.get_with(
            &self.page_url(pyoci),
            &[("Authorization", &authorization), ("Accept", JSON)],
        );
        assert_eq!(page.status, 200, "{}\n{}", page.text(), pyoci.log());
        page.json()
    }

    /// The file names on the project page, with `(yanked)` after yanked ones.
    pub fn files<'a>(&'a self, via: impl Via<'a>, credentials: (&str, &str)) -> Vec<String> {
        let page = self.page(via, credentials);
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

    /// `method url` as the owner; must be 200.
    pub fn owner_request(&self, method: &str, url: &str) {
        let authorization = basic_auth(OWNER.0, OWNER.1);
        let response = self.http.request(
            method,
            url,
            &[("Authorization", authorization.as_str())],
            None,
        );
        assert_eq!(response.status, 200, "{method} {url}: {}", response.text());
    }

    /// `method url` with `headers`, and the registry requests it cost.
    pub fn counted(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> (HttpResponse, Vec<String>) {
        self.proxy.forget_seen();
        let response = self.http.request(method, url, headers, None);
        (response, self.registry_requests())
    }

    /// Removes a blob of the project directly at the registry, as its garbage collection
    /// does once nothing references it.
    pub fn remove_blob(&self, sha256: &str) {
        let repository = format!("{}/{}", self.namespace, self.project);
        let issuer = self.issuer.as_ref().expect("a token-auth registry");
        let token_url = format!(
            "{}?service={}&scope=repository:{repository}:delete",
            issuer.realm(),
            issuer.service()
        );
        let authorization = basic_auth(OWNER.0, OWNER.1);
        let token = self
            .http
            .get_with(&token_url, &[("Authorization", &authorization)]);
        assert_eq!(token.status, 200, "{}", token.text());
        let token = token.json()["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let blob_url = format!(
            "{}/v2/{repository}/blobs/sha256:{sha256}",
            self.registry.url()
        );
        let bearer = format!("Bearer {token}");
        let removed = self.http.delete(&blob_url, &[("Authorization", &bearer)]);
        assert_eq!(removed.status, 202, "{}", removed.text());
    }

    /// The registry requests relayed since the last [`FaultProxy::forget_seen`].
    pub fn registry_requests(&self) -> Vec<String> {
        self.proxy
            .seen()
            .iter()
            .map(|seen| format!("{} {}", seen.method, seen.path))
            .collect()
    }

    /// The replicas' logs, numbered, for failure messages.
    pub fn logs(&self) -> String {
        self.replicas
            .iter()
            .enumerate()
            .map(|(i, pyoci)| format!("--- pyoci {i} ---\n{}\n", pyoci.log()))
            .collect()
    }
}
