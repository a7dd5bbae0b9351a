//! The client suite through emulated hosted registries: a quirk front
//! ([`pyoci_test_support::QuirkRegistry`]) in front of the real distribution registry behaves
//! as ghcr.io, Docker Hub, GitLab, ECR, ACR, Quay or Harbor does where they differ (each quirk
//! is cited in test-support/src/quirks/), and real twine, uv and pip go through PyOCI to it.
//! A front is a mock only of what the real registry cannot be made to do; storage, digests
//! and auth decisions stay the real registry's. Each test asserts its quirks fired.

use std::{collections::BTreeSet, path::Path};

use pyoci_test_support::{
    basic_auth, run_checked, upload_form, HttpClient, Pyoci, Python, QuirkRegistry, Quirks,
    RegistryAuth, TokenIssuer, Venv, ALICE,
};

use crate::support::{dists, listed, MODULE, PROJECT};

const GREETING_1: &str = "Hello from hello-pyoci 0.1.0 via PyOCI";

/// A quirk registry and a PyOCI in front of it.
struct Front {
    quirks: QuirkRegistry,
    pyoci: Pyoci,
    python: Python,
    http: HttpClient,
}

impl Front {
    fn start(quirks: Quirks, auth: RegistryAuth<'_>, env: &[(&str, &str)]) -> Front {
        let quirks = QuirkRegistry::start(quirks, auth);
        let mut all_env = vec![("PYOCI_WRITE_SETTLE_MS", "0")];
        all_env.extend_from_slice(env);
        let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &all_env);
        Front {
            quirks,
            pyoci,
            python: Python::locate(),
            http: HttpClient::new(),
        }
    }

    fn index_url(&self, namespace: &str) -> String {
        format!(
            "{}/{}/{namespace}/",
            self.pyoci.base_url(),
            self.quirks.url_segment()
        )
    }

    /// The index URL with `user:password@`, both already percent-encoded as needed.
    fn index_url_as(&self, namespace: &str, user: &str, password: &str) -> String {
        format!(
            "http://{user}:{password}@127.0.0.1:{}/{}/{namespace}/",
            self.pyoci.port(),
            self.quirks.url_segment()
        )
    }

    fn project_url(&self, namespace: &str) -> String {
        format!("{}{PROJECT}/", self.index_url(namespace))
    }

    fn get(
        &self,
        url: &str,
        credentials: Option<(&str, &str)>,
    ) -> pyoci_test_support::HttpResponse {
        match credentials {
            Some((user, password)) => self
                .http
                .get_with(url, &[("Authorization", &basic_auth(user, password))]),
            None => self.http.get(url),
        }
    }

    fn post(&self, url: &str, credentials: (&str, &str)) -> pyoci_test_support::HttpResponse {
        let authorization = basic_auth(credentials.0, credentials.1);
        self.http
            .request("POST", url, &[("Authorization", &authorization)], None)
    }

    /// Publishes the fixture's 0.1.0 sdist and wheel to `namespace` with twine.
    fn twine_first(&self, namespace: &str, (user, password): (&str, &str)) {
        let first = dists("0.1.0", "original");
        run_checked(&mut self.python.twine_upload(
            &self.index_url(namespace),
            user,
            password,
            &[&first.sdist, &first.wheel],
        ));
    }

    /// A new virtualenv in `dir` with `wanted` installed from `index` by pip, or by uv.
    fn install(&self, index: &str, dir: &Path, uv: bool, wanted: &str) -> Venv {
        let venv = self
            .python
            .new_venv(&dir.join(if uv { "uv" } else { "pip" }));
        run_checked(&mut if uv {
            self.python.uv_pip_install(&venv, index, wanted)
        } else {
            self.python.pip_install(&venv, index, wanted)
        });
        venv
    }

    fn logs(&self) -> String {
        format!(
            "--- quirks fired ---\n{:?}\n--- pyoci log ---\n{}\n--- registry log ---\n{}",
            self.quirks.counts(),
            self.pyoci.log(),
            self.quirks.registry().log()
        )
    }
}

