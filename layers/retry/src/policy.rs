//! When a registry request may be sent again, and how long to wait before it is.
//!
//! Pure functions over requests, statuses and errors, so each rule can be tested (and
//! fuzzed) without a network. [`RetryPolicy`] holds the numbers the layer is built with.

use std::error::Error;
use std::io;
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderMap, Method, Request, StatusCode};
use pyoci_core::{error_chain, ReplayableBody};

use crate::AttemptTimedOut;

/// Each retry waits this many times longer than the one before (100 ms, 400 ms, 1.6 s...).
const BACKOFF_FACTOR: u32 = 4;

/// The numbers a [`RetryReads`](crate::RetryReads) service works with; set through
/// [`RetryReadsLayer`](crate::RetryReadsLayer)'s builder methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) first_backoff: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) budget: Duration,
    pub(crate) attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    /// At most 3 retries, 100 ms before the first (then 400 ms, 1.6 s, each with jitter), a
    /// `Retry-After` honoured up to 5 s, no retry starting later than 10 s after the request,
    /// and no deadline per attempt.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            first_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
            budget: Duration::from_secs(10),
            attempt_timeout: None,
        }
    }
}

/// What one attempt's outcome says about sending the request again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The outcome stands: a success, a definite answer, or a failure retrying cannot fix.
    Final,
    /// A transient fault: the same request may well succeed later.
    Transient {
        /// How long the registry asked us to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first): the first backoff times
    /// 4^(retry-1), scaled by `0.5 + jitter / 2` so that clients failing together do not
    /// retry together. `jitter` is clamped to `0.0..=1.0`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let growth = BACKOFF_FACTOR.saturating_pow(retry.saturating_sub(1));
        let nominal = self.first_backoff.saturating_mul(growth);
        nominal.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// The deadline for one attempt's response head, if `request` gets one: only requests
    /// with a buffered body (one that [could be sent again](ReplayableBody::is_replayable))
    /// do. A streamed body (a file upload) takes as long as the uploading client takes to
    /// send it, so no deadline could be right for it.
    pub fn deadline_for<B: ReplayableBody>(&self, request: &Request<B>) -> Option<Duration> {
        self.attempt_timeout
            .filter(|_| request.body().is_replayable())
    }

    /// Whether and how long to wait before retry number `retry`, given the last attempt's
    /// verdict and the time since the first attempt started: `None` when the verdict is
    /// final, the retries are used up, or waiting would start the retry after the budget.
    pub fn delay_before(
        &self,
        retry: u32,
        verdict: Verdict,
        elapsed: Duration,
        jitter: f64,
    ) -> Option<Duration> {
        let Verdict::Transient { retry_after } = verdict else {
            return None;
        };
        if retry > self.max_retries {
            return None;
        }
        let backoff = self.backoff(retry, jitter);
        let delay = retry_after.map_or(backoff, |asked| asked.max(backoff));
        (elapsed.saturating_add(delay) <= self.budget).then_some(delay)
    }

    /// The verdict on an answer: 429, 500, 502, 503 and 504 are transient, unless a
    /// `Retry-After` asks for a longer wait than the policy allows (or is not a number of
    /// seconds), in which case the answer goes back as it is. Everything else is final.
    pub fn judge_answer(&self, status: StatusCode, headers: &HeaderMap) -> Verdict {
        if !is_transient_status(status) {
            return Verdict::Final;
        }
        let Some(value) = headers.get(RETRY_AFTER) else {
            return Verdict::Transient { retry_after: None };
        };
        match parse_retry_after(value.as_bytes()) {
            Some(wait) if wait <= self.max_retry_after => Verdict::Transient {
                retry_after: Some(wait),
            },
            _ => Verdict::Final,
        }
    }
}

