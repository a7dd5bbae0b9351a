use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use pyoci_core::{describe_chain, ReplayableBody};
use tokio::time::Instant;
use tower::{BoxError, Service, ServiceExt};
use tracing::debug;

use crate::policy::{is_transient_error, replayable_copy, Verdict};
use crate::{AttemptTimedOut, RetryPolicy};

/// Sends registry requests through `S`, again after transient faults when that is safe.
///
/// Created by [`RetryReadsLayer`](crate::RetryReadsLayer); see the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct RetryReads<S> {
    inner: S,
    policy: RetryPolicy,
}

/// The response future of [`RetryReads`].
pub type ResponseFuture<B> = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

impl<S> RetryReads<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: RetryPolicy) -> RetryReads<S> {
        RetryReads { inner, policy }
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer() -> crate::RetryReadsLayer {
        crate::RetryReadsLayer::new()
    }

    pyoci_core::inner_service_accessors!();
}

/// Requests whose body is not a [`ReplayableBody`] giving a copy are sent once, without an
/// attempt deadline; response bodies are passed on untouched, whatever their type.
impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RetryReads<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ReqBody: ReplayableBody + Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The readied service makes the first attempt; a fresh clone waits for readiness
        // before each retry.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy;
        Box::pin(async move {
            let started = Instant::now();
            let deadline = policy.deadline_for(&request);
            let method = request.method().clone();
            let host = request.uri().host().unwrap_or_default().to_owned();
            // The path only: query strings may carry upload state or signatures.
            let path = request.uri().path().to_owned();
            let mut spare = replayable_copy(&request);
            let mut outcome = attempt(inner.call(request), deadline).await;
            let mut retry = 0;
            while let Some(request) = spare.take() {
                retry += 1;
                let verdict = judge(&policy, &outcome);
                let jitter = fastrand::f64();
                let Some(delay) = policy.delay_before(retry, verdict, started.elapsed(), jitter)
                else {
                    break;
                };
                debug!(
                    %method, %host, %path, retry, delay_ms = delay.as_millis() as u64,
                    fault = %describe(&outcome),
                    "transient registry fault; retrying"
                );
                // Dropping the failed answer frees its connection before the wait.
                drop(outcome);
                tokio::time::sleep(delay).await;
                spare = replayable_copy(&request);
                let ready = inner.ready().await.map_err(Into::into)?;
                outcome = attempt(ready.call(request), deadline).await;
            }
            outcome
        })
    }
}

/// One attempt, failing with [`AttemptTimedOut`] when `deadline` passes before its answer.
async fn attempt<F, B, E>(call: F, deadline: Option<Duration>) -> Result<Response<B>, BoxError>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    match deadline {
        None => call.await.map_err(Into::into),
        Some(deadline) => match tokio::time::timeout(deadline, call).await {
            Ok(outcome) => outcome.map_err(Into::into),
            Err(_) => Err(AttemptTimedOut::new(deadline).into_io_error().into()),
        },
    }
}

fn judge<B>(policy: &RetryPolicy, outcome: &Result<Response<B>, BoxError>) -> Verdict {
    match outcome {
        Ok(response) => policy.judge_answer(response.status(), response.headers()),
        Err(error) if is_transient_error(error.as_ref()) => {
            Verdict::Transient { retry_after: None }
        }
        Err(_) => Verdict::Final,
    }
}