/// What a profile's run of the client suite does and expects.
struct Suite<'a> {
    namespace: &'a str,
    /// Credentials as twine and uv get them.
    credentials: (&'a str, &'a str),
    /// The same, percent-encoded for an index URL.
    url_credentials: (&'a str, &'a str),
    /// Publish 0.2.0 with `uv publish` too (twine always publishes 0.1.0).
    uv_publish: bool,
    /// Install with uv too (pip always installs 0.1.0).
    uv_install: bool,
    /// Whether the registry deletes (ghcr.io answers 405).
    deletes: bool,
    /// Whether the namespace is readable without credentials.
    anonymous_pulls: bool,
}

/// twine (and uv) publish, pip (and uv) install, yank, delete, anonymous reads.
fn client_suite(front: &Front, suite: &Suite<'_>) {
    let namespace = suite.namespace;
    let (user, password) = suite.credentials;
    front.twine_first(namespace, suite.credentials);
    let first = dists("0.1.0", "original");
    let mut versions = vec!["0.1.0"];
    if suite.uv_publish {
        let second = dists("0.2.0", "second");
        let index = front.index_url(namespace);
        let mut uv = front.python.command("uv");
        uv.args(["publish", "--no-cache", "--publish-url", &index])
            .args(["-u", user, "-p", password])
            .arg(&second.sdist)
            .arg(&second.wheel);
        run_checked(&mut uv);
        versions.push("0.2.0");
    }
    let page = front.get(&front.project_url(namespace), Some(suite.credentials));
    assert_eq!(page.status, 200, "{}\n{}", page.text(), front.logs());
    assert_eq!(
        listed(&page).len(),
        versions.len() * 2,
        "{}\n{}",
        page.text(),
        front.logs()
    );

    let (url_user, url_password) = suite.url_credentials;
    let index = front.index_url_as(namespace, url_user, url_password);
    let dir = tempfile::tempdir().unwrap();
    let venv = front.install(&index, dir.path(), false, "hello-pyoci==0.1.0");
    assert_eq!(venv.import_attribute(MODULE, "GREETING"), GREETING_1);
    if suite.uv_install {
        let wanted = format!("hello-pyoci=={}", versions[versions.len() - 1]);
        let venv = front.install(&index, dir.path(), true, &wanted);
        assert!(venv
            .import_attribute(MODULE, "GREETING")
            .contains(versions[versions.len() - 1]));
    }

    if suite.anonymous_pulls {
        let page = front.get(&front.project_url(namespace), None);
        assert_eq!(page.status, 200, "{}\n{}", page.text(), front.logs());
        let wheel = "hello_pyoci-0.1.0-py3-none-any.whl";
        let file = front.get(&format!("{}{wheel}", front.project_url(namespace)), None);
        assert_eq!(file.status, 200, "{}\n{}", file.text(), front.logs());
        assert_eq!(file.body, std::fs::read(&first.wheel).unwrap());
    }

    // Yank the newest version.
    let newest = versions[versions.len() - 1];
    let yank = front.post(
        &format!("{}+yank/{newest}", front.project_url(namespace)),
        suite.credentials,
    );
    assert_eq!(yank.status, 200, "{}\n{}", yank.text(), front.logs());
    let page = front.get(&front.project_url(namespace), Some(suite.credentials));
    assert!(page.text().contains("data-yanked"), "{}", page.text());

    // Delete 0.1.0's sdist (the index is rewritten), then its wheel, the version's last
    // file (its index must go: a registry DELETE).
    let delete = |filename: &str| {
        front.http.delete(
            &format!("{}{filename}", front.project_url(namespace)),
            &[("Authorization", &basic_auth(user, password))],
        )
    };
    let deleted = delete("hello_pyoci-0.1.0.tar.gz");
    assert_eq!(deleted.status, 200, "{}\n{}", deleted.text(), front.logs());
    let wheel = "hello_pyoci-0.1.0-py3-none-any.whl";
    let deleted = delete(wheel);
    if suite.deletes {
        assert_eq!(deleted.status, 200, "{}\n{}", deleted.text(), front.logs());
    } else {
        assert_eq!(deleted.status, 405, "{}\n{}", deleted.text(), front.logs());
        assert!(
            deleted.text().contains("does not allow deletes"),
            "{}",
            deleted.text()
        );
    }
    let page = front.get(&front.project_url(namespace), Some(suite.credentials));
    let files = listed(&page);
    assert!(
        !files.contains_key("hello_pyoci-0.1.0.tar.gz"),
        "{}",
        page.text()
    );
    assert_eq!(files.contains_key(wheel), !suite.deletes, "{}", page.text());
}

