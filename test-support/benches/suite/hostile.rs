//! Section 6 of the report: a listing beside hostile clients, beside the listing alone.

use std::{fs, time::Duration};

use pyoci_test_support::{write_dists, DistSpec, HttpClient};

use crate::{index_base, peak_rss_mib, start_pyoci, tools::wrk, Settings, Setup, CLIENTS};

/// Descriptions that took seconds to minutes to render before their bounds (issue 17).
fn hostile_descriptions() -> Vec<String> {
    vec![
        (0..8_000).map(|n| format!("<font x={n}>")).collect(),
        ">".repeat(200_000),
        "<div>".repeat(40_000),
        "<ul><li>".repeat(8_000),
        (0..100).map(|n| format!("<b x={n}>")).collect::<String>() + &"\n\np\n\n".repeat(20_000),
    ]
}

/// Other users' listing latency while strangers ask for expensive pages for people and send
/// anonymous forms of 200 fields of 1 MiB, beside the same listing with nobody hostile, and
/// PyOCI's peak memory in both.
pub(crate) fn hostile(settings: &Settings, setup: &Setup) {
    println!(
        "## 6. Hostile input: a listing, {CLIENTS} clients (wrk, {} s), alone and beside strangers",
        settings.seconds
    );
    println!();
    let files = setup.work.path().join("hostile");
    fs::create_dir_all(&files).expect("hostile dir");
    let mut specs: Vec<DistSpec> = hostile_descriptions()
        .iter()
        .enumerate()
        .map(|(n, description)| {
            DistSpec::new(&format!("hostile{n}"), "1.0").description(description)
        })
        .collect();
    specs.extend((0..20).map(|n| DistSpec::new("calm", &format!("1.{n}"))));
    let dists = write_dists(&files, &specs);
    let seeder = start_pyoci(settings, &[]);
    let base = index_base(&seeder, &setup.registry.url_segment());
    for dist in &dists {
        let name = dist
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let (project, version) = name.split_once('-').expect("a wheel name");
        let version = version.split('-').next().unwrap_or_default();
        let form = pyoci_test_support::upload_form(dist, project, version);
        let response = setup.http.post_multipart(
            &format!("{base}/"),
            form,
            &[("Authorization", setup.auth.as_str())],
        );
        assert_eq!(response.status, 200, "{}", response.text());
    }
    drop(seeder);

    println!("| run | listing req/s | p50 ms | p99 ms | hostile answers | PyOCI peak RSS MiB |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut p99 = Vec::new();
    for with_strangers in [false, true] {
        let pyoci = start_pyoci(settings, &[]);
        let base = index_base(&pyoci, &setup.registry.url_segment());
        let listing = format!("{base}/calm/");
        let first = setup
            .http
            .get_with(&listing, &[("Authorization", &setup.auth)]);
        assert_eq!(first.status, 200, "{}", first.text());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let answers = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let strangers: Vec<_> = if with_strangers {
            let pages = (0..hostile_descriptions().len())
                .map(|n| format!("{base}/+about/hostile{n}/"))
                .map(move |url| (url, None))
                .collect::<Vec<_>>();
            let forms = (0..2).map(|_| (format!("{base}/"), Some(pyoci.port())));
            pages
                .into_iter()
                .chain(forms)
                .map(|(url, form_port)| {
                    let (stop, answers) = (stop.clone(), answers.clone());
                    let auth = setup.auth.clone();
                    let upload_path = url
                        .split_once(&format!(":{}", pyoci.port()))
                        .map(|(_, path)| path.to_owned())
                        .unwrap_or_default();
                    std::thread::spawn(move || {
                        let http = HttpClient::new();
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let answered = match form_port {
                                Some(port) => anonymous_form(port, &upload_path),
                                None => http
                                    .try_request("GET", &url, &[("Authorization", &auth)], None)
                                    .is_ok(),
                            };
                            if answered {
                                answers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let result = wrk(settings, &listing, Some(&setup.auth));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for stranger in strangers {
            let _ = stranger.join();
        }
        println!(
            "| {} | {:.0} | {:.1} | {:.1} | {} | {:.0} |",
            if with_strangers {
                "beside 5 clients asking for hostile pages and 2 sending anonymous 200 MiB forms"
            } else {
                "alone"
            },
            result.requests_per_second,
            result.p50_ms,
            result.p99_ms,
            answers.load(std::sync::atomic::Ordering::Relaxed),
            peak_rss_mib(pyoci.pid())
        );
        p99.push(result.p99_ms);
    }
    println!();
    println!(
        "p99 beside strangers / alone: {:.2}× (the hostile pages are plain text within their \
         bounds and rendered once; the anonymous forms are refused at their 2 MiB total)",
        p99[1] / p99[0]
    );
    println!();
}

/// Sends an anonymous form of 200 text fields of 1 MiB to `path`; whether PyOCI answered.
fn anonymous_form(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let boundary = "stranger";
    let field = |n: usize| {
        let mut part =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"f{n}\"\r\n\r\n")
                .into_bytes();
        part.resize(part.len() + 1024 * 1024, b'x');
        part.extend_from_slice(b"\r\n");
        part
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; \
         boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        200 * (1024 * 1024 + 64)
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for n in 0..200 {
        if stream.write_all(&field(n)).is_err() {
            break;
        }
    }
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.1 ")
}
