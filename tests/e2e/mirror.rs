//! The pull-through mirror (`PYOCI_MIRROR_INDEX`) against the real distribution registry
//! and a local public index (`StaticIndex`: a PEP 691 JSON tree with files and upload
//! times, able to fail on demand). Never the internet.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    thread,
    time::{Duration, SystemTime},
};

use pyoci_test_support::{
    content_form, run_checked, write_dists, ClientHome, DistSpec, HttpClient, Pyoci, Python,
    Registry, RegistryAuth, StaticFault, StaticIndex, Venv, PUBLIC_INDEX_HOST,
};

const PRIVATE: &str = "acme";
const MIRROR: &str = "pypi";
const DAY: Duration = Duration::from_secs(86_400);

/// A registry, a public index serving `public`, and a PyOCI mirroring it into `pypi`.
struct Mirrored {
    registry: Registry,
    public: StaticIndex,
    pyoci: Pyoci,
    http: HttpClient,
    _dir: tempfile::TempDir,
}

/// A public file: its project, path, how long ago it was uploaded, and its yank reason.
type PublicFile<'a> = (&'a str, &'a Path, Duration, Option<&'a str>);

impl Mirrored {
    fn start(public: &[PublicFile<'_>], env: &[(&str, &str)]) -> Mirrored {
        Mirrored::start_with(RegistryAuth::None, "mirror-password", public, env)
    }

    /// [`Mirrored::start`] on a registry with `auth`, the mirror user `mirror` writing with
    /// `password`.
    fn start_with(
        auth: RegistryAuth<'_>,
        password: &str,
        public: &[PublicFile<'_>],
        env: &[(&str, &str)],
    ) -> Mirrored {
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("mirror-password");
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        let password = password_file;
        let now = SystemTime::now();
        let listed: Vec<(&str, &Path, SystemTime, Option<&str>)> = public
            .iter()
            .map(|(project, path, age, yanked)| (*project, *path, now - *age, *yanked))
            .collect();
        let public = StaticIndex::start(PUBLIC_INDEX_HOST, &listed);
        let registry = Registry::start(auth);
        let index = public.url();
        let password = password.display().to_string();
        let mut all = vec![
            ("PYOCI_MIRROR_INDEX", index.as_str()),
            ("PYOCI_MIRROR_NAMESPACE", MIRROR),
            ("PYOCI_MIRROR_USERNAME", "mirror"),
            ("PYOCI_MIRROR_PASSWORD_FILE", password.as_str()),
            ("PYOCI_WRITE_SETTLE_MS", "0"),
        ];
        all.extend_from_slice(env);
        let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &all);
        Mirrored {
            registry,
            public,
            pyoci,
            http: HttpClient::new(),
            _dir: dir,
        }
    }

    fn index_url(&self) -> String {
        self.pyoci.index_url(&self.registry, PRIVATE)
    }

    fn upload_private(&self, wheel: &Path, project: &str, version: &str) {
        let filename = wheel.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(wheel).unwrap();
        let response = self.http.post_multipart(
            &self.index_url(),
            content_form(project, version, filename, &bytes),
            &[],
        );
        assert_eq!(response.status, 200, "{}", response.text());
    }

    /// The tags of `project` kept in the mirror namespace, straight from the registry.
    fn kept_versions(&self, project: &str) -> Vec<String> {
        let response = self.http.get(&format!(
            "{}/v2/{MIRROR}/{project}/tags/list",
            self.registry.url()
        ));
        if response.status == 404 {
            return Vec::new();
        }
        assert_eq!(response.status, 200, "{}", response.text());
        let tags: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        let mut versions: Vec<String> = tags["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|tag| tag.as_str())
                    .filter(|tag| {
                        tag.starts_with(|c: char| c.is_ascii_digit()) && !tag.contains("pyoci")
                    })
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        versions.sort();
        versions
    }

    /// Waits until the registry holds exactly `versions` of `project` in the mirror
    /// namespace: a first client has the file as soon as the registry checked its bytes,
    /// and the file is made visible just after.
    fn kept_soon(&self, project: &str, versions: &[&str]) {
        pyoci_test_support::wait_for(
            Duration::from_millis(20),
            Duration::from_secs(5),
            || self.kept_versions(project) == versions,
            || {
                format!(
                    "{project} kept {:?}, not {versions:?}",
                    self.kept_versions(project)
                )
            },
        );
    }

    /// The filenames on `project`'s page through PyOCI (JSON), which must answer 200.
    fn listed(&self, project: &str) -> Vec<String> {
        let url = format!("{}{project}/", self.index_url());
        let response = self
            .http
            .get_with(&url, &[("Accept", "application/vnd.pypi.simple.v1+json")]);
        assert_eq!(
            response.status,
            200,
            "{}\n{}",
            response.text(),
            self.pyoci.log()
        );
        let page: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        page["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|file| file["filename"].as_str().unwrap().to_owned())
            .collect()
    }

    fn file_url(&self, project: &str, filename: &str) -> String {
        format!("{}{project}/{filename}", self.index_url())
    }
}

fn dists(dir: &Path, specs: &[DistSpec]) -> Vec<PathBuf> {
    write_dists(dir, specs)
}

#[test]
fn pip_and_uv_install_private_and_public_packages_through_one_url_then_from_the_registry_alone() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(
        work.path(),
        &[
            DistSpec::new("privapp", "1.0").requires("pubdep"),
            DistSpec::new("pubdep", "1.0"),
            DistSpec::new("pubdep", "2.0"),
        ],
    );
    let (privapp, pubdep_1, pubdep_2) = (&files[0], &files[1], &files[2]);
    let mirrored = Mirrored::start(
        &[
            ("pubdep", pubdep_1, 30 * DAY, None),
            // Published an hour ago: held back by the cooldown.
            ("pubdep", pubdep_2, Duration::from_secs(3600), None),
        ],
        &[
            ("PYOCI_MIRROR_MIN_AGE", "7d"),
            // Short, so the page is read again below, when the public index is down.
            ("PYOCI_MIRROR_PAGE_TTL", "1"),
            ("PYOCI_CACHE_TTL", "1"),
        ],
    );
    mirrored.upload_private(privapp, "privapp", "1.0");
    assert_eq!(mirrored.listed("pubdep"), ["pubdep-1.0-py3-none-any.whl"]);

    let python = Python::locate();
    for client in ["pip", "uv"] {
        let target = tempfile::tempdir().unwrap();
        let venv = python.new_venv(&target.path().join("venv"));
        let mut install = match client {
            "pip" => python.pip_install(&venv, &mirrored.index_url(), "privapp"),
            _ => python.uv_pip_install(&venv, &mirrored.index_url(), "privapp"),
        };
        run_checked(&mut install);
        assert_eq!(
            venv.import_attribute("pubdep", "VERSION"),
            "1.0",
            "{client}"
        );
        assert_eq!(
            venv.import_attribute("privapp", "VERSION"),
            "1.0",
            "{client}"
        );
    }
    // poetry, with PyOCI as its primary source (PyPI off).
    let home = ClientHome::new();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"mirror-consumer\"\nversion = \"0.1.0\"\n\
             requires-python = \">=3.8\"\ndependencies = [\"privapp\"]\n\n\
             [tool.poetry]\npackage-mode = false\n\n\
             [[tool.poetry.source]]\nname = \"pyoci\"\nurl = \"{}\"\npriority = \"primary\"\n",
            mirrored.index_url()
        ),
    )
    .unwrap();
    let mut poetry = home.command(&python, "poetry", project.path());
    poetry
        .args(["install", "--no-root"])
        .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
        .env("POETRY_VIRTUALENVS_OPTIONS_NO_PIP", "true");
    run_checked(&mut poetry);
    let venv = Venv::at(&project.path().join(".venv"));
    assert_eq!(venv.import_attribute("pubdep", "VERSION"), "1.0", "poetry");
    assert_eq!(venv.import_attribute("privapp", "VERSION"), "1.0", "poetry");