fn token_auth() -> (TokenIssuer, RegistryAuth<'static>) {
    let issuer = TokenIssuer::start();
    (issuer.clone(), RegistryAuth::Token(issuer))
}

#[test]
fn ghcr_redirects_blobs_without_credentials_refuses_deletes_and_pages_tags() {
    let (_issuer, auth) = token_auth();
    let front = Front::start(Quirks::ghcr(), auth, &[]);
    client_suite(
        &front,
        &Suite {
            namespace: "public",
            credentials: ALICE,
            url_credentials: ALICE,
            uv_publish: true,
            uv_install: true,
            deletes: false,
            anonymous_pulls: true,
        },
    );
    let quirks = &front.quirks;
    assert!(quirks.count("blob_redirects") > 0, "{}", front.logs());
    assert!(quirks.count("storage_gets") > 0, "{}", front.logs());
    assert_eq!(
        quirks.count("storage_saw_authorization"),
        0,
        "credentials reached the storage host\n{}",
        front.logs()
    );
    assert!(quirks.count("delete_refused") > 0, "{}", front.logs());
    assert!(quirks.count("tag_pages") > 0, "{}", front.logs());
    assert!(
        quirks.count("token_requests_with_credentials") > 0,
        "{}",
        front.logs()
    );
}

#[test]
fn ghcr_lists_a_project_with_more_than_100_versions_across_tag_pages() {
    let (_issuer, auth) = token_auth();
    let front = Front::start(Quirks::ghcr(), auth, &[("PYOCI_MAX_VERSIONS", "0")]);
    let dir = tempfile::tempdir().unwrap();
    let name = "many-versions";
    let specs: Vec<_> = (0..105)
        .map(|n| pyoci_test_support::DistSpec::new(name, &format!("1.{n}")))
        .collect();
    let wheels = pyoci_test_support::write_dists(dir.path(), &specs);
    let upload_url = front.index_url("team");
    let authorization = basic_auth(ALICE.0, ALICE.1);
    for (wheel, spec) in wheels.iter().zip(&specs) {
        let form = upload_form(wheel, name, &spec.version);
        let answer =
            front
                .http
                .post_multipart(&upload_url, form, &[("Authorization", &authorization)]);
        assert_eq!(answer.status, 200, "{}\n{}", answer.text(), front.logs());
    }
    let before = front.quirks.count("tag_pages");
    let page = front.get(&format!("{upload_url}{name}/"), Some(ALICE));
    assert_eq!(page.status, 200, "{}\n{}", page.text(), front.logs());
    let files = listed(&page);
    assert_eq!(files.len(), 105, "{}", page.text());
    assert!(files.contains_key("many_versions-1.104-py3-none-any.whl"));
    assert!(
        front.quirks.count("tag_pages") - before >= 2,
        "the listing did not follow the Link to a second page\n{}",
        front.logs()
    );
}

#[test]
fn docker_hub_token_service_on_another_host_gets_the_credentials_and_429s_are_waited_out() {
    let (_issuer, auth) = token_auth();
    let front = Front::start(Quirks::docker_hub(), auth, &[]);
    client_suite(
        &front,
        &Suite {
            namespace: "public",
            credentials: ALICE,
            url_credentials: ALICE,
            uv_publish: true,
            uv_install: true,
            deletes: true,
            anonymous_pulls: true,
        },
    );
    let quirks = &front.quirks;
    assert!(
        quirks.count("token_requests_with_credentials") > 0,
        "the token service on the other host never got the user's credentials\n{}",
        front.logs()
    );
    assert!(
        quirks.count("rate_limited") > 0,
        "no pull was rate-limited\n{}",
        front.logs()
    );
}

