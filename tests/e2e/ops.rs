//! What operators see: Prometheus metrics on their own port move as clients upload, list
//! and download through PyOCI against a real token-auth registry; JSON logs are one object
//! per line, with an access line per request and a start-up settings summary, and never a
//! credential.

use std::collections::BTreeMap;

use base64::Engine;
use pyoci_test_support::{run_checked, HttpClient, Pyoci, RegistryAuth, Rule, TokenIssuer};

use crate::support::{dists, listed, resolve, Stack, PROJECT};

const NAMESPACE: &str = "ops";
/// A password that cannot appear in a log by chance.
const ALICE: (&str, &str) = ("alice", "alice-pw-J5vQ2n");

/// The metrics port from the `metrics served at http://127.0.0.1:<port>/metrics` log line.
fn metrics_url(pyoci: &Pyoci) -> String {
    let log = pyoci.log();
    let marker = "metrics served at http://";
    let start = log
        .find(marker)
        .unwrap_or_else(|| panic!("no metrics address logged:\n{log}"))
        + marker.len();
    let address: String = log[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '/'))
        .collect();
    format!("http://{address}")
}

/// A scrape: each sample line `name{labels} value` by its series text.
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn take(url: &str) -> Scrape {
        let response = HttpClient::new().get(url);
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(
            response
                .header("content-type")
                .is_some_and(|value| value.starts_with("application/openmetrics-text")),
            "{:?}",
            response.header("content-type")
        );
        let text = response.text();
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap();
                (series.to_owned(), value.parse().unwrap())
            })
            .collect();
        Scrape(samples)
    }

    /// The sum of `name`'s samples whose labels include every `labels` pair.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                let (series_name, series_labels) =
                    series.split_once('{').unwrap_or((series.as_str(), ""));
                series_name == name
                    && labels
                        .iter()
                        .all(|(key, value)| series_labels.contains(&format!("{key}=\"{value}\"")))
            })
            .map(|(_, value)| value)
            .sum()
    }
}

/// The listing caches count their lookups: a first listing misses the page cache and reads
/// the registry, a second one by the same caller within the TTL is a hit.
#[test]
fn listing_cache_hits_and_misses_are_counted() {
    let issuer = TokenIssuer::builder()
        .user(ALICE.0, ALICE.1, vec![Rule::everything()])
        .start();
    let stack = Stack::start_with(
        RegistryAuth::Token(issuer),
        &[
            ("PYOCI_METRICS_PORT", "0"),
            ("PYOCI_WRITE_SETTLE_MS", "0"),
            ("PYOCI_CACHE_TTL", "60"),
        ],
    );
    let metrics = format!("{}/metrics", metrics_url(&stack.pyoci));
    stack.upload(NAMESPACE, ALICE, &dists("0.1.0", "ops-cache"));
    let page_url = stack.project_url(NAMESPACE, PROJECT);
    let page = |outcome| {
        Scrape::take(&metrics).sum(
            "pyoci_listing_cache_lookups_total",
            &[("cache", "page"), ("outcome", outcome)],
        )
    };
    let (hits, misses) = (page("hit"), page("miss"));

    assert_eq!(stack.get(&page_url, Some(ALICE)).status, 200);
    assert!(
        page("miss") > misses,
        "the first listing missed the page cache"
    );
    assert_eq!(page("hit"), hits);
    assert_eq!(stack.get(&page_url, Some(ALICE)).status, 200);
    assert!(
        page("hit") > hits,
        "the second listing was served from the page cache"
    );
}

