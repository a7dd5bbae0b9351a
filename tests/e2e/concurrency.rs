//! Concurrent writers of one version's index lose nothing: parallel uploads through two PyOCI
//! processes sharing one registry (the CI-matrix case), and a delete racing an upload.
//!
//! The races are real: the first test asserts that replicas had to re-apply uploads another
//! replica's write undid, and a negative control runs the same uploads with the re-check
//! turned off and asserts that files were lost, so these tests can fail.

use std::{path::Path, sync::Arc, thread};

use pyoci_test_support::{HttpClient, Multipart, Pyoci, Registry, RegistryAuth};

const NAMESPACE: &str = "race";
const PROJECT: &str = "racepkg";
const UPLOADS: usize = 16;
const TRIALS: usize = 20;

fn wheel_name(version: &str, file: usize) -> String {
    format!("{PROJECT}-{version}-py3-none-plat{file}.whl")
}

fn wheel_form(version: &str, file: usize) -> Multipart {
    let filename = wheel_name(version, file);
    let payload = format!("wheel {file} of {version}: distinct bytes").repeat(64);
    let content = pyoci_test_support::wheel_bytes(PROJECT, version, payload.as_bytes());
    pyoci_test_support::content_form(PROJECT, version, &filename, &content)
}

struct TwoReplicas {
    registry: Registry,
    replicas: [Pyoci; 2],
}

impl TwoReplicas {
    fn start() -> TwoReplicas {
        TwoReplicas::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> TwoReplicas {
        let binary = Path::new(env!("CARGO_BIN_EXE_pyoci"));
        TwoReplicas {
            registry: Registry::start(RegistryAuth::None),
            replicas: [Pyoci::start(binary, env), Pyoci::start(binary, env)],
        }
    }

    /// Uploads the files of `version` at once, alternating between the replicas, and
    /// returns the names of those the project page does not list afterwards.
    fn upload_all(self: &Arc<Self>, version: &str) -> Vec<String> {
        let uploads: Vec<_> = (0..UPLOADS)
            .map(|file| {
                let stack = self.clone();
                let version = version.to_owned();
                thread::spawn(move || {
                    let response = HttpClient::new().post_multipart(
                        &stack.upload_url(file),
                        wheel_form(&version, file),
                        &[],
                    );
                    (file, response.status, response.text())
                })
            })
            .collect();
        for upload in uploads {
            let (file, status, body) = upload.join().expect("upload thread panicked");
            assert_eq!(
                status,
                200,
                "version {version}, file {file}: {body}\nregistry errors:\n{}",
                self.registry_errors()
            );
        }
        let listed = self.listed(&HttpClient::new());
        (0..UPLOADS)
            .map(|file| wheel_name(version, file))
            .filter(|name| !listed.contains(name))
            .collect()
    }

    /// How many uploads the replicas re-applied after another replica's write undid them.
    fn reapplied(&self) -> usize {
        self.replicas
            .iter()
            .map(|replica| replica.log().matches("undid this change").count())
            .sum()
    }

    fn upload_url(&self, replica: usize) -> String {
        self.replicas[replica % 2].index_url(&self.registry, NAMESPACE)
    }

    fn project_url(&self) -> String {
        format!("{}{PROJECT}/", self.upload_url(0))
    }

    /// The registry's error log lines, for failure messages.
    fn registry_errors(&self) -> String {
        self.registry
            .log()
            .lines()
            .filter(|line| line.contains("level=error") && !line.contains(" unknown\""))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn listed(&self, http: &HttpClient) -> Vec<String> {
        let page = http.get(&self.project_url());
        if page.status == 404 {
            return Vec::new();
        }
        assert_eq!(page.status, 200, "{}", page.text());
        crate::support::links(&page.text())
            .into_iter()
            .map(|link| link.filename)
            .collect()
    }
}

#[test]
fn parallel_uploads_through_two_replicas_are_all_listed() {
    let stack = Arc::new(TwoReplicas::start());
    for trial in 0..TRIALS {
        let missing = stack.upload_all(&format!("1.0.{trial}"));
        assert!(
            missing.is_empty(),
            "trial {trial}: {} of {UPLOADS} files listed, missing {missing:?}",
            UPLOADS - missing.len()
        );
    }
    let reapplied = stack.reapplied();
    eprintln!("uploads re-applied after another replica's write undid them: {reapplied}");
    // Without a single re-application the replicas never raced, and the test proved nothing.
    assert!(
        reapplied > 0,
        "in {TRIALS} trials no replica's write ever undid another's: the race did not happen"
    );
}

#[test]
fn without_the_recheck_parallel_uploads_through_two_replicas_lose_files() {
    // Negative control: PYOCI_WRITE_SETTLE_MS=0 turns the cross-replica re-check off (the
    // in-process turns stay). The same uploads as above must then lose files, which shows
    // the test above can fail.
    let stack = Arc::new(TwoReplicas::start_with(&[("PYOCI_WRITE_SETTLE_MS", "0")]));
    let mut lost_per_trial = Vec::new();
    for trial in 0..TRIALS {
        let missing = stack.upload_all(&format!("3.0.{trial}"));
        lost_per_trial.push(missing.len());
        if !missing.is_empty() {
            break;
        }
    }
    eprintln!("files lost per trial without the re-check: {lost_per_trial:?}");
    assert!(
        lost_per_trial.iter().any(|&lost| lost > 0),
        "no file was lost in {TRIALS} trials without the re-check: the test cannot tell"
    );
    assert_eq!(stack.reapplied(), 0, "the re-check was off");
}

#[test]
fn a_delete_racing_an_upload_of_another_file_keeps_the_upload() {
    let stack = Arc::new(TwoReplicas::start());
    let http = HttpClient::new();
    for trial in 0..10 {
        let version = format!("2.0.{trial}");
        let first = wheel_name(&version, 0);
        let response = http.post_multipart(&stack.upload_url(0), wheel_form(&version, 0), &[]);
        assert_eq!(response.status, 200, "{}", response.text());

        let delete = {
            let stack = stack.clone();
            let url = format!("{}{first}", stack.project_url());
            thread::spawn(move || HttpClient::new().delete(&url, &[]))
        };
        let upload = {
            let stack = stack.clone();
            let version = version.clone();
            thread::spawn(move || {
                HttpClient::new().post_multipart(&stack.upload_url(1), wheel_form(&version, 1), &[])
            })
        };
        let deleted = delete.join().expect("delete thread panicked");
        let uploaded = upload.join().expect("upload thread panicked");
        assert_eq!(deleted.status, 200, "trial {trial}: {}", deleted.text());
        assert_eq!(uploaded.status, 200, "trial {trial}: {}", uploaded.text());

        let listed = stack.listed(&http);
        assert!(
            listed.contains(&wheel_name(&version, 1)),
            "trial {trial}: the upload vanished: {listed:?}"
        );
        assert!(
            !listed.contains(&first),
            "trial {trial}: the deleted file came back: {listed:?}"
        );
    }
}