#[test]
fn gitlab_refusing_pyoci_media_types_gets_the_conservative_profile_once_and_for_all() {
    let (_issuer, auth) = token_auth();
    let front = Front::start(Quirks::gitlab(), auth, &[]);
    client_suite(
        &front,
        &Suite {
            namespace: "group/project",
            credentials: ALICE,
            url_credentials: ALICE,
            uv_publish: true,
            uv_install: true,
            deletes: true,
            anonymous_pulls: false,
        },
    );
    let quirks = &front.quirks;
    assert_eq!(
        quirks.count("manifest_refused"),
        1,
        "PyOCI must learn after the first refusal\n{}",
        front.logs()
    );
    let log = front.pyoci.log();
    assert_eq!(
        log.matches("writing to it with the conservative profile")
            .count(),
        1,
        "{log}"
    );
    assert!(
        quirks.count("token_requests_with_credentials") > 0,
        "{}",
        front.logs()
    );
    // Conservative: no PEP 658 metadata file.
    let page = front.get(&front.project_url("group/project"), Some(ALICE));
    assert!(
        !page.text().contains("data-dist-info-metadata"),
        "{}",
        page.text()
    );
}

#[test]
fn ecr_needs_the_repository_created_answers_patch_with_201_and_gets_one_patch_per_blob() {
    const AWS: (&str, &str) = ("AWS", "ecr-login-password-token");
    let front = Front::start(Quirks::ecr(), RegistryAuth::Htpasswd(&[AWS]), &[]);
    let first = dists("0.1.0", "original");

    // Nobody created the repository: a 404 that says what to do, and twine fails.
    let form = upload_form(&first.wheel, PROJECT, "0.1.0");
    let refused = front.http.post_multipart(
        &front.index_url("team"),
        form,
        &[("Authorization", &basic_auth(AWS.0, AWS.1))],
    );
    assert_eq!(refused.status, 404, "{}\n{}", refused.text(), front.logs());
    assert!(
        refused
            .text()
            .contains("aws ecr create-repository --repository-name team/hello_pyoci"),
        "{}",
        refused.text()
    );
    assert!(
        front.quirks.count("repository_missing") > 0,
        "{}",
        front.logs()
    );

    front.quirks.create_repository("team/hello_pyoci");
    client_suite(
        &front,
        &Suite {
            namespace: "team",
            credentials: AWS,
            url_credentials: AWS,
            uv_publish: false,
            uv_install: false,
            deletes: true,
            anonymous_pulls: false,
        },
    );
    let quirks = &front.quirks;
    assert!(quirks.count("patch_201") > 0, "{}", front.logs());
    assert_eq!(
        quirks.count("patch_discarded"),
        0,
        "a blob went up in more than one PATCH\n{}",
        front.logs()
    );
}

#[test]
fn acr_tokens_hold_one_scope_and_a_push_gets_its_own_token() {
    let (issuer, auth) = token_auth();
    let front = Front::start(Quirks::acr(), auth, &[]);
    // A read before any write, so a token holding pull alone is asked for whatever order
    // the suite's reads and writes then take (a cached push token also serves reads).
    let page = format!("{}{PROJECT}/", front.index_url("team"));
    let _ = front.http.request(
        "GET",
        &page,
        &[("Authorization", &basic_auth(ALICE.0, ALICE.1))],
        None,
    );
    client_suite(
        &front,
        &Suite {
            namespace: "team",
            credentials: ALICE,
            url_credentials: ALICE,
            uv_publish: false,
            uv_install: true,
            deletes: true,
            anonymous_pulls: false,
        },
    );
    let grants = issuer.grants();
    // Compared as sets: the distribution registry's challenge lists a scope's actions from a
    // Go map, so `pull,push` and `push,pull` both occur.
    let for_repository = |actions: &[&str]| {
        let wanted: BTreeSet<&str> = actions.iter().copied().collect();
        grants.iter().any(|grant| {
            grant.user.as_deref() == Some(ALICE.0)
                && grant.access.iter().any(|access| {
                    access.name == "team/hello_pyoci"
                        && access
                            .actions
                            .iter()
                            .map(String::as_str)
                            .collect::<BTreeSet<_>>()
                            == wanted
                })
        })
    };
    assert!(for_repository(&["pull"]), "{grants:?}");
    assert!(for_repository(&["pull", "push"]), "{grants:?}");

    // A pull-only user's token meets a push: insufficient_scope, which PyOCI answers 403.
    let form = upload_form(&dists("0.1.0", "original").wheel, PROJECT, "0.1.0");
    let refused = front.http.post_multipart(
        &front.index_url("team"),
        form,
        &[("Authorization", &basic_auth("bob", "builder"))],
    );
    assert_eq!(refused.status, 403, "{}\n{}", refused.text(), front.logs());
    assert!(
        front.quirks.count("insufficient_scope") > 0,
        "{}",
        front.logs()
    );
}

