//! Label values that come from outside stay within fixed sets: a registry answering with
//! any status from 100 to 999 (or an odd method) cannot add time series without bound.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use pyoci_metrics::{MeteredBody, Metrics, RegistryMetricsLayer, RequestMetricsLayer};
use tower::{service_fn, BoxError, Layer, ServiceExt};

/// The status labels: the statuses PyOCI acts on, then the catch-alls.
const FIXED_STATUSES: [&str; 33] = [
    "200",
    "201",
    "202",
    "204",
    "206",
    "301",
    "302",
    "303",
    "304",
    "307",
    "308",
    "400",
    "401",
    "403",
    "404",
    "405",
    "406",
    "408",
    "409",
    "412",
    "413",
    "416",
    "429",
    "500",
    "501",
    "502",
    "503",
    "504",
    "other_2xx",
    "other_3xx",
    "other_4xx",
    "other_5xx",
    "invalid",
];

/// Every value of `label` in the series of `metric` (`name{...label="value"...} n`).
fn label_values(text: &str, metric: &str, label: &str) -> BTreeSet<String> {
    let needle = format!("{label}=\"");
    text.lines()
        .filter_map(|line| line.strip_prefix(metric)?.strip_prefix('{'))
        .filter_map(|labels| {
            let value = &labels[labels.find(&needle)? + needle.len()..];
            Some(value[..value.find('"')?].to_owned())
        })
        .collect()
}

fn answering_with_the_status_in_the_path<B>(
    request: Request<B>,
) -> std::future::Ready<Result<Response<Full<Bytes>>, BoxError>> {
    let status = request
        .uri()
        .path()
        .trim_start_matches("/v2/acme/pkg/blobs/");
    let result = status
        .parse::<u16>()
        .map_err(BoxError::from)
        .and_then(|status| Ok(StatusCode::from_u16(status)?))
        .map(|status| {
            let mut response = Response::new(Full::new(Bytes::from_static(b"x")));
            *response.status_mut() = status;
            response
        });
    std::future::ready(result)
}

#[tokio::test]
async fn registry_outcomes_and_methods_stay_in_their_fixed_sets() -> Result<(), BoxError> {
    let metrics = Metrics::new();
    let service = RegistryMetricsLayer::new(metrics.clone()).layer(service_fn(
        answering_with_the_status_in_the_path::<Full<Bytes>>,
    ));
    for status in 100..=999 {
        let request =
            Request::get(format!("/v2/acme/pkg/blobs/{status}")).body(Full::new(Bytes::new()))?;
        service.clone().oneshot(request).await?;
    }
    for method in ["PURGE", "X-ODD", "BREW"] {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes())?)
            .uri("/v2/acme/pkg/blobs/200")
            .body(Full::new(Bytes::new()))?;
        service.clone().oneshot(request).await?;
    }

    let text = metrics.encode();
    let outcomes = label_values(&text, "pyoci_registry_requests_total", "outcome");
    let fixed: BTreeSet<String> = FIXED_STATUSES.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        outcomes, fixed,
        "900 statuses, only the fixed labels\n{text}"
    );
    for status in ["404", "429", "503"] {
        assert!(
            text.contains(&format!(
                r#"pyoci_registry_requests_total{{kind="blob",method="GET",outcome="{status}"}} 1"#
            )),
            "{status} keeps its own label\n{text}"
        );
    }
    assert!(text.contains(
        r#"pyoci_registry_requests_total{kind="blob",method="GET",outcome="other_2xx"} 95"#
    ));
    let methods = label_values(&text, "pyoci_registry_requests_total", "method");
    assert_eq!(
        methods,
        BTreeSet::from(["GET".to_owned(), "other".to_owned()])
    );
    Ok(())
}

#[tokio::test]
async fn a_status_passed_through_from_a_registry_stays_in_the_fixed_set() -> Result<(), BoxError> {
    // A download answers with the registry's status: any 2xx it chose.
    let metrics = Metrics::new();
    let service = RequestMetricsLayer::new(metrics.clone())
        .classify(|_, _| "file")
        .layer(service_fn(
            answering_with_the_status_in_the_path::<MeteredBody<Full<Bytes>>>,
        ));
    for status in 100..=999 {
        let request =
            Request::get(format!("/v2/acme/pkg/blobs/{status}")).body(Full::new(Bytes::new()))?;
        let response = service.clone().oneshot(request).await?;
        response.into_body().collect().await?;
    }

    let text = metrics.encode();
    let statuses = label_values(&text, "pyoci_http_requests_total", "status");
    let fixed: BTreeSet<String> = FIXED_STATUSES.iter().map(|s| s.to_string()).collect();
    assert_eq!(statuses, fixed, "{text}");
    assert!(text.contains(r#"pyoci_http_requests_total{route="file",status="404"} 1"#));
    Ok(())
}