    mirrored.kept_soon("pubdep", &["1.0"]);
    assert_eq!(
        mirrored.kept_versions("privapp"),
        Vec::<String>::new(),
        "private stays private"
    );
    let fetched = mirrored
        .public
        .requests()
        .iter()
        .filter(|request| request.path.ends_with(".whl"))
        .count();
    assert_eq!(fetched, 1, "one public fetch for both installs");
    assert!(
        mirrored
            .public
            .requests()
            .iter()
            .all(|request| !request.authorization),
        "credentials reached the public index"
    );
    assert!(
        mirrored
            .public
            .requests()
            .iter()
            .all(|request| !request.path.contains("privapp")),
        "a private name reached the public index"
    );

    // The public index goes away (and its page expires here): what was kept still installs.
    mirrored.public.set_fault(StaticFault::Down);
    thread::sleep(Duration::from_millis(1100));
    let target = tempfile::tempdir().unwrap();
    let venv = python.new_venv(&target.path().join("venv"));
    run_checked(&mut python.pip_install(&venv, &mirrored.index_url(), "privapp"));
    assert_eq!(venv.import_attribute("pubdep", "VERSION"), "1.0");
    assert!(
        mirrored.pyoci.log().contains("may be incomplete"),
        "{}",
        mirrored.pyoci.log()
    );
}