#[test]
fn quay_gets_platforms_on_every_index_entry_and_standard_media_types() {
    let (_issuer, auth) = token_auth();
    let front = Front::start(Quirks::quay(), auth, &[]);
    client_suite(
        &front,
        &Suite {
            namespace: "public",
            credentials: ALICE,
            url_credentials: ALICE,
            uv_publish: false,
            uv_install: true,
            deletes: true,
            anonymous_pulls: true,
        },
    );
    assert_eq!(
        front.quirks.count("manifest_refused"),
        1,
        "only the first manifest, with PyOCI's media types, may be refused\n{}",
        front.logs()
    );
}

#[test]
fn harbor_robot_accounts_with_a_dollar_publish_and_install_once_the_project_exists() {
    const ROBOT: (&str, &str) = ("robot$pyoci+ci", "robot-secret");
    let issuer = TokenIssuer::builder()
        .user(
            ROBOT.0,
            ROBOT.1,
            vec![pyoci_test_support::Rule::everything()],
        )
        .start();
    let front = Front::start(Quirks::harbor(), RegistryAuth::Token(issuer), &[]);
    let first = dists("0.1.0", "original");
    let refused = front.http.post_multipart(
        &front.index_url("pyoci"),
        upload_form(&first.wheel, PROJECT, "0.1.0"),
        &[("Authorization", &basic_auth(ROBOT.0, ROBOT.1))],
    );
    assert_eq!(refused.status, 404, "{}\n{}", refused.text(), front.logs());
    assert!(
        refused.text().contains("create the project `pyoci`"),
        "{}",
        refused.text()
    );

    front.quirks.create_repository("pyoci");
    client_suite(
        &front,
        &Suite {
            namespace: "pyoci",
            credentials: ROBOT,
            // `$` and `+` percent-encoded in the index URL, as users must write them.
            url_credentials: ("robot%24pyoci%2Bci", ROBOT.1),
            uv_publish: true,
            uv_install: true,
            deletes: true,
            anonymous_pulls: false,
        },
    );
    assert!(
        front.quirks.count("repository_missing") > 0,
        "{}",
        front.logs()
    );
}

const BIG_MODULE: &str = "bigpkg";
const KIB: u64 = 1024;

/// A valid wheel of `bigpkg` 1.0 holding `size` incompressible bytes, and its path.
fn big_wheel(python: &Python, dir: &Path, size: u64) -> std::path::PathBuf {
    big_wheel_named(python, dir, BIG_MODULE, "1.0", size)
}

/// A valid wheel of `name` (also its module) at `version` holding `size` incompressible bytes.
fn big_wheel_named(
    python: &Python,
    dir: &Path,
    name: &str,
    version: &str,
    size: u64,
) -> std::path::PathBuf {
    let path = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let script = r#"
import os, sys, zipfile
path, name, version, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
info = "%s-%s.dist-info" % (name, version)
files = {
    name + "/__init__.py": ("SIZE = %d\n" % size).encode(),
    name + "/blob.bin": os.urandom(size),
    info + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)).encode(),
    info + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: pyoci-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = "".join("%s,,\n" % entry for entry in files) + info + "/RECORD,,\n"
files[info + "/RECORD"] = record.encode()
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as wheel:
    for entry, data in files.items():
        wheel.writestr(entry, data)
"#;
    let mut command = python.command("python");
    command
        .args(["-c", script])
        .arg(&path)
        .args([name, version])
        .arg(size.to_string());
    run_checked(&mut command);
    path
}

/// twine uploads the big wheel to `namespace`; `Err` with twine's output when it fails.
fn twine_big(front: &Front, namespace: &str, wheel: &Path) -> Result<(), String> {
    let output = front
        .python
        .twine_upload(&front.index_url(namespace), ALICE.0, ALICE.1, &[wheel])
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(crate::support::text(&output))
    }
}

