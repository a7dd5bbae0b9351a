//! Walking an error's `source()` chain, done once for every crate.
//!
//! Clients and layers wrap the cause that matters (reqwest wraps hyper, which wraps an
//! `io::Error`; a body wraps a timeout), so deciding what went wrong means looking at every
//! link, not the outermost error only.

use std::error::Error;

/// `error`, then each of its sources in turn, outermost first.
pub fn error_chain<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| error.source())
}

/// The first link of `error`'s chain that is a `T`.
pub fn find_in_chain<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    error_chain(error).find_map(|error| error.downcast_ref::<T>())
}

/// The chain's messages joined by `: `, skipping a cause whose text an outer message already
/// contains (many errors repeat their source in their own message), e.g.
/// `error sending request: client error (Connect): tcp connect error: Connection refused`.
pub fn describe_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    for link in error_chain(error) {
        let link = link.to_string();
        if text.is_empty() {
            text = link;
        } else if !text.contains(&link) {
            text.push_str(": ");
            text.push_str(&link);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::io;

    use super::*;

    #[derive(Debug)]
    struct Wrapper(&'static str, Option<Box<dyn Error + Send + Sync>>);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1
                .as_deref()
                .map(|source| source as &(dyn Error + 'static))
        }
    }

    fn wrapped() -> Wrapper {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer");
        let inner = Wrapper("client error (reset by peer)", Some(Box::new(reset)));
        Wrapper("error sending request", Some(Box::new(inner)))
    }

    #[test]
    fn walks_every_link_outermost_first() {
        let error = wrapped();
        let texts: Vec<String> = error_chain(&error).map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "error sending request",
                "client error (reset by peer)",
                "reset by peer"
            ]
        );
    }

    #[test]
    fn finds_a_type_however_deep() {
        let error = wrapped();
        let io = find_in_chain::<io::Error>(&error).map(io::Error::kind);
        assert_eq!(io, Some(io::ErrorKind::ConnectionReset));
        assert!(find_in_chain::<fmt::Error>(&error).is_none());
    }

    #[test]
    fn description_skips_causes_already_said() {
        assert_eq!(
            describe_chain(&wrapped()),
            "error sending request: client error (reset by peer)"
        );
        let alone = io::Error::other("refused");
        assert_eq!(describe_chain(&alone), "refused");
    }
}