#[test]
fn a_wrong_hash_a_short_file_or_a_stall_stores_nothing_and_the_next_request_tries_again() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(work.path(), &[DistSpec::new("faulty", "1.0")]);
    let mirrored = Mirrored::start(&[("faulty", &files[0], 30 * DAY, None)], &[]);
    let wheel = "faulty-1.0-py3-none-any.whl";
    let url = mirrored.file_url("faulty", wheel);
    for fault in [
        StaticFault::WrongHash,
        StaticFault::Truncated,
        StaticFault::Stall,
    ] {
        mirrored.public.set_fault(fault.clone());
        // The first client's answer streams as the file is fetched: a fault shows as an
        // error answer, or as a body broken off short of its length, never a whole file.
        match mirrored.http.try_request("GET", &url, &[], None) {
            Ok(response) => {
                assert_eq!(response.status, 502, "{fault:?}: {}", response.text());
                assert!(response.text().contains(wheel), "{}", response.text());
            }
            Err(broken) => assert!(
                broken.contains("status 200, then the body broke off"),
                "{fault:?}: {broken}"
            ),
        }
        assert_eq!(
            mirrored.kept_versions("faulty"),
            Vec::<String>::new(),
            "{fault:?} stored something"
        );
        assert!(
            mirrored.registry.unfinished_uploads().is_empty(),
            "{fault:?} left an upload session: {:?}",
            mirrored.registry.unfinished_uploads()
        );
    }
    mirrored.public.set_fault(StaticFault::None);
    let response = mirrored.http.get(&url);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.body, std::fs::read(&files[0]).unwrap());
    mirrored.kept_soon("faulty", &["1.0"]);
}

#[test]
fn twenty_concurrent_first_downloads_make_one_public_fetch() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(work.path(), &[DistSpec::new("popular", "1.0")]);
    let mirrored = Arc::new(Mirrored::start(
        &[("popular", &files[0], 30 * DAY, None)],
        &[],
    ));
    let url = mirrored.file_url("popular", "popular-1.0-py3-none-any.whl");
    let expected = std::fs::read(&files[0]).unwrap();
    let downloads: Vec<_> = (0..20)
        .map(|_| {
            let (url, mirrored) = (url.clone(), Arc::clone(&mirrored));
            thread::spawn(move || mirrored.http.get(&url))
        })
        .collect();
    for download in downloads {
        let response = download.join().unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.body, expected);
    }
    let fetches = mirrored
        .public
        .requests()
        .iter()
        .filter(|request| request.path.ends_with(".whl"))
        .count();
    assert_eq!(fetches, 1);
}

