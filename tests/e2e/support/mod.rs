//! Helpers shared by the end-to-end tests: one PyOCI in front of one registry, the
//! fixture's distributions built once per run, and a parser for simple-index pages.

pub mod relayed;

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Mutex,
};

use pyoci_test_support::{
    answered_requests, basic_auth, build_fixture, content_form, run_checked, wheel_bytes, Dists,
    HttpClient, HttpResponse, LoggedRequest, Pyoci, Python, Registry, RegistryAuth, Venv,
    REQUEST_LOG_FILTER,
};

/// The fixture project's name, as uploaded and installed.
pub const PROJECT: &str = "hello-pyoci";
/// Its module.
pub const MODULE: &str = "hello_pyoci";

/// PyOCI settings for the client tests: every request in the log, no write settle delay.
pub const TRACED: &[(&str, &str)] = &[
    ("RUST_LOG", REQUEST_LOG_FILTER),
    ("PYOCI_WRITE_SETTLE_MS", "0"),
];

/// A registry, a PyOCI in front of it, and the clients to talk to both.
pub struct Stack {
    pub pyoci: Pyoci,
    pub registry: Registry,
    pub http: HttpClient,
    pub python: Python,
}

impl Stack {
    /// Starts a registry with `auth` and a PyOCI server.
    pub fn start(auth: RegistryAuth<'_>) -> Stack {
        let registry = Registry::start(auth);
        let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
        Stack {
            pyoci,
            registry,
            http: HttpClient::new(),
            python: Python::locate(),
        }
    }

    /// Starts a registry with `auth` and a PyOCI server with extra environment `env`.
    pub fn start_with(auth: RegistryAuth<'_>, env: &[(&str, &str)]) -> Stack {
        let registry = Registry::start(auth);
        let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), env);
        Stack {
            pyoci,
            registry,
            http: HttpClient::new(),
            python: Python::locate(),
        }
    }

    /// Starts a registry without auth and a PyOCI that logs every request
    /// ([`REQUEST_LOG_FILTER`]) and does not wait between an index write and its re-read
    /// (these tests upload many files from one client, never from racing replicas).
    pub fn start_traced() -> Stack {
        Stack::start_with(RegistryAuth::None, TRACED)
    }

    /// Where PyOCI's log ends now: pass it to [`Stack::requests_since`].
    pub fn log_mark(&self) -> usize {
        self.pyoci.log().len()
    }

    /// The requests PyOCI answered since `mark` (needs a [`Stack::start_traced`] stack).
    pub fn requests_since(&self, mark: usize) -> Vec<LoggedRequest> {
        let log = self.pyoci.log();
        answered_requests(log.get(mark..).unwrap_or_default())
    }

    /// Uploads `files` with one twine invocation, which must succeed.
    pub fn upload_files(&self, namespace: &str, files: &[PathBuf]) {
        let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        run_checked(&mut self.twine_upload(namespace, ("any", "any"), &files));
    }

    /// GET of a simple-index page as PEP 691 JSON; must answer 200.
    pub fn json_page(&self, url: &str) -> serde_json::Value {
        let page = self
            .http
            .get_with(url, &[("Accept", "application/vnd.pypi.simple.v1+json")]);
        assert_eq!(
            page.status,
            200,
            "GET {url}: {}\n{}",
            page.text(),
            self.logs()
        );
        page.json()
    }

    /// `<base>/<registry>/<namespace>/`: the index and upload URL.
    pub fn index_url(&self, namespace: &str) -> String {
        self.pyoci.index_url(&self.registry, namespace)
    }

    /// The index URL with `user:password@`.
    pub fn index_url_as(&self, namespace: &str, user: &str, password: &str) -> String {
        self.pyoci
            .index_url_with_credentials(&self.registry, namespace, user, password)
    }

    /// `<base>/<registry>/<namespace>/<project>/`.
    pub fn project_url(&self, namespace: &str, project: &str) -> String {
        format!("{}{project}/", self.index_url(namespace))
    }

    /// GET of a URL with optional Basic credentials.
    pub fn get(&self, url: &str, credentials: Option<(&str, &str)>) -> HttpResponse {
        match credentials {
            Some((user, password)) => self
                .http
                .get_with(url, &[("Authorization", &basic_auth(user, password))]),
            None => self.http.get(url),
        }
    }

    /// `twine upload` of `files` to `namespace`; the caller checks the outcome.
    pub fn twine_upload(
        &self,
        namespace: &str,
        (user, password): (&str, &str),
        files: &[&Path],
    ) -> Command {
        self.python
            .twine_upload(&self.index_url(namespace), user, password, files)
    }

    /// Uploads both distributions with twine, which must succeed.
    pub fn upload(&self, namespace: &str, credentials: (&str, &str), dists: &Dists) {
        run_checked(&mut self.twine_upload(namespace, credentials, &[&dists.sdist, &dists.wheel]));
    }

    /// Uploads a generated `project` 1.0 wheel holding `payload` with `headers` (its
    /// credentials), asserting 200; returns its filename and bytes.
    pub fn upload_wheel(
        &self,
        namespace: &str,
        project: &str,
        payload: &[u8],
        headers: &[(&str, &str)],
    ) -> (String, Vec<u8>) {
        let filename = format!("{project}-1.0-py3-none-any.whl");
        let wheel = wheel_bytes(project, "1.0", payload);
        let uploaded = self.http.post_multipart(
            &self.index_url(namespace),
            content_form(project, "1.0", &filename, &wheel),
            headers,
        );
        assert_eq!(uploaded.status, 200, "{}\n{}", uploaded.text(), self.logs());
        (filename, wheel)
    }

    /// A fresh virtualenv in a new temporary directory.
    pub fn fresh_venv(&self) -> (tempfile::TempDir, Venv) {
        let dir = tempfile::tempdir().unwrap();
        let venv = self.python.new_venv(&dir.path().join("venv"));
        (dir, venv)
    }

    /// `skopeo inspect --raw` of `namespace/repository:tag` in the registry, parsed.
    pub fn skopeo_index(
        &self,
        reference: &str,
        credentials: Option<(&str, &str)>,
    ) -> serde_json::Value {
        let mut skopeo = Command::new("skopeo");
        pyoci_test_support::without_proxy_env(&mut skopeo);
        skopeo.args(["inspect", "--raw", "--tls-verify=false"]);
        if let Some((user, password)) = credentials {
            skopeo.arg(format!("--creds={user}:{password}"));
        }
        skopeo.arg(format!(
            "docker://{}/{reference}",
            self.registry.host_port()
        ));
        let output = run_checked(&mut skopeo);
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("skopeo printed no JSON ({err}):\n{}", text(&output)))
    }

    /// Everything PyOCI and the registry logged, for assertion messages.
    pub fn logs(&self) -> String {
        format!(
            "--- pyoci log ---\n{}\n--- registry log ---\n{}",
            self.pyoci.log(),
            self.registry.log()
        )
    }
}

