use std::time::Duration;

use tower::Layer;

use crate::{RetryPolicy, RetryReads};

/// Applies [`RetryReads`]: sends `GET` and `HEAD` requests again after transient registry faults,
/// and optionally bounds how long any attempt waits for its answer.
///
/// See the [crate docs](crate) for what counts as transient and an example.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryReadsLayer {
    policy: RetryPolicy,
}

impl RetryReadsLayer {
    /// At most 3 retries after 100 ms, 400 ms and 1.6 s (with jitter), a `Retry-After` of up
    /// to 5 s honoured, no retry later than 10 s after the first attempt, no attempt deadline.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times a request may be sent again after its first attempt (0 disables
    /// retries but keeps the [attempt deadline](Self::attempt_timeout)).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.policy.max_retries = retries;
        self
    }

    /// The wait before the first retry; each later one waits four times longer. The actual
    /// wait is between half of it and all of it, at random.
    pub fn first_backoff(mut self, wait: Duration) -> Self {
        self.policy.first_backoff = wait;
        self
    }

    /// The longest `Retry-After` honoured: a registry asking for a longer wait gets its 429
    /// or 503 passed back at once rather than a client kept waiting.
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.policy.max_retry_after = wait;
        self
    }

    /// No retry starts later than this after the first attempt started.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.policy.budget = budget;
        self
    }

    /// How long each attempt of a request with a buffered body may wait for the response
    /// head; past it the attempt fails with [`AttemptTimedOut`](crate::AttemptTimedOut)
    /// (and a `GET` or `HEAD` is retried). Streamed uploads get no deadline, and response
    /// bodies are never cut.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.policy.attempt_timeout = Some(timeout);
        self
    }

    /// The policy this layer gives its services.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

impl<S> Layer<S> for RetryReadsLayer {
    type Service = RetryReads<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryReads::new(inner, self.policy)
    }
}