#[test]
fn the_cooldown_hides_young_and_undated_releases_and_an_exception_shows_one() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(
        work.path(),
        &[
            DistSpec::new("fresh", "1.0"),
            DistSpec::new("fresh", "1.1"),
            DistSpec::new("fresh", "1.2"),
        ],
    );
    let mirrored = Mirrored::start(
        &[
            ("fresh", &files[0], 30 * DAY, None),
            ("fresh", &files[1], DAY, None),
            ("fresh", &files[2], DAY, Some("broken")),
        ],
        &[
            ("PYOCI_MIRROR_MIN_AGE", "7d"),
            ("PYOCI_MIRROR_EXCEPTIONS", "fresh==1.2"),
        ],
    );
    assert_eq!(
        mirrored.listed("fresh"),
        ["fresh-1.2-py3-none-any.whl", "fresh-1.0-py3-none-any.whl"],
        "newest first"
    );
    let hidden = mirrored
        .http
        .get(&mirrored.file_url("fresh", "fresh-1.1-py3-none-any.whl"));
    assert_eq!(hidden.status, 404, "{}", hidden.text());
    assert!(
        hidden.text().contains("PYOCI_MIRROR_MIN_AGE"),
        "{}",
        hidden.text()
    );
    // The exception's file is yanked upstream, and said so.
    let url = format!("{}fresh/", mirrored.index_url());
    let page = mirrored
        .http
        .get_with(&url, &[("Accept", "application/vnd.pypi.simple.v1+json")]);
    let page: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
    assert_eq!(page["files"][0]["yanked"], "broken");
}

#[test]
fn private_names_and_registry_errors_never_reach_the_public_index() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(
        work.path(),
        &[
            DistSpec::new("acme-internal", "1.0"),
            DistSpec::new("other", "1.0"),
        ],
    );
    let mirrored = Mirrored::start(
        &[
            ("acme-internal", &files[0], 30 * DAY, None),
            ("other", &files[1], 30 * DAY, None),
        ],
        &[("PYOCI_PRIVATE_NAMES", "acme-*")],
    );
    let private = mirrored
        .http
        .get(&format!("{}acme-internal/", mirrored.index_url()));
    assert_eq!(private.status, 404, "{}", private.text());
    let file = mirrored
        .http
        .get(&mirrored.file_url("acme-internal", "acme_internal-1.0-py3-none-any.whl"));
    assert_eq!(file.status, 404, "{}", file.text());
    // A registry that is down is an error, never the public index.
    let mut registry_down = Mirrored::start(&[("other", &files[1], 30 * DAY, None)], &[]);
    registry_down.registry.stop();
    let down = registry_down
        .http
        .get(&format!("{}other/", registry_down.index_url()));
    assert!(down.status >= 500, "{} {}", down.status, down.text());
    for mirrored in [&mirrored, &registry_down] {
        let reached: Vec<String> = mirrored
            .public
            .requests()
            .iter()
            .map(|request| request.path.clone())
            .collect();
        assert!(
            reached
                .iter()
                .all(|path| !path.contains("acme") && !path.contains("other")),
            "reached the public index: {reached:?}"
        );
    }
}

/// `<project>/json` through PyOCI, which must answer 200.
fn project_json(mirrored: &Mirrored, project: &str) -> serde_json::Value {
    let response = mirrored
        .http
        .get(&format!("{}{project}/json", mirrored.index_url()));
    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        mirrored.pyoci.log()
    );
    response.json()
}

