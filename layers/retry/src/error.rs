//! The one error this crate makes: an attempt that got no answer in time.

use std::fmt;
use std::io;
use std::time::Duration;

/// An attempt's response head did not arrive within the layer's
/// [`attempt_timeout`](crate::RetryReadsLayer::attempt_timeout).
///
/// The [`RetryReads`](crate::RetryReads) service returns it inside an [`io::Error`] of kind
/// [`io::ErrorKind::TimedOut`] (see [`AttemptTimedOut::into_io_error`]), so callers recognise a
/// timeout by its kind, as they do reqwest's and the operating system's, without knowing
/// this crate. `io::Error::get_ref` gives this value back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptTimedOut {
    after: Duration,
}

impl AttemptTimedOut {
    /// An attempt that waited `after` in vain.
    pub fn new(after: Duration) -> AttemptTimedOut {
        AttemptTimedOut { after }
    }

    /// How long the attempt waited.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// This error as an [`io::Error`] of kind [`io::ErrorKind::TimedOut`].
    pub fn into_io_error(self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, self)
    }
}

impl fmt::Display for AttemptTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.after.subsec_nanos() == 0 {
            write!(f, "no answer within {} s", self.after.as_secs())
        } else {
            write!(f, "no answer within {} ms", self.after.as_millis())
        }
    }
}

impl std::error::Error for AttemptTimedOut {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_a_timeout_of_kind_timed_out() {
        let error = AttemptTimedOut::new(Duration::from_secs(30)).into_io_error();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(error.to_string(), "no answer within 30 s");
        let inner = error.get_ref().unwrap().downcast_ref::<AttemptTimedOut>();
        assert_eq!(
            inner.map(AttemptTimedOut::after),
            Some(Duration::from_secs(30))
        );
        let short = AttemptTimedOut::new(Duration::from_millis(250));
        assert_eq!(short.to_string(), "no answer within 250 ms");
    }
}