/// pip installs bigpkg from `namespace` and checks the stored bytes are the uploaded ones.
fn install_big(front: &Front, namespace: &str, wheel: &Path, size: u64) {
    let dir = tempfile::tempdir().unwrap();
    let venv = front.python.new_venv(&dir.path().join("venv"));
    let index = front.index_url_as(namespace, ALICE.0, ALICE.1);
    run_checked(&mut front.python.pip_install(&venv, &index, "bigpkg==1.0"));
    assert_eq!(venv.import_attribute(BIG_MODULE, "SIZE"), size.to_string());
    let stored = front.get(
        &format!(
            "{}bigpkg/bigpkg-1.0-py3-none-any.whl",
            front.index_url(namespace)
        ),
        Some(ALICE),
    );
    assert!(
        stored.body == std::fs::read(wheel).unwrap(),
        "stored bytes differ"
    );
}

#[test]
fn behind_a_cdn_limiting_bodies_a_413_switches_to_chunks_of_at_least_the_registry_minimum() {
    const LIMIT: u64 = 1024 * KIB;
    const MINIMUM: u64 = 768 * KIB;
    let (_issuer, auth) = token_auth();
    let quirks = Quirks {
        chunk_min_bytes: Some(MINIMUM),
        ..Quirks::cdn_body_limit(LIMIT)
    };
    let front = Front::start(quirks, auth, &[("PYOCI_UPLOAD_CHUNK_BYTES", "262144")]);
    let dir = tempfile::tempdir().unwrap();
    let size = 3 * 1024 * KIB;
    let wheel = big_wheel(&front.python, dir.path(), size);

    // The upload streams in one PATCH and meets the 413. PyOCI answers 503 (a streamed body
    // cannot be sent again) and learns; twine retries 503s by itself, and the retry goes up
    // in chunks.
    twine_big(&front, "team", &wheel).unwrap_or_else(|output| panic!("{output}\n{}", front.logs()));
    assert_eq!(front.quirks.count("body_too_large"), 1, "{}", front.logs());
    let log = front.pyoci.log();
    assert!(
        log.contains("uploading to it in chunks from now on"),
        "{}",
        front.logs()
    );
    let before = front
        .quirks
        .patch_sizes()
        .iter()
        .position(|&size| size == MINIMUM)
        .unwrap_or_else(|| panic!("no chunk of the minimum size\n{}", front.logs()));
    let sizes = front.quirks.patch_sizes()[before..].to_vec();
    assert!(sizes.len() >= 4, "{sizes:?}");
    let (last, full) = sizes.split_last().unwrap();
    assert!(
        full.iter().all(|&chunk| chunk == MINIMUM),
        "256 KiB chunks must be raised to the registry's 768 KiB minimum: {sizes:?}"
    );
    assert!(*last <= MINIMUM, "{sizes:?}");
    install_big(&front, "team", &wheel, size);

    // Learned for good: the next upload goes in chunks at once.
    let other = big_wheel_named(&front.python, dir.path(), "bigpkg", "2.0", size);
    twine_big(&front, "team", &other).unwrap_or_else(|output| panic!("{output}\n{}", front.logs()));
    assert_eq!(front.quirks.count("body_too_large"), 1, "{}", front.logs());
}