#[test]
fn json_of_a_mirrored_project_lists_kept_and_shown_public_releases_as_renovate_reads_them() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(
        work.path(),
        &[
            DistSpec::new("jsondep", "1.0"),
            DistSpec::new("jsondep", "1.1"),
            DistSpec::new("jsondep", "2.0"),
        ],
    );
    let mirrored = Mirrored::start(
        &[
            ("jsondep", &files[0], 30 * DAY, None),
            ("jsondep", &files[1], 20 * DAY, Some("broken")),
            // Published an hour ago: held back by the cooldown.
            ("jsondep", &files[2], Duration::from_secs(3600), None),
        ],
        &[("PYOCI_MIRROR_MIN_AGE", "7d")],
    );
    // 1.0 is kept in the registry; 1.1 is on the public index only.
    let kept = mirrored
        .http
        .get(&mirrored.file_url("jsondep", "jsondep-1.0-py3-none-any.whl"));
    assert_eq!(kept.status, 200, "{}", kept.text());
    mirrored.kept_soon("jsondep", &["1.0"]);

    let json = project_json(&mirrored, "jsondep");
    assert_eq!(json["info"]["name"], "jsondep");
    assert_eq!(json["info"]["version"], "1.1", "{json:#}");
    let releases = json["releases"].as_object().unwrap();
    let mut versions: Vec<&str> = releases.keys().map(String::as_str).collect();
    versions.sort();
    assert_eq!(versions, ["1.0", "1.1"], "2.0 is held back: {json:#}");

    // Upload times are the public index's, for kept and public files alike.
    let public_page = mirrored.http.get_with(
        &format!("{}jsondep/", mirrored.public.url()),
        &[("Accept", "application/vnd.pypi.simple.v1+json")],
    );
    let public_page = public_page.json();
    let public_time = |filename: &str| {
        public_page["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["filename"] == filename)
            .and_then(|file| file["upload-time"].as_str())
            .map(|time| time[..19].to_owned())
            .unwrap_or_else(|| panic!("no upload time for {filename}: {public_page:#}"))
    };
    for (version, filename) in [
        ("1.0", "jsondep-1.0-py3-none-any.whl"),
        ("1.1", "jsondep-1.1-py3-none-any.whl"),
    ] {
        let file = &releases[version][0];
        assert_eq!(file["filename"], filename);
        assert_eq!(file["upload_time"], public_time(filename), "{file:#}");
        assert!(
            file["upload_time_iso_8601"]
                .as_str()
                .is_some_and(|time| time.starts_with(&public_time(filename))),
            "{file:#}"
        );
        assert_eq!(file["packagetype"], "bdist_wheel");
        assert_eq!(file["digests"]["sha256"].as_str().unwrap().len(), 64);
    }
    assert_eq!(releases["1.0"][0]["yanked"], false);
    assert_eq!(releases["1.1"][0]["yanked"], true);
    assert_eq!(releases["1.1"][0]["yanked_reason"], "broken");
    assert_eq!(json["urls"][0]["filename"], "jsondep-1.1-py3-none-any.whl");

    // The URLs point at PyOCI, and the public one downloads through the mirror.
    let url = releases["1.1"][0]["url"].as_str().unwrap();
    assert!(
        url.ends_with("/acme/jsondep/jsondep-1.1-py3-none-any.whl"),
        "{url}"
    );
    let download = mirrored
        .http
        .get(&format!("{}{url}", mirrored.pyoci.base_url()));
    assert_eq!(download.status, 200, "{}", download.text());
    assert_eq!(download.body, std::fs::read(&files[1]).unwrap());
}

