//! The incoming layer's bookkeeping: in flight while the response body is still being sent,
//! counted once when it ends, `aborted` when the client left before any answer.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use pyoci_metrics::{MeteredBody, Metrics, RequestMetricsLayer};
use tower::{service_fn, BoxError, Layer, Service, ServiceExt};

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

fn layer(metrics: &Metrics) -> RequestMetricsLayer {
    RequestMetricsLayer::new(metrics.clone()).classify(|_, path| {
        if path.starts_with("/upload") {
            "upload"
        } else {
            "other"
        }
    })
}

#[tokio::test]
async fn in_flight_until_the_response_body_ends_then_counted_once() -> Result<(), BoxError> {
    let metrics = Metrics::new();
    let (sender, receiver) =
        tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, BoxError>>(1);
    let receiver = std::sync::Mutex::new(Some(receiver));
    let service = layer(&metrics).layer(service_fn(move |request: Request<_>| {
        let receiver = receiver.lock().unwrap().take().unwrap();
        async move {
            // Read the whole request body, as an upload handler does.
            let read = BodyExt::collect(request.into_body()).await?.to_bytes();
            assert_eq!(&read[..], b"12345");
            let stream = futures_stream(receiver);
            Ok::<_, BoxError>(Response::new(StreamBody::new(stream)))
        }
    }));
    let response = service
        .oneshot(Request::post("/upload/").body(Full::new(Bytes::from_static(b"12345")))?)
        .await?;
    let text = metrics.encode();
    assert_eq!(
        sample(&text, r#"pyoci_http_requests_in_flight{route="upload"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pyoci_http_request_body_bytes_total{route="upload"}"#
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pyoci_http_requests_total{route="upload",status="200"}"#
        ),
        None
    );

    sender
        .send(Ok(http_body::Frame::data(Bytes::from_static(b"abc"))))
        .await?;
    drop(sender);
    let body = response.into_body().collect().await?.to_bytes();
    assert_eq!(&body[..], b"abc");

    let text = metrics.encode();
    assert_eq!(
        sample(&text, r#"pyoci_http_requests_in_flight{route="upload"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pyoci_http_requests_total{route="upload",status="200"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pyoci_http_response_body_bytes_total{route="upload"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pyoci_http_request_duration_seconds_count{route="upload"}"#
        ),
        Some(1.0)
    );
    Ok(())
}

#[tokio::test]
async fn a_request_dropped_before_its_answer_is_aborted() {
    let metrics = Metrics::new();
    let mut service = layer(&metrics).layer(service_fn(
        |_request: Request<MeteredBody<Full<Bytes>>>| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, BoxError>(Response::new(Full::new(Bytes::new())))
        },
    ));
    let future = service
        .ready()
        .await
        .unwrap()
        .call(Request::get("/x").body(Full::new(Bytes::new())).unwrap());
    assert_eq!(
        sample(
            &metrics.encode(),
            r#"pyoci_http_requests_in_flight{route="other"}"#
        ),
        Some(1.0)
    );
    drop(future);
    let text = metrics.encode();
    assert_eq!(
        sample(&text, r#"pyoci_http_requests_in_flight{route="other"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pyoci_http_requests_total{route="other",status="aborted"}"#
        ),
        Some(1.0)
    );
}

fn futures_stream<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