#[test]
fn metrics_move_with_an_upload_a_listing_and_a_download() {
    let issuer = TokenIssuer::builder()
        .user(ALICE.0, ALICE.1, vec![Rule::everything()])
        .start();
    // The listing cache off: the second listing must reach the registry, with the token the
    // first one cached, for the token cache's counters to move.
    let stack = Stack::start_with(
        RegistryAuth::Token(issuer),
        &[
            ("PYOCI_METRICS_PORT", "0"),
            ("PYOCI_WRITE_SETTLE_MS", "0"),
            ("PYOCI_CACHE_TTL", "0"),
        ],
    );
    let metrics = format!("{}/metrics", metrics_url(&stack.pyoci));
    assert_ne!(
        metrics,
        format!("{}/metrics", stack.pyoci.base_url()),
        "metrics have a port of their own"
    );
    // Not on the index's port: there /metrics is no metrics page.
    let on_index_port = stack
        .http
        .get(&format!("{}/metrics", stack.pyoci.base_url()));
    assert!(!on_index_port.text().contains("pyoci_http_requests"));

    let before = Scrape::take(&metrics);
    assert_eq!(
        before.sum("pyoci_http_requests_total", &[("route", "upload")]),
        0.0
    );
    assert_eq!(before.sum("pyoci_registry_requests_total", &[]), 0.0);

    // Upload: two files, with alice's credentials (token exchange against the issuer).
    let dists = dists("0.1.0", "ops");
    stack.upload(NAMESPACE, ALICE, &dists);
    let uploaded = Scrape::take(&metrics);
    assert_eq!(
        uploaded.sum(
            "pyoci_http_requests_total",
            &[("route", "upload"), ("status", "200")]
        ),
        2.0,
        "{}",
        stack.logs()
    );
    let dist_bytes = (std::fs::metadata(&dists.sdist).unwrap().len()
        + std::fs::metadata(&dists.wheel).unwrap().len()) as f64;
    assert!(
        uploaded.sum(
            "pyoci_http_request_body_bytes_total",
            &[("route", "upload")]
        ) > dist_bytes,
        "upload bytes in"
    );
    assert_eq!(
        uploaded.sum("pyoci_http_requests_in_flight", &[("route", "upload")]),
        0.0
    );
    assert!(uploaded.sum("pyoci_registry_requests_total", &[("kind", "blob_upload")]) >= 2.0);
    assert!(
        uploaded.sum(
            "pyoci_registry_requests_total",
            &[("kind", "manifest"), ("method", "PUT"), ("outcome", "201")]
        ) >= 2.0
    );
    assert!(
        uploaded.sum(
            "pyoci_registry_requests_total",
            &[("kind", "token"), ("outcome", "200")]
        ) >= 1.0
    );
    assert!(uploaded.sum("pyoci_registry_requests_total", &[("outcome", "401")]) >= 1.0);
    assert!(uploaded.sum("pyoci_token_cache_lookups_total", &[("outcome", "miss")]) >= 1.0);
    assert_eq!(
        uploaded.sum(
            "pyoci_http_request_duration_seconds_count",
            &[("route", "upload")]
        ),
        2.0
    );

    // A listing, twice: the second one sends the token cached by the first.
    let page_url = stack.project_url(NAMESPACE, PROJECT);
    let page = stack.get(&page_url, Some(ALICE));
    assert_eq!(page.status, 200, "{}", stack.logs());
    let after_first = Scrape::take(&metrics);
    assert_eq!(stack.get(&page_url, Some(ALICE)).status, 200);
    let listed_twice = Scrape::take(&metrics);
    assert_eq!(
        listed_twice.sum(
            "pyoci_http_requests_total",
            &[("route", "project_page"), ("status", "200")]
        ),
        2.0
    );
    assert!(
        listed_twice.sum("pyoci_token_cache_lookups_total", &[("outcome", "hit")])
            > after_first.sum("pyoci_token_cache_lookups_total", &[("outcome", "hit")]),
        "the second listing used a cached token"
    );
    assert!(
        listed_twice.sum("pyoci_registry_requests_total", &[("kind", "tags")])
            > uploaded.sum("pyoci_registry_requests_total", &[("kind", "tags")])
    );

    // A download: the wheel's bytes go out, and it is timed.
    let wheel = &listed(&page)[&dists.wheel_name()];
    let download = stack.get(&resolve(&page_url, &wheel.url), Some(ALICE));
    assert_eq!(download.status, 200);
    let downloaded = Scrape::take(&metrics);
    assert_eq!(
        downloaded.sum(
            "pyoci_http_requests_total",
            &[("route", "file"), ("status", "200")]
        ),
        1.0
    );
    assert!(
        downloaded.sum("pyoci_http_response_body_bytes_total", &[("route", "file")])
            >= download.body.len() as f64
    );
    assert_eq!(
        downloaded.sum(
            "pyoci_http_request_duration_seconds_count",
            &[("route", "file")]
        ),
        1.0
    );
    assert!(
        downloaded.sum(
            "pyoci_registry_requests_total",
            &[("kind", "blob"), ("method", "GET")]
        ) >= 1.0
    );
}