#[test]
fn json_of_a_private_name_or_project_with_the_mirror_on_never_reaches_the_public_index() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(
        work.path(),
        &[
            DistSpec::new("acme-secret", "1.0"),
            DistSpec::new("ownlib", "1.0"),
            DistSpec::new("ownlib", "2.0"),
        ],
    );
    let mirrored = Mirrored::start(
        &[
            ("acme-secret", &files[0], 30 * DAY, None),
            ("ownlib", &files[2], 30 * DAY, None),
        ],
        &[("PYOCI_PRIVATE_NAMES", "acme-*")],
    );
    let private_name = mirrored
        .http
        .get(&format!("{}acme-secret/json", mirrored.index_url()));
    assert_eq!(private_name.status, 404, "{}", private_name.text());
    assert!(
        private_name.text().contains("PYOCI_PRIVATE_NAMES"),
        "{}",
        private_name.text()
    );
    // A project the registry has is private: its own versions only, never merged.
    mirrored.upload_private(&files[1], "ownlib", "1.0");
    let json = project_json(&mirrored, "ownlib");
    let versions: Vec<&String> = json["releases"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["1.0"], "{json:#}");
    let reached: Vec<String> = mirrored
        .public
        .requests()
        .iter()
        .map(|request| request.path.clone())
        .collect();
    assert!(reached.is_empty(), "reached the public index: {reached:?}");
}

#[test]
fn about_pages_say_what_is_mirrored_and_from_where() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(
        work.path(),
        &[
            DistSpec::new("aboutdep", "1.0"),
            DistSpec::new("aboutdep", "1.1"),
            DistSpec::new("ownapp", "1.0"),
        ],
    );
    let mirrored = Mirrored::start(
        &[
            ("aboutdep", &files[0], 30 * DAY, None),
            ("aboutdep", &files[1], 20 * DAY, None),
        ],
        &[],
    );
    mirrored.upload_private(&files[2], "ownapp", "1.0");
    let namespace = mirrored
        .http
        .get(&format!("{}+about/", mirrored.index_url()));
    assert_eq!(namespace.status, 200, "{}", namespace.text());
    assert!(
        namespace.text().contains("id=\"mirrored-none\""),
        "nothing kept yet: {}",
        namespace.text()
    );

    let kept = mirrored
        .http
        .get(&mirrored.file_url("aboutdep", "aboutdep-1.0-py3-none-any.whl"));
    assert_eq!(kept.status, 200, "{}", kept.text());
    let namespace = mirrored
        .http
        .get(&format!("{}+about/", mirrored.index_url()))
        .text();
    let public_index = mirrored.public.url();
    assert!(namespace.contains("id=\"mirrored\""), "{namespace}");
    assert!(namespace.contains(&public_index), "{namespace}");
    assert!(
        namespace.contains("<a class=\"mirrored-project\" href=\"aboutdep/\">aboutdep</a>"),
        "{namespace}"
    );
    assert!(
        namespace.contains("<a class=\"project\" href=\"ownapp/\">ownapp</a>"),
        "{namespace}"
    );
    assert!(
        !namespace.contains("class=\"mirrored-project\" href=\"ownapp/\""),
        "a private project is not mirrored: {namespace}"
    );

    let project = mirrored
        .http
        .get(&format!("{}+about/aboutdep/", mirrored.index_url()));
    assert_eq!(
        project.status,
        200,
        "{}\n{}",
        project.text(),
        mirrored.pyoci.log()
    );
    let project = project.text();
    assert!(project.contains("id=\"mirrored\""), "{project}");
    assert!(
        project.contains(&format!("{public_index}aboutdep/")),
        "{project}"
    );
    // Kept and public releases both, newest first.
    assert!(project.contains("id=\"v1.1\""), "{project}");
    assert!(project.contains("id=\"v1.0\""), "{project}");
    // A private project's page says nothing of the mirror.
    let own = mirrored
        .http
        .get(&format!("{}+about/ownapp/", mirrored.index_url()))
        .text();
    assert!(!own.contains("id=\"mirrored\""), "{own}");
}