#[test]
fn chunked_by_setting_renews_a_token_that_expires_between_chunks() {
    let (_issuer, auth) = token_auth();
    let quirks = Quirks {
        body_limit: Some(1024 * KIB),
        patch_delay: Some(std::time::Duration::from_millis(300)),
        ..Quirks::short_tokens(std::time::Duration::from_secs(1))
    };
    let front = {
        // The front's address is known only once it runs: list it for chunked uploads.
        let quirks_registry = QuirkRegistry::start(quirks, auth);
        let authority = format!("127.0.0.1:{}", quirks_registry.port());
        let pyoci = Pyoci::start(
            Path::new(env!("CARGO_BIN_EXE_pyoci")),
            &[
                ("PYOCI_WRITE_SETTLE_MS", "0"),
                ("PYOCI_CHUNKED_UPLOADS", &authority),
                ("PYOCI_UPLOAD_CHUNK_BYTES", "262144"),
            ],
        );
        Front {
            quirks: quirks_registry,
            pyoci,
            python: Python::locate(),
            http: HttpClient::new(),
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let size = 3 * 1024 * KIB;
    let wheel = big_wheel(&front.python, dir.path(), size);
    twine_big(&front, "team", &wheel).unwrap_or_else(|output| panic!("{output}\n{}", front.logs()));
    assert_eq!(front.quirks.count("body_too_large"), 0, "{}", front.logs());
    assert!(
        front.quirks.count("token_expired") > 0,
        "no token expired during the upload: the test proves nothing\n{}",
        front.logs()
    );
    install_big(&front, "team", &wheel, size);
}

#[test]
fn a_token_that_expires_during_a_long_upload_is_renewed_for_the_final_put() {
    let (_issuer, auth) = token_auth();
    // The PATCH must start within the token's life (a streamed body cannot be sent again),
    // and outlast it: 2 s leaves a loaded machine time for the first, 3 s ensures the second.
    let quirks = Quirks {
        patch_delay: Some(std::time::Duration::from_secs(3)),
        ..Quirks::short_tokens(std::time::Duration::from_secs(2))
    };
    let front = Front::start(quirks, auth, &[]);
    let first = dists("0.1.0", "original");
    run_checked(&mut front.python.twine_upload(
        &front.index_url("team"),
        ALICE.0,
        ALICE.1,
        &[&first.wheel],
    ));
    assert!(
        front.quirks.count("token_expired_on_upload_put") > 0,
        "the final PUT never met an expired token: the test proves nothing\n{}",
        front.logs()
    );
    let page = front.get(&front.project_url("team"), Some(ALICE));
    assert_eq!(listed(&page).len(), 1, "{}", page.text());
}

/// With `PYOCI_REDIRECT_DOWNLOADS`, a download the registry sends to storage (ghcr.io) is
/// passed on to the client as that redirect: pip and uv fetch the wheel from the storage
/// host themselves, without credentials, and PyOCI never fetches it.
#[test]
fn ghcr_downloads_go_straight_to_storage_when_redirects_are_passed_on() {
    let (_issuer, auth) = token_auth();
    let front = Front::start(
        Quirks::ghcr(),
        auth,
        &[("PYOCI_REDIRECT_DOWNLOADS", "true")],
    );
    let namespace = "public";
    let (user, password) = ALICE;
    front.twine_first(namespace, ALICE);
    let index = front.index_url_as(namespace, user, password);
    let dir = tempfile::tempdir().unwrap();
    for uv in [false, true] {
        let venv = front.install(&index, dir.path(), uv, "hello-pyoci==0.1.0");
        assert_eq!(venv.import_attribute(MODULE, "GREETING"), GREETING_1);
    }

    let wheel = format!(
        "{}hello_pyoci-0.1.0-py3-none-any.whl",
        front.project_url(namespace)
    );
    let answer = front.get(&wheel, Some(ALICE));
    assert_eq!(answer.status, 307, "{}\n{}", answer.text(), front.logs());
    let location = answer.header("location").unwrap_or_default().to_owned();
    assert!(location.contains("X-Amz-Signature="), "{location}");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    // The registry still judges the caller before any redirect is handed out.
    let refused = front.get(&wheel, Some((user, "wrong-password")));
    assert_eq!(refused.status, 401, "{}\n{}", refused.text(), front.logs());

    let quirks = &front.quirks;
    assert!(quirks.count("blob_redirects") > 0, "{}", front.logs());
    assert!(quirks.count("storage_gets") >= 2, "{}", front.logs());
    // Both clients got the redirect for the wheel; PyOCI itself only fetched the small
    // PEP 658 metadata files from storage (those are proxied, and kept in memory).
    let log = front.pyoci.log();
    for client in ["user_agent=pip/", "user_agent=uv/"] {
        assert!(
            log.lines().any(
                |line| line.contains(".whl route=\"file\" status=307") && line.contains(client)
            ),
            "no redirect handed to {client}\n{}",
            front.logs()
        );
    }
    let metadata_served = log
        .lines()
        .filter(|line| line.contains(".whl.metadata route=\"file\" status=200"))
        .count();
    // The first METADATA read comes from storage; later ones may come from memory.
    let by_pyoci = quirks.count("storage_gets_by_pyoci");
    assert!(
        (1..=metadata_served).contains(&by_pyoci),
        "PyOCI fetched from storage {by_pyoci} times for {metadata_served} METADATA files\n{}",
        front.logs()
    );
    assert_eq!(
        quirks.count("storage_saw_authorization"),
        0,
        "credentials reached the storage host\n{}",
        front.logs()
    );
}