/// The fixture's sdist and wheel for `version` with `marker`, built once per test binary.
pub fn dists(version: &str, marker: &str) -> Dists {
    static BUILT: Mutex<BTreeMap<(String, String), Dists>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = (version.to_owned(), marker.to_owned());
    if let Some(dists) = built.get(&key) {
        return dists.clone();
    }
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(env!("CARGO_CRATE_NAME"))
        .join(format!("{version}-{marker}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let dists = build_fixture(&dir, PROJECT, version, marker);
    built.insert(key, dists.clone());
    dists
}

/// A file link on a simple-index page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The link text (the file name).
    pub filename: String,
    /// The href without its fragment.
    pub url: String,
    /// The `#sha256=` fragment's value, if any.
    pub sha256: Option<String>,
}

/// The `<a href="...">text</a>` links of an HTML page.
pub fn links(html: &str) -> Vec<Link> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<a ") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let Some(close) = rest.find("</a>") else {
            break;
        };
        let text = rest[tag_end + 1..close].trim().to_owned();
        if let Some(href) = attribute(tag, "href") {
            let href = href.replace("&amp;", "&");
            let (url, fragment) = href.split_once('#').unwrap_or((&href, ""));
            found.push(Link {
                filename: text,
                url: url.to_owned(),
                sha256: fragment.strip_prefix("sha256=").map(str::to_owned),
            });
        }
        rest = &rest[close + 4..];
    }
    found
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("{name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// The page's links by file name.
pub fn listed(page: &HttpResponse) -> BTreeMap<String, Link> {
    links(&page.text())
        .into_iter()
        .map(|link| (link.filename.clone(), link))
        .collect()
}

/// Resolves a page's href against the page URL (hrefs may be absolute, rooted or relative).
pub fn resolve(page_url: &str, href: &str) -> String {
    if href.starts_with("http://") || href.starts_with("https://") {
        return href.to_owned();
    }
    let origin_end = page_url
        .match_indices('/')
        .nth(2)
        .map(|(index, _)| index)
        .unwrap_or(page_url.len());
    if href.starts_with('/') {
        return format!("{}{href}", &page_url[..origin_end]);
    }
    let base_end = page_url
        .rfind('/')
        .map(|index| index + 1)
        .unwrap_or(page_url.len());
    format!("{}{href}", &page_url[..base_end])
}

/// stdout + stderr of a client run.
pub fn text(output: &Output) -> String {
    pyoci_test_support::output_text(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links() {
        let page = r#"<html><body><h1>x</h1>
            <a href="/r/ns/x/x-1.0.tar.gz#sha256=abc" data-requires-python="&gt;=3.8">x-1.0.tar.gz</a><br>
            <a href="x-1.0-py3-none-any.whl">x-1.0-py3-none-any.whl</a>
            </body></html>"#;
        assert_eq!(
            links(page),
            vec![
                Link {
                    filename: "x-1.0.tar.gz".into(),
                    url: "/r/ns/x/x-1.0.tar.gz".into(),
                    sha256: Some("abc".into()),
                },
                Link {
                    filename: "x-1.0-py3-none-any.whl".into(),
                    url: "x-1.0-py3-none-any.whl".into(),
                    sha256: None,
                },
            ]
        );
    }

    #[test]
    fn resolves_hrefs() {
        let page = "http://127.0.0.1:1/r/ns/x/";
        assert_eq!(resolve(page, "x.whl"), "http://127.0.0.1:1/r/ns/x/x.whl");
        assert_eq!(
            resolve(page, "/r/ns/x/x.whl"),
            "http://127.0.0.1:1/r/ns/x/x.whl"
        );
        assert_eq!(resolve(page, "http://h/x.whl"), "http://h/x.whl");
    }
}