#[test]
fn callers_read_the_mirror_with_their_own_credentials_and_a_refused_store_still_serves_the_file() {
    const ALICE: (&str, &str) = ("alice", "alice-pw-mirror-3");
    let work = tempfile::tempdir().unwrap();
    let files = dists(work.path(), &[DistSpec::new("guarded", "1.0")]);
    let metrics_port = pyoci_test_support::free_port().to_string();
    // The mirror's password file is wrong: the registry refuses every write of the mirror.
    let mirrored = Mirrored::start_with(
        RegistryAuth::Htpasswd(&[ALICE, ("mirror", "the-right-password")]),
        "a-wrong-password",
        &[("guarded", &files[0], 30 * DAY, None)],
        &[("PYOCI_METRICS_PORT", &metrics_port)],
    );
    let page_url = format!("{}guarded/", mirrored.index_url());
    let wheel = "guarded-1.0-py3-none-any.whl";
    let anonymous = mirrored.http.get(&page_url);
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    let anonymous = mirrored.http.get(&mirrored.file_url("guarded", wheel));
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert!(
        mirrored.public.requests().is_empty(),
        "a caller the registry refused reached the public index: {:?}",
        mirrored.public.requests()
    );

    let auth = pyoci_test_support::basic_auth(ALICE.0, ALICE.1);
    let alice = [("Authorization", auth.as_str())];
    let page = mirrored.http.get_with(&page_url, &alice);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains(wheel), "{}", page.text());
    let file = mirrored
        .http
        .get_with(&mirrored.file_url("guarded", wheel), &alice);
    assert_eq!(
        file.status,
        200,
        "{}\n{}",
        file.text(),
        mirrored.pyoci.log()
    );
    assert_eq!(
        file.body,
        std::fs::read(&files[0]).unwrap(),
        "passed on whole"
    );
    assert!(
        mirrored.pyoci.log().contains("refused the mirror's upload"),
        "{}",
        mirrored.pyoci.log()
    );
    let tags = mirrored.http.get_with(
        &format!("{}/v2/{MIRROR}/guarded/tags/list", mirrored.registry.url()),
        &alice,
    );
    assert_eq!(tags.status, 404, "nothing kept: {}", tags.text());
    let scrape = mirrored
        .http
        .get(&format!("http://127.0.0.1:{metrics_port}/metrics"))
        .text();
    assert!(
        scrape.contains("pyoci_mirror_events_total{event=\"store_failed\"} 1"),
        "{scrape}"
    );
    assert!(
        mirrored
            .public
            .requests()
            .iter()
            .all(|request| !request.authorization),
        "credentials reached the public index"
    );
}

#[test]
fn a_public_index_answering_garbage_html_a_redirect_loop_or_503_is_a_clear_error_and_tried_again() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(work.path(), &[DistSpec::new("shaky", "1.0")]);
    // Pages kept for 1 s, so each fault below is met by a fresh request.
    let mirrored = Mirrored::start(
        &[("shaky", &files[0], 30 * DAY, None)],
        &[("PYOCI_MIRROR_PAGE_TTL", "1"), ("PYOCI_CACHE_TTL", "1")],
    );
    let url = format!("{}shaky/", mirrored.index_url());
    for (fault, says) in [
        (StaticFault::Garbage, "JSON"),
        (StaticFault::Html, "text/html"),
        (StaticFault::RedirectLoop, "redirect"),
        (StaticFault::Status(503), "503"),
    ] {
        mirrored.public.set_fault(fault.clone());
        thread::sleep(Duration::from_millis(1100));
        let response = mirrored.http.get(&url);
        assert_eq!(response.status, 502, "{fault:?}: {}", response.text());
        let text = response.text();
        assert!(
            text.contains("public index") && text.contains(says),
            "{fault:?}: {text}"
        );
    }
    mirrored.public.set_fault(StaticFault::None);
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(mirrored.listed("shaky"), ["shaky-1.0-py3-none-any.whl"]);
}

