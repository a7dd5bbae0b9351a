use std::{error::Error, fmt, time::Duration};

/// A body delivered nothing for longer than its idle timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleTimeout {
    /// How long the reader waited for the next frame.
    pub idle: Duration,
}

impl fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no data arrived for {}", describe(self.idle))
    }
}

impl Error for IdleTimeout {}

/// Whether an [`IdleTimeout`] is `error` or anywhere in its source chain (bodies wrapped by
/// other layers or clients keep it as a source).
pub fn is_idle_timeout(error: &(dyn Error + 'static)) -> bool {
    pyoci_core::find_in_chain::<IdleTimeout>(error).is_some()
}

/// `60 s`, `1.5 s`, `200 ms`: how a person would say it.
fn describe(idle: Duration) -> String {
    if idle.subsec_millis() == 0 {
        format!("{} s", idle.as_secs())
    } else if idle < Duration::from_secs(1) {
        format!("{} ms", idle.as_millis())
    } else {
        format!("{:.1} s", idle.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(IdleTimeout);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "reading failed")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn found_in_the_source_chain() {
        let timeout = IdleTimeout {
            idle: Duration::from_secs(60),
        };
        assert!(is_idle_timeout(&timeout));
        assert!(is_idle_timeout(&Wrapper(timeout)));
        let other = std::io::Error::other("reset");
        assert!(!is_idle_timeout(&other));
    }

    #[test]
    fn says_how_long() {
        let text = |idle| IdleTimeout { idle }.to_string();
        assert_eq!(text(Duration::from_secs(60)), "no data arrived for 60 s");
        assert_eq!(
            text(Duration::from_millis(200)),
            "no data arrived for 200 ms"
        );
        assert_eq!(
            text(Duration::from_millis(1500)),
            "no data arrived for 1.5 s"
        );
    }
}