/// The status or the error, for the log line of a retry.
fn describe<B>(outcome: &Result<Response<B>, BoxError>) -> String {
    match outcome {
        Ok(response) => response.status().to_string(),
        Err(error) => describe_chain(error.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io;
    use std::sync::{Arc, Mutex};

    use http::{Method, StatusCode};
    use tower::{service_fn, Layer};

    use super::*;
    use crate::RetryReadsLayer;

    /// What the stub registry does on one attempt.
    #[derive(Clone)]
    enum Step {
        Answer(u16, Option<&'static str>),
        Fail(io::ErrorKind),
        Slow(Duration, u16),
    }

    /// One attempt the stub saw.
    struct Seen {
        method: Method,
        at: Duration,
        accept: Option<String>,
        user: Option<&'static str>,
        body: Option<Vec<u8>>,
    }

    type Log = Arc<Mutex<Vec<Seen>>>;

    /// A stub registry following `steps` (the last one repeats), behind `layer`.
    fn stub(
        layer: RetryReadsLayer,
        steps: &[Step],
    ) -> (
        impl Service<
                Request<reqwest::Body>,
                Response = Response<reqwest::Body>,
                Error = BoxError,
                Future = ResponseFuture<reqwest::Body>,
            > + Clone,
        Log,
    ) {
        let log: Log = Arc::default();
        let script = Arc::new(Mutex::new(steps.iter().cloned().collect::<VecDeque<_>>()));
        let origin = Instant::now();
        let seen = log.clone();
        let registry = service_fn(move |request: Request<reqwest::Body>| {
            let step = {
                let mut script = script.lock().unwrap();
                if script.len() > 1 {
                    script.pop_front().unwrap()
                } else {
                    script.front().cloned().unwrap()
                }
            };
            seen.lock().unwrap().push(Seen {
                method: request.method().clone(),
                at: origin.elapsed(),
                accept: request
                    .headers()
                    .get("accept")
                    .map(|value| value.to_str().unwrap().to_owned()),
                user: request.extensions().get::<&'static str>().copied(),
                body: request.body().as_bytes().map(<[u8]>::to_vec),
            });
            async move {
                let status = match step {
                    Step::Answer(status, retry_after) => {
                        let mut response = Response::new(reqwest::Body::from("answer"));
                        *response.status_mut() = StatusCode::from_u16(status).unwrap();
                        if let Some(wait) = retry_after {
                            response
                                .headers_mut()
                                .insert("retry-after", wait.parse().unwrap());
                        }
                        return Ok(response);
                    }
                    Step::Fail(kind) => return Err(BoxError::from(io::Error::from(kind))),
                    Step::Slow(wait, status) => {
                        tokio::time::sleep(wait).await;
                        status
                    }
                };
                let mut response = Response::new(reqwest::Body::from("late"));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                Ok::<_, BoxError>(response)
            }
        });
        (layer.layer(registry), log)
    }

    fn request(method: Method, body: reqwest::Body) -> Request<reqwest::Body> {
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = "http://registry.test/v2/acme/x/manifests/1.0?x=1"
            .parse()
            .unwrap();
        request
            .headers_mut()
            .insert("accept", "application/json".parse().unwrap());
        request.extensions_mut().insert("alice");
        request
    }

    fn get() -> Request<reqwest::Body> {
        request(Method::GET, reqwest::Body::from(""))
    }

    fn streamed() -> reqwest::Body {
        let chunks: Vec<Result<bytes::Bytes, io::Error>> = vec![Ok("chunk".into())];
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
    }

    fn attempts(log: &Log) -> usize {
        log.lock().unwrap().len()
    }

    fn gaps(log: &Log) -> Vec<Duration> {
        let seen = log.lock().unwrap();
        seen.windows(2)
            .map(|pair| pair[1].at - pair[0].at)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn gets_are_retried_through_transient_answers_with_growing_waits() {
        let (service, log) = stub(
            RetryReadsLayer::new(),
            &[
                Step::Answer(503, None),
                Step::Answer(502, None),
                Step::Answer(200, None),
            ],
        );
        let response = service.oneshot(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(attempts(&log), 3);
        let gaps = gaps(&log);
        let ms = Duration::from_millis;
        assert!(ms(50) <= gaps[0] && gaps[0] <= ms(101), "{gaps:?}");
        assert!(ms(200) <= gaps[1] && gaps[1] <= ms(401), "{gaps:?}");
        for seen in log.lock().unwrap().iter() {
            assert_eq!(seen.method, Method::GET);
            assert_eq!(seen.accept.as_deref(), Some("application/json"));
            assert_eq!(seen.user, Some("alice"), "extensions are replayed");
            assert_eq!(seen.body.as_deref(), Some(&b""[..]));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn heads_are_retried_on_429_and_504_too() {
        let (service, log) = stub(
            RetryReadsLayer::new(),
            &[
                Step::Answer(429, None),
                Step::Answer(504, None),
                Step::Answer(200, None),
            ],
        );
        let head = request(Method::HEAD, reqwest::Body::from(""));
        assert_eq!(service.oneshot(head).await.unwrap().status(), 200);
        assert_eq!(attempts(&log), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_are_never_sent_twice() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            for step in [
                Step::Answer(503, None),
                Step::Fail(io::ErrorKind::ConnectionReset),
            ] {
                let (service, log) = stub(RetryReadsLayer::new(), &[step, Step::Answer(200, None)]);
                let outcome = service
                    .oneshot(request(method.clone(), reqwest::Body::from("{}")))
                    .await;
                assert!(
                    outcome.map_or(true, |response| response.status() == 503),
                    "{method}"
                );
                assert_eq!(attempts(&log), 1, "{method}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_get_with_a_streamed_body_is_not_retried() {
        let (service, log) = stub(RetryReadsLayer::new(), &[Step::Answer(503, None)]);
        let response = service
            .oneshot(request(Method::GET, streamed()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(attempts(&log), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn final_answers_and_errors_are_not_retried() {
        for status in [200, 404, 401, 501] {
            let (service, log) = stub(RetryReadsLayer::new(), &[Step::Answer(status, None)]);
            let response = service.oneshot(get()).await.unwrap();
            assert_eq!(response.status(), status);
            assert_eq!(attempts(&log), 1, "{status}");
        }
        let (service, log) = stub(
            RetryReadsLayer::new(),
            &[Step::Fail(io::ErrorKind::PermissionDenied)],
        );
        assert!(service.oneshot(get()).await.is_err());
        assert_eq!(attempts(&log), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn transport_errors_are_retried_until_the_retries_run_out() {
        let (service, log) = stub(
            RetryReadsLayer::new(),
            &[Step::Fail(io::ErrorKind::ConnectionRefused)],
        );
        let started = Instant::now();
        let error = service.oneshot(get()).await.unwrap_err();
        let io_error = error.downcast_ref::<io::Error>().unwrap();
        assert_eq!(io_error.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(attempts(&log), 4, "one attempt and three retries");
        let waited = started.elapsed();
        let ms = Duration::from_millis;
        assert!(ms(1050) <= waited && waited <= ms(2101), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_retry_after_is_honoured_and_a_long_one_ends_retries() {
        let (service, log) = stub(
            RetryReadsLayer::new(),
            &[Step::Answer(429, Some("2")), Step::Answer(200, None)],
        );
        assert_eq!(service.oneshot(get()).await.unwrap().status(), 200);
        assert_eq!(gaps(&log), [Duration::from_secs(2)]);

        let (service, log) = stub(RetryReadsLayer::new(), &[Step::Answer(503, Some("120"))]);
        let response = service.oneshot(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "120");
        assert_eq!(attempts(&log), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_starts_after_the_budget() {
        let layer = RetryReadsLayer::new().budget(Duration::from_secs(1));
        let (service, log) = stub(layer, &[Step::Answer(503, None)]);
        let response = service.oneshot(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        // 100 ms and 400 ms fit in a second; the 1.6 s wait does not.
        assert_eq!(attempts(&log), 3);

        let (service, log) = stub(
            RetryReadsLayer::new().max_retries(0),
            &[Step::Answer(503, None)],
        );
        service.oneshot(get()).await.unwrap();
        assert_eq!(attempts(&log), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_get_times_out_and_is_retried() {
        let layer = RetryReadsLayer::new().attempt_timeout(Duration::from_secs(1));
        let (service, log) = stub(
            layer,
            &[
                Step::Slow(Duration::from_secs(60), 200),
                Step::Answer(200, None),
            ],
        );
        let response = service.oneshot(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(attempts(&log), 2);
        assert!(
            gaps(&log)[0] >= Duration::from_millis(1050),
            "{:?}",
            gaps(&log)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_write_times_out_once() {
        let layer = RetryReadsLayer::new().attempt_timeout(Duration::from_secs(1));
        let (service, log) = stub(layer, &[Step::Slow(Duration::from_secs(60), 201)]);
        let started = Instant::now();
        let put = request(Method::PUT, reqwest::Body::from("{}"));
        let error = service.oneshot(put).await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(attempts(&log), 1);
        let io_error = error.downcast_ref::<io::Error>().unwrap();
        assert_eq!(io_error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(io_error.to_string(), "no answer within 1 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_streamed_upload_has_no_deadline() {
        let layer = RetryReadsLayer::new().attempt_timeout(Duration::from_secs(1));
        let (service, _) = stub(layer, &[Step::Slow(Duration::from_secs(60), 202)]);
        let patch = request(Method::PATCH, streamed());
        let response = service.oneshot(patch).await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    #[tokio::test(start_paused = true)]
    async fn persistent_timeouts_end_as_the_timeout_error() {
        let layer = RetryReadsLayer::new()
            .attempt_timeout(Duration::from_secs(1))
            .budget(Duration::from_secs(3));
        let (service, log) = stub(layer, &[Step::Slow(Duration::from_secs(60), 200)]);
        let error = service.oneshot(get()).await.unwrap_err();
        let io_error = error.downcast_ref::<io::Error>().unwrap();
        assert!(io_error.get_ref().unwrap().is::<AttemptTimedOut>());
        // Attempts start at 0 s, about 1.1 s and about 2.4 s; a fourth would start past the
        // 3 s budget.
        assert_eq!(attempts(&log), 3);
    }
}