#[test]
fn the_core_metadata_of_a_wheel_not_kept_yet_is_passed_on_checked_and_then_served_kept() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(
        work.path(),
        &[DistSpec::new("meta", "1.0").requires("other")],
    );
    let mirrored = Mirrored::start(&[("meta", &files[0], 30 * DAY, None)], &[]);
    let wheel = "meta-1.0-py3-none-any.whl";
    let expected = pyoci_test_support::wheel_core_metadata(&files[0]);
    let url = format!("{}meta/", mirrored.index_url());
    let page = mirrored
        .http
        .get_with(&url, &[("Accept", "application/vnd.pypi.simple.v1+json")]);
    let page: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
    let sha256 = pyoci_test_support::sha256_hex(&expected);
    assert_eq!(page["files"][0]["core-metadata"]["sha256"], sha256.as_str());

    let metadata = mirrored
        .http
        .get(&format!("{}.metadata", mirrored.file_url("meta", wheel)));
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    assert_eq!(metadata.body, expected);
    assert_eq!(mirrored.public.requests_for(".metadata").len(), 1);
    assert_eq!(
        mirrored.kept_versions("meta"),
        Vec::<String>::new(),
        "passed on, not kept"
    );

    // Kept with its wheel: then served from the registry, the public index not asked.
    let file = mirrored.http.get(&mirrored.file_url("meta", wheel));
    assert_eq!(file.status, 200, "{}", file.text());
    let metadata = mirrored
        .http
        .get(&format!("{}.metadata", mirrored.file_url("meta", wheel)));
    assert_eq!(metadata.body, expected);
    assert_eq!(mirrored.public.requests_for(".metadata").len(), 1);
}

#[test]
fn a_public_file_larger_than_an_upload_may_be_is_refused_before_it_is_fetched() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(work.path(), &[DistSpec::new("bulky", "1.0")]);
    let size = std::fs::metadata(&files[0]).unwrap().len();
    let limit = (size - 1).to_string();
    let mirrored = Mirrored::start(
        &[("bulky", &files[0], 30 * DAY, None)],
        &[("PYOCI_MAX_BODY", &limit)],
    );
    let response = mirrored
        .http
        .get(&mirrored.file_url("bulky", "bulky-1.0-py3-none-any.whl"));
    assert_eq!(response.status, 502, "{}", response.text());
    assert!(response.text().contains("larger"), "{}", response.text());
    assert_eq!(mirrored.kept_versions("bulky"), Vec::<String>::new());
    assert!(mirrored.registry.unfinished_uploads().is_empty());
}

#[test]
fn with_one_listed_registry_mirrored_projects_are_served_at_the_short_url_too() {
    let work = tempfile::tempdir().unwrap();
    let files = dists(work.path(), &[DistSpec::new("shortcut", "1.0")]);
    // A second PyOCI beside the first, listing the registry (known once it runs) as the
    // only one, so URLs may leave it out.
    let mirrored = Mirrored::start(&[("shortcut", &files[0], 30 * DAY, None)], &[]);
    let registry_url = mirrored.registry.url();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "x\n").unwrap();
    let index = mirrored.public.url();
    let password = password.display().to_string();
    let fixed = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[
            ("PYOCI_REGISTRIES", registry_url.as_str()),
            ("PYOCI_MIRROR_INDEX", index.as_str()),
            ("PYOCI_MIRROR_NAMESPACE", MIRROR),
            ("PYOCI_MIRROR_USERNAME", "mirror"),
            ("PYOCI_MIRROR_PASSWORD_FILE", password.as_str()),
        ],
    );
    let short = format!("{}/{PRIVATE}/shortcut/", fixed.base_url());
    let page = mirrored
        .http
        .get_with(&short, &[("Accept", "application/vnd.pypi.simple.v1+json")]);
    assert_eq!(page.status, 200, "{}\n{}", page.text(), fixed.log());
    let wheel = mirrored
        .http
        .get(&format!("{short}shortcut-1.0-py3-none-any.whl"));
    assert_eq!(wheel.status, 200, "{}", wheel.text());
    assert_eq!(wheel.body, std::fs::read(&files[0]).unwrap());
    mirrored.kept_soon("shortcut", &["1.0"]);
}