/// A copy of `request` to send again if the first attempt fails, or `None` when it must
/// not be sent twice: only `GET` and `HEAD` whose body gives a copy
/// ([`ReplayableBody::try_clone`]) are replayed. Headers and extensions (the user's
/// credentials) are copied; nothing else is changed.
pub fn replayable_copy<B: ReplayableBody>(request: &Request<B>) -> Option<Request<B>> {
    if !is_idempotent_read(request.method()) {
        return None;
    }
    let mut copy = Request::new(request.body().try_clone()?);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

/// `GET` and `HEAD`: reads that change nothing in the registry. `PUT` of a manifest is
/// idempotent too, but a replay after a lost answer would be a second write racing others.
pub fn is_idempotent_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// 429 Too Many Requests, 502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout:
/// what registries and their load balancers answer while overloaded or restarting. Also 500:
/// the distribution registry answers a read with 500 ("invalid checksum digest format")
/// while another client rewrites the tag it reads, and a read retried is harmless.
pub fn is_transient_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// Whether a transport error (no answer at all) is worth a retry: the connection was
/// refused, reset or closed before the answer, or an attempt timed out. Errors that would
/// repeat the same way (an invalid URL, a refused address, a TLS or DNS failure) are not.
/// The whole source chain is searched, as reqwest and hyper wrap the cause.
pub fn is_transient_error(error: &(dyn Error + 'static)) -> bool {
    error_chain(error).any(|error| {
        error.is::<AttemptTimedOut>()
            || error
                .downcast_ref::<io::Error>()
                .is_some_and(|io_error| is_transient_io(io_error.kind()))
            || error
                .downcast_ref::<hyper::Error>()
                .is_some_and(|hyper_error| {
                    hyper_error.is_incomplete_message() || hyper_error.is_timeout()
                })
            || is_reqwest_timeout(error)
    })
}

#[cfg(feature = "reqwest")]
fn is_reqwest_timeout(error: &(dyn Error + 'static)) -> bool {
    error
        .downcast_ref::<reqwest::Error>()
        .is_some_and(reqwest::Error::is_timeout)
}

#[cfg(not(feature = "reqwest"))]
fn is_reqwest_timeout(_error: &(dyn Error + 'static)) -> bool {
    false
}

fn is_transient_io(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::TimedOut
    )
}

/// A `Retry-After` value in delta-seconds (`"120"`), surrounding blanks allowed. An
/// HTTP-date or anything else is `None`; a number too big for a `u64` is the longest wait.
pub fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let seconds = digits.iter().try_fold(0u64, |seconds, digit| {
        seconds
            .checked_mul(10)
            .and_then(|seconds| seconds.checked_add(u64::from(digit - b'0')))
    });
    Some(Duration::from_secs(seconds.unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use http::HeaderValue;

    use super::*;

    fn request(method: Method, body: reqwest::Body) -> Request<reqwest::Body> {
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = "http://registry.test/v2/acme/x/tags/list".parse().unwrap();
        request
    }

    fn streamed() -> reqwest::Body {
        let chunks: Vec<Result<bytes::Bytes, io::Error>> = vec![Ok("a".into())];
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
    }

    #[test]
    fn only_buffered_gets_and_heads_are_replayed() {
        for method in [Method::GET, Method::HEAD] {
            let mut original = request(method.clone(), reqwest::Body::from("x"));
            original
                .headers_mut()
                .insert("accept", HeaderValue::from_static("a/b"));
            original.extensions_mut().insert(7u32);
            let copy = replayable_copy(&original).unwrap();
            assert_eq!(copy.method(), method);
            assert_eq!(copy.uri(), original.uri());
            assert_eq!(copy.headers(), original.headers());
            assert_eq!(copy.extensions().get::<u32>(), Some(&7));
            assert_eq!(copy.body().as_bytes(), Some(&b"x"[..]));
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let original = request(method.clone(), reqwest::Body::from(""));
            assert!(replayable_copy(&original).is_none(), "{method}");
        }
        assert!(replayable_copy(&request(Method::GET, streamed())).is_none());
    }

    #[test]
    fn transient_statuses() {
        for code in [429, 500, 502, 503, 504] {
            assert!(
                is_transient_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [200, 201, 307, 400, 401, 403, 404, 409, 501, 505] {
            assert!(
                !is_transient_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn retry_after_is_delta_seconds() {
        assert_eq!(parse_retry_after(b"0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(b" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(b"99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in [
            &b""[..],
            b" ",
            b"-1",
            b"1.5",
            b"+3",
            b"Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn answers_are_judged_with_their_retry_after() {
        let policy = RetryPolicy::default();
        let mut headers = HeaderMap::new();
        assert_eq!(
            policy.judge_answer(StatusCode::SERVICE_UNAVAILABLE, &headers),
            Verdict::Transient { retry_after: None }
        );
        assert_eq!(
            policy.judge_answer(StatusCode::INTERNAL_SERVER_ERROR, &headers),
            Verdict::Transient { retry_after: None }
        );
        assert_eq!(
            policy.judge_answer(StatusCode::NOT_IMPLEMENTED, &headers),
            Verdict::Final
        );
        assert_eq!(
            policy.judge_answer(StatusCode::OK, &headers),
            Verdict::Final
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(
            policy.judge_answer(StatusCode::TOO_MANY_REQUESTS, &headers),
            Verdict::Transient {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        for too_long in ["6", "3600", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(too_long));
            assert_eq!(
                policy.judge_answer(StatusCode::SERVICE_UNAVAILABLE, &headers),
                Verdict::Final,
                "{too_long}"
            );
        }
    }

    #[test]
    fn backoff_grows_fourfold_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy::default();
        let ms = Duration::from_millis;
        assert_eq!(policy.backoff(1, 1.0), ms(100));
        assert_eq!(policy.backoff(2, 1.0), ms(400));
        assert_eq!(policy.backoff(3, 1.0), ms(1600));
        assert_eq!(policy.backoff(1, 0.0), ms(50));
        assert_eq!(policy.backoff(3, 0.5), ms(1200));
        assert_eq!(policy.backoff(1, 7.0), ms(100), "jitter is clamped");
        assert!(policy.backoff(u32::MAX, 1.0) >= Duration::from_secs(3600));
    }

    #[test]
    fn delays_respect_retries_budget_and_retry_after() {
        let policy = RetryPolicy::default();
        let transient = Verdict::Transient { retry_after: None };
        let ms = Duration::from_millis;
        assert_eq!(policy.delay_before(1, transient, ms(0), 1.0), Some(ms(100)));
        assert_eq!(
            policy.delay_before(3, transient, ms(0), 1.0),
            Some(ms(1600))
        );
        assert_eq!(policy.delay_before(4, transient, ms(0), 1.0), None);
        assert_eq!(policy.delay_before(1, Verdict::Final, ms(0), 1.0), None);
        assert_eq!(
            policy.delay_before(3, transient, ms(8400), 1.0),
            Some(ms(1600))
        );
        assert_eq!(policy.delay_before(3, transient, ms(8401), 1.0), None);
        let asked = Verdict::Transient {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(policy.delay_before(1, asked, ms(0), 1.0), Some(ms(2000)));
        let asked_less = Verdict::Transient {
            retry_after: Some(Duration::ZERO),
        };
        assert_eq!(
            policy.delay_before(2, asked_less, ms(0), 1.0),
            Some(ms(400))
        );
    }

    #[test]
    fn deadlines_apply_to_buffered_bodies_only() {
        let policy = RetryPolicy {
            attempt_timeout: Some(Duration::from_secs(3)),
            ..RetryPolicy::default()
        };
        let put = request(Method::PUT, reqwest::Body::from("{}"));
        assert_eq!(policy.deadline_for(&put), Some(Duration::from_secs(3)));
        let patch = request(Method::PATCH, streamed());
        assert_eq!(policy.deadline_for(&patch), None);
        let get = request(Method::GET, reqwest::Body::from(""));
        assert_eq!(RetryPolicy::default().deadline_for(&get), None);
    }

    #[derive(Debug)]
    struct Wrapped(Box<dyn Error + Send + Sync>);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("error sending request")
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    #[test]
    fn transient_errors_are_found_anywhere_in_the_chain() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::TimedOut,
        ] {
            let error = Wrapped(Box::new(io::Error::from(kind)));
            assert!(is_transient_error(&error), "{kind:?}");
        }
        let timed_out = Wrapped(Box::new(AttemptTimedOut::new(Duration::from_secs(1))));
        assert!(is_transient_error(&timed_out));
        for kind in [io::ErrorKind::PermissionDenied, io::ErrorKind::Other] {
            let error = Wrapped(Box::new(io::Error::from(kind)));
            assert!(!is_transient_error(&error), "{kind:?}");
        }
        let refused_by_policy = Wrapped("address 169.254.169.254 is not allowed".into());
        assert!(!is_transient_error(&refused_by_policy));
    }

    /// What reqwest really returns for each fault, on loopback.
    #[cfg(feature = "reqwest")]
    #[tokio::test]
    async fn real_reqwest_faults_are_classified() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let fetch = |port: u16| client.get(format!("http://127.0.0.1:{port}/v2/")).send();

        // Refused: nobody listens on a port that was just released.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = fetch(port).await.unwrap_err();
        assert!(is_transient_error(&refused), "{refused:?}");

        // Closed after reading the request, without an answer.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for cut_short in [false, true] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await;
                if cut_short {
                    // A status line and no more.
                    let _ = socket.write_all(b"HTTP/1.1 200 OK\r\n").await;
                }
            }
            // Then a connection kept open without an answer, for the timeout.
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        for _ in 0..2 {
            let closed = fetch(port).await.unwrap_err();
            assert!(is_transient_error(&closed), "{closed:?}");
        }
        let timed_out = fetch(port).await.unwrap_err();
        assert!(timed_out.is_timeout(), "{timed_out:?}");
        assert!(is_transient_error(&timed_out), "{timed_out:?}");
        server.abort();

        // A URL reqwest cannot send to is not transient.
        let invalid = client.get("http://[::1]:99999/").send().await.unwrap_err();
        assert!(!is_transient_error(&invalid), "{invalid:?}");
    }

    /// What hyper-util's client returns for the same faults, with no reqwest around them.
    #[tokio::test]
    async fn real_hyper_client_faults_are_classified() {
        use bytes::Bytes;
        use http_body_util::Full;
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let fetch = |port: u16| {
            let request = Request::get(format!("http://127.0.0.1:{port}/v2/"))
                .body(Full::default())
                .unwrap();
            client.request(request)
        };

        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = fetch(port).await.unwrap_err();
        assert!(is_transient_error(&refused), "{refused:?}");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for cut_short in [false, true] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await;
                if cut_short {
                    let _ = socket.write_all(b"HTTP/1.1 200 OK\r\n").await;
                }
            }
        });
        for _ in 0..2 {
            let closed = fetch(port).await.unwrap_err();
            assert!(is_transient_error(&closed), "{closed:?}");
        }
        server.abort();
    }
}