#[test]
fn json_logs_parse_have_access_lines_and_no_secrets() {
    let issuer = TokenIssuer::builder()
        .user(ALICE.0, ALICE.1, vec![Rule::everything()])
        .start();
    let stack = Stack::start_with(
        RegistryAuth::Token(issuer.clone()),
        &[("PYOCI_LOG_FORMAT", "json"), ("RUST_LOG", "trace")],
    );
    let dists = dists("0.2.0", "json");
    stack.upload(NAMESPACE, ALICE, &dists);
    let (_venv_dir, venv) = stack.fresh_venv();
    run_checked(&mut stack.python.pip_install(
        &venv,
        &stack.index_url_as(NAMESPACE, ALICE.0, ALICE.1),
        &format!("{PROJECT}==0.2.0"),
    ));
    // A query string that must not reach the log.
    let with_query = format!(
        "{}?signature=query-secret-X7",
        stack.project_url(NAMESPACE, PROJECT)
    );
    assert_eq!(stack.get(&with_query, Some(ALICE)).status, 200);

    let log = stack.pyoci.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not a JSON object ({err}): {line}"))
        })
        .collect();
    assert!(lines.iter().all(serde_json::Value::is_object));
    assert!(lines.len() > 20, "trace logging is off?\n{log}");

    let config = lines
        .iter()
        .find(|line| line["target"] == "pyoci::config")
        .unwrap_or_else(|| panic!("no configuration summary:\n{log}"));
    assert_eq!(config["log_format"], "json");
    assert_eq!(config["metrics_port"], "off");
    assert_eq!(config["allow_private_registries"], true);

    let access: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["target"] == "pyoci::access")
        .collect();
    for line in &access {
        for field in [
            "method",
            "path",
            "status",
            "duration_ms",
            "bytes_in",
            "bytes_out",
            "user_agent",
            "route",
        ] {
            assert!(line.get(field).is_some(), "no {field} in {line}");
        }
        assert!(!line["path"].as_str().unwrap().contains('?'), "{line}");
    }
    let uploads: Vec<_> = access
        .iter()
        .filter(|line| line["method"] == "POST")
        .collect();
    assert_eq!(uploads.len(), 2, "{log}");
    for upload in uploads {
        assert_eq!(upload["status"], "200");
        assert!(upload["bytes_in"].as_u64().unwrap() > 0);
        assert!(
            upload["user_agent"].as_str().unwrap().contains("twine"),
            "{upload}"
        );
    }
    assert!(access.iter().any(|line| line["route"] == "file"
        && line["status"] == "200"
        && line["bytes_out"].as_u64().unwrap() > 0
        && line["user_agent"].as_str().unwrap().starts_with("pip/")));

    let mut secrets = vec![
        ALICE.1.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ALICE.0, ALICE.1)),
        "query-secret-X7".to_owned(),
    ];
    secrets.extend(issuer.grants().into_iter().map(|grant| grant.token));
    assert!(secrets.len() > 3, "tokens were issued");
    for secret in secrets {
        assert!(!log.contains(&secret), "a secret is in the log: {secret}");
    }
}

#[test]
fn healthcheck_mode_says_whether_pyoci_answers() {
    let pyoci = Pyoci::start(std::path::Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
    let check = |port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pyoci"))
            .arg("healthcheck")
            .env("PORT", port.to_string())
            .env_remove("PYOCI_TLS_CERT")
            .env("PYOCI_HOST", "0.0.0.0")
            .output()
            .unwrap()
    };
    let healthy = check(pyoci.port());
    assert!(healthy.status.success(), "{healthy:?}");

    let closed = pyoci_test_support::free_port();
    let unhealthy = check(closed);
    assert_eq!(unhealthy.status.code(), Some(1), "{unhealthy:?}");
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy"));
}
