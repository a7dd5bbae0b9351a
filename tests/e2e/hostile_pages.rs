//! Descriptions built to be expensive, stored by anyone who may push, against the real binary
//! and the real registry: their pages for people come back at once as plain text, other
//! users are served meanwhile, and SIGTERM still stops PyOCI promptly (issue 17).
//!
//! Before the render bounds, these descriptions took 53 s (8,000 distinct `<font>` tags),
//! minutes (200,000 nested block quotes) and 4.7 s (40,000 `<div>`s) of a worker each, went
//! on after the client left, and two of them made `/health` take 18 s.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use pyoci_test_support::{write_dists, DistSpec, HttpClient, RegistryAuth};

use crate::support::Stack;

const NAMESPACE: &str = "hostile";
/// What another user's request may take while the hostile pages are asked for: generous
/// for a debug build on a loaded machine, and far below what one hostile render took.
const SERVED_WITHIN: Duration = Duration::from_secs(3);

fn hostile_descriptions() -> Vec<(&'static str, String)> {
    vec![
        (
            "fonts",
            (0..8_000).map(|n| format!("<font x={n}>")).collect(),
        ),
        ("quotes", ">".repeat(200_000)),
        ("divs", "<div>".repeat(40_000)),
    ]
}

#[test]
fn expensive_descriptions_neither_stall_other_users_nor_the_stop() {
    let mut stack = Stack::start(RegistryAuth::None);
    let dir = tempfile::tempdir().unwrap();
    let mut specs: Vec<DistSpec> = hostile_descriptions()
        .iter()
        .map(|(name, description)| {
            DistSpec::new(&format!("hostile-{name}"), "1.0").description(description)
        })
        .collect();
    specs.push(DistSpec::new("calm", "1.0").description("# Calm\n\nA *quiet* package."));
    let files = write_dists(dir.path(), &specs);
    stack.upload_files(NAMESPACE, &files);

    let about_urls: Vec<String> = hostile_descriptions()
        .iter()
        .map(|(name, _)| format!("{}+about/hostile-{name}/", stack.index_url(NAMESPACE)))
        .collect();
    let calm_page = stack.project_url(NAMESPACE, "calm");
    let health = format!("{}/health", stack.pyoci.base_url());

    // Each hostile page, asked for the first time: plain text at once, saying why.
    for url in &about_urls {
        let started = Instant::now();
        let page = stack.get(url, None);
        assert_eq!(page.status, 200, "{url}: {}", page.text());
        assert!(
            page.text().contains("Shown as plain text: "),
            "{url} was rendered as Markdown"
        );
        assert!(
            started.elapsed() < SERVED_WITHIN,
            "{url} took {:?}",
            started.elapsed()
        );
    }
    let calm = stack.get(&format!("{}+about/calm/", stack.index_url(NAMESPACE)), None);
    assert!(calm.text().contains("<em>quiet</em>"), "{}", calm.text());

    // Six clients keep asking for the hostile pages while another user works.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let hammers: Vec<_> = (0..6)
        .map(|n| {
            let url = about_urls[n % about_urls.len()].clone();
            let (stop, answered) = (stop.clone(), answered.clone());
            thread::spawn(move || {
                let http = HttpClient::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(page) = http.try_get(&url) {
                        if page.status == 200 {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    // At least 20 rounds, and on until the hostile pages were really being asked for (a
    // loaded machine may start the six clients late), so the latency below means something.
    let measuring = Instant::now();
    let mut rounds = 0;
    while rounds < 20
        || (answered.load(Ordering::Relaxed) < 6 && measuring.elapsed() < Duration::from_secs(60))
    {
        rounds += 1;
        for url in [&health, &calm_page] {
            let started = Instant::now();
            let response = stack.get(url, None);
            assert_eq!(response.status, 200, "{url}: {}", response.text());
            slowest = slowest.max(started.elapsed());
        }
    }
    let answered_meanwhile = answered.load(Ordering::Relaxed);
    assert!(
        answered_meanwhile >= 6,
        "the hostile pages were hardly asked for ({answered_meanwhile} answers), \
         so the other user's latency proves nothing"
    );
    assert!(
        slowest < SERVED_WITHIN,
        "another user waited {slowest:?} while hostile pages were asked for"
    );

    // A stop while the hostile pages are still being asked for ends PyOCI promptly.
    stack.pyoci.terminate();
    let exited = stack.pyoci.wait_for_exit(Duration::from_secs(15));
    stop.store(true, Ordering::Relaxed);
    for hammer in hammers {
        let _ = hammer.join();
    }
    assert!(
        exited.is_some(),
        "PyOCI was still running 15 s after SIGTERM\n{}",
        stack.pyoci.log()
    );
}
