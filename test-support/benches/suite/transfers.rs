//! Sections 3 and 4 of the report: a download and an upload, beside direct registry transfers.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use crate::{cpu_seconds, index_base, peak_rss_mib, start_pyoci, Settings, Setup, NAMESPACE};

/// A registry token for `repo` (pull and push), as a direct client would hold.
fn registry_token(setup: &Setup, repo: &str) -> String {
    let url = format!(
        "{}?service={}&scope=repository:{repo}:pull,push",
        setup.issuer.realm(),
        setup.issuer.service()
    );
    let response = setup.http.get_with(&url, &[("Authorization", &setup.auth)]);
    assert_eq!(response.status, 200, "token: {}", response.text());
    let json = response.json();
    json["token"]
        .as_str()
        .or_else(|| json["access_token"].as_str())
        .expect("a token")
        .to_owned()
}

/// Runs curl, returns its wall time in seconds.
fn curl(args: &[&str]) -> f64 {
    let started = Instant::now();
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-o", "/dev/null"])
        .args(args)
        .output()
        .expect("run curl");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    seconds
}

fn curl_text(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn hash_file(program: &str, args: &[&str], file: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .expect("hash the file");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A valid wheel of about `bytes` bytes (a random payload, stored uncompressed).
fn big_wheel(dir: &Path, name: &str, version: &str, bytes: u64) -> PathBuf {
    let payload = dir.join("payload.bin");
    let status = Command::new("head")
        .args(["-c", &bytes.to_string(), "/dev/urandom"])
        .stdout(fs::File::create(&payload).expect("payload file"))
        .status()
        .expect("head");
    assert!(status.success());
    let wheel = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let script = r#"
import sys, zipfile
wheel, payload, name, version = sys.argv[1:]
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
    archive.write(payload, name + "/payload.bin")
    info = name + "-" + version + ".dist-info/"
    archive.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n")
    archive.writestr(info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    archive.writestr(info + "RECORD", "")
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&wheel)
        .arg(&payload)
        .args([name, version])
        .status()
        .expect("python3");
    assert!(status.success());
    fs::remove_file(&payload).expect("remove payload");
    wheel
}

pub(crate) fn transfers(settings: &Settings, setup: &Setup) {
    let bytes = (settings.gib * 1024.0 * 1024.0 * 1024.0) as u64;
    let gib = bytes as f64 / (1u64 << 30) as f64;
    println!("## 3 and 4. Transfers of {gib:.2} GiB, registry on loopback");
    println!();
    println!("| transfer | PyOCI | direct to the registry | PyOCI ÷ direct (throughput) | PyOCI CPU s per GiB | PyOCI peak RSS |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let registry = setup.registry.url();
    let dir = setup.work.path().join("transfers");
    fs::create_dir_all(&dir).expect("transfers dir");
    let name = "bigpkg";
    let mut uploaded = None;
    for (version, declared) in [("1.0.0", "sha256"), ("2.0.0", "sha256, md5, blake2_256")] {
        let wheel = big_wheel(&dir, name, version, bytes);
        let size = fs::metadata(&wheel).expect("wheel size").len();
        let sha256 = hash_file("sha256sum", &[], &wheel);
        let wheel_arg = format!("content=@{}", wheel.display());
        let filename = wheel.file_name().unwrap().to_string_lossy().into_owned();

        // Direct: a monolithic blob push (one POST, one PUT of the whole file).
        let repo = format!("{NAMESPACE}/direct");
        let token = format!("Authorization: Bearer {}", registry_token(setup, &repo));
        let location = curl_text(&[
            "-X",
            "POST",
            "-H",
            &token,
            "-D",
            "-",
            "-o",
            "/dev/null",
            &format!("{registry}/v2/{repo}/blobs/uploads/"),
        ])
        .lines()
        .find_map(|line| {
            line.strip_prefix("Location: ")
                .or_else(|| line.strip_prefix("location: "))
                .map(|l| l.trim().to_owned())
        })
        .expect("an upload location");
        let location = if location.starts_with('/') {
            format!("{registry}{location}")
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let direct_upload = curl(&[
            "-X",
            "PUT",
            "-H",
            &token,
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            &wheel.display().to_string(),
            &format!("{location}{separator}digest=sha256:{sha256}"),
        ]);

        // Through PyOCI, a fresh process each time so its peak RSS is the upload's.
        let pyoci = start_pyoci(settings, &[]);
        let url = format!("{}/", index_base(&pyoci, &setup.registry.url_segment()));
        let mut form = vec![
            "-H".to_owned(),
            format!("Authorization: {}", setup.auth),
            "-F".into(),
            ":action=file_upload".into(),
            "-F".into(),
            "protocol_version=1".into(),
            "-F".into(),
            format!("name={name}"),
            "-F".into(),
            format!("version={version}"),
            "-F".into(),
            "filetype=bdist_wheel".into(),
            "-F".into(),
            "pyversion=py3".into(),
            "-F".into(),
            format!("sha256_digest={sha256}"),
        ];
        if declared.contains("md5") {
            let md5 = hash_file("md5sum", &[], &wheel);
            let blake2 = hash_file("b2sum", &["-l", "256"], &wheel);
            form.extend([
                "-F".into(),
                format!("md5_digest={md5}"),
                "-F".into(),
                format!("blake2_256_digest={blake2}"),
            ]);
        }
        form.extend(["-F".into(), wheel_arg, url.clone()]);
        let form: Vec<&str> = form.iter().map(String::as_str).collect();
        let cpu_before = cpu_seconds(pyoci.pid());
        let pyoci_upload = curl(&form);
        let cpu = cpu_seconds(pyoci.pid()) - cpu_before;
        let rss = peak_rss_mib(pyoci.pid());
        fs::remove_file(&wheel).expect("remove the wheel");
        if settings.runs("upload") {
            println!(
                "| upload, {declared} declared | {:.0} MiB/s | {:.0} MiB/s | {:.2} | {:.2} | {rss:.1} MiB |",
                mib_per_s(size, pyoci_upload),
                mib_per_s(size, direct_upload),
                direct_upload / pyoci_upload,
                cpu / gib,
            );
        }
        uploaded.get_or_insert((version, sha256, size, filename, url));
        drop(pyoci);
    }

    if settings.runs("download") {
        let (_, sha256, size, filename, _) = uploaded.expect("an uploaded file");
        let repo = format!("{NAMESPACE}/{name}");
        let token = format!("Authorization: Bearer {}", registry_token(setup, &repo));
        let blob = format!("{registry}/v2/{repo}/blobs/sha256:{sha256}");
        let direct = curl(&["-H", &token, &blob]);
        let pyoci = start_pyoci(settings, &[]);
        let url = format!(
            "{}/{name}/{filename}",
            index_base(&pyoci, &setup.registry.url_segment())
        );
        let auth = format!("Authorization: {}", setup.auth);
        let cpu_before = cpu_seconds(pyoci.pid());
        let through = curl(&["-H", &auth, &url]);
        let cpu = cpu_seconds(pyoci.pid()) - cpu_before;
        println!(
            "| download | {:.0} MiB/s | {:.0} MiB/s | {:.2} | {:.2} | {:.1} MiB |",
            mib_per_s(size, through),
            mib_per_s(size, direct),
            direct / through,
            cpu / gib,
            peak_rss_mib(pyoci.pid())
        );
    }
    println!();
}

fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1048576.0 / seconds
}
