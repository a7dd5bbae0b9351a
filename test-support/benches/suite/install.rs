//! Section 5 of the report: `uv pip install` of a dependency chain, beside pypiserver.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use pyoci_test_support::{write_dists, DistSpec, Fault, Pyoci, ALICE};

use crate::{index_base, start_pyoci, tools::PypiServer, Settings, Setup, NAMESPACE, RELAY_DELAY};

/// Writes the wheels of a `length`-package dependency chain, `{prefix}00` requiring
/// `{prefix}01` and so on, into a directory of their own, and publishes them through
/// `pyoci` to the registry `registry_segment` names. Returns the directory (for uv's
/// `--find-links`); `{prefix}00` installs the whole chain.
pub(crate) fn publish_chain(
    setup: &Setup,
    pyoci: &Pyoci,
    registry_segment: &str,
    prefix: &str,
    length: usize,
) -> PathBuf {
    let files = setup.work.path().join(prefix);
    fs::create_dir_all(&files).expect("chain dir");
    let name = |i: usize| format!("{prefix}{i:02}");
    let specs: Vec<DistSpec> = (0..length)
        .map(|i| {
            let spec = DistSpec::new(&name(i), "1.0.0");
            if i + 1 < length {
                spec.requires(&name(i + 1))
            } else {
                spec
            }
        })
        .collect();
    let dists = write_dists(&files, &specs);
    let base = index_base(pyoci, registry_segment);
    for (i, dist) in dists.iter().enumerate() {
        let form = pyoci_test_support::upload_form(dist, &name(i), "1.0.0");
        let response = setup.http.post_multipart(
            &format!("{base}/"),
            form,
            &[("Authorization", setup.auth.as_str())],
        );
        assert_eq!(response.status, 200, "{}", response.text());
    }
    files
}

/// `pyoci`'s index of the bench namespace in the registry `registry_segment` names, with
/// ALICE's credentials in the URL, as uv takes them.
pub(crate) fn uv_index(pyoci: &Pyoci, registry_segment: &str) -> String {
    let (user, password) = ALICE;
    format!(
        "http://{user}:{password}@127.0.0.1:{}/{registry_segment}/{NAMESPACE}/",
        pyoci.port()
    )
}

/// Seconds `uv pip install --no-cache` of `top` (and so of its whole chain) takes into a
/// fresh target directory, from `source` (`--index-url ...` or
/// `--no-index --find-links ...`).
pub(crate) fn uv_install(settings: &Settings, work: &Path, source: &[&str], top: &str) -> f64 {
    let target = tempfile::tempdir_in(work).expect("target dir");
    let started = Instant::now();
    let output = Command::new(&settings.uv)
        .args(["pip", "install", "--no-cache", "--target"])
        .arg(target.path())
        .args(source)
        .arg(top)
        .env("UV_NO_CONFIG", "1")
        .output()
        .expect("run uv");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "uv pip install from {source:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    seconds
}

pub(crate) fn install_chain(settings: &Settings, setup: &Setup) {
    let length = settings.chain;
    println!("## 5. `uv pip install` of a {length}-package dependency chain, cold client cache");
    println!();
    let pyoci = start_pyoci(settings, &[]);
    let files = publish_chain(
        setup,
        &pyoci,
        &setup.registry.url_segment(),
        "chain",
        length,
    );
    let pypiserver = PypiServer::start(settings, &files);
    let pyoci_index = uv_index(&pyoci, &setup.registry.url_segment());
    let pypi_index = pypiserver.url("/simple/");
    let install_from = |source: &[&str]| uv_install(settings, setup.work.path(), source, "chain00");
    let install = |index: &str| install_from(&["--index-url", index]);
    // uv's own work with no server at all: the same wheels from a local directory. No index
    // can make an install faster than this.
    let files_dir = files.display().to_string();
    let no_server = || install_from(&["--no-index", "--find-links", &files_dir]);
    // Alternate, best of three each, so all see the same noise.
    let (mut through, mut local, mut floor) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..3 {
        through = through.min(install(&pyoci_index));
        local = local.min(install(&pypi_index));
        floor = floor.min(no_server());
    }
    println!(
        "| PyOCI | pypiserver (local files) | PyOCI ÷ pypiserver (time) | no server (uv --find-links) | no server ÷ pypiserver |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {through:.2} s | {local:.2} s | {:.2} | {floor:.2} s | {:.2} |",
        through / local,
        floor / local
    );
    println!();
    println!(
        "(best of three runs each, alternating; PyOCI with its default settings; \"no server\" \
         installs the same wheels from a local directory, uv's own cost)"
    );
    println!();

    // The same install with the registry RELAY_DELAY away, where each registry round trip
    // PyOCI saves (tokens asked ahead, downloads through the caches) shows. No comparison
    // serves from that far, so the rows compare a fresh PyOCI with one already warm.
    setup.relay.set(Fault::Delay(RELAY_DELAY));
    let far = start_pyoci(settings, &[]);
    let far_index = uv_index(&far, &setup.relay.url_segment());
    setup.relay.forget_seen();
    let cold = install(&far_index);
    let cold_requests = setup.relay.seen().len();
    setup.relay.forget_seen();
    let warm = install(&far_index);
    let warm_requests = setup.relay.seen().len();
    setup.relay.clear();
    setup.relay.forget_seen();
    println!(
        "| registry {} ms away | fresh PyOCI | PyOCI warm (second install) |",
        RELAY_DELAY.as_millis()
    );
    println!("| --- | ---: | ---: |");
    println!("| `uv pip install` time | {cold:.2} s | {warm:.2} s |");
    println!("| registry requests | {cold_requests} | {warm_requests} |");
    println!();
}
