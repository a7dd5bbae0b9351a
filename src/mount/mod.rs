//! Mounting PyOCI under a path prefix of another app: [`MountLayer`] in front of
//! [`pyoci_service`](crate::pyoci_service) tells it the prefix.

mod layer;

use http::Uri;

pub use layer::{Mount, MountLayer};

/// The path prefix an outer router stripped before handing a request to PyOCI, as a request
/// extension: PyOCI routes the path it sees, and builds every link, redirect and page URL
/// under this prefix, so pip, uv and twine keep talking to the mounted URLs.
///
/// [`MountLayer`] puts it in every request; `examples/mount-axum` mounts PyOCI under
/// `/pypi` of an axum app that way, and its test runs pip and twine through it. A request
/// extension of another type (an `Option<MountPrefix>`, say) is not this one: PyOCI logs a
/// warning when it finds one. Behind a reverse proxy that keeps the prefix in the path, set
/// [`Config::path_prefix`](crate::Config) (`PYOCI_PATH`) instead; when both are set,
/// `PYOCI_PATH` is the whole public prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountPrefix(String);

impl MountPrefix {
    /// A prefix such as `/pypi`; a missing leading `/` is added, trailing ones dropped.
    pub fn new(prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        if trimmed.is_empty() {
            MountPrefix(String::new())
        } else {
            MountPrefix(format!("/{trimmed}"))
        }
    }

    /// The prefix a router stripped from `original` to leave `seen`, or `None` when `seen`'s
    /// path is not a tail of `original`'s (nothing was stripped, or something was rewritten).
    pub fn stripped(original: &Uri, seen: &Uri) -> Option<Self> {
        let (original, seen) = (original.path(), seen.path());
        // A router nesting at `/pypi` hands `/pypi` itself on as `/`.
        let prefix = original
            .strip_suffix(seen)
            .or_else(|| original.strip_suffix(seen.trim_end_matches('/')))?;
        Some(MountPrefix::new(prefix))
    }

    /// The prefix, `""` at the root, else starting with `/` and without a trailing one.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(original: &str, seen: &str) -> Option<String> {
        MountPrefix::stripped(&original.parse().unwrap(), &seen.parse().unwrap())
            .map(|prefix| prefix.as_str().to_owned())
    }

    #[test]
    fn prefix_is_what_the_router_stripped() {
        assert_eq!(
            stripped("/pypi/ghcr.io/acme/", "/ghcr.io/acme/").as_deref(),
            Some("/pypi")
        );
        assert_eq!(stripped("/pypi/", "/").as_deref(), Some("/pypi"));
        assert_eq!(stripped("/pypi", "/").as_deref(), Some("/pypi"));
        assert_eq!(stripped("/a/b/x?q=1", "/x").as_deref(), Some("/a/b"));
        assert_eq!(stripped("/x/", "/x/").as_deref(), Some(""));
        assert_eq!(stripped("/pypi/a", "/b"), None);
    }

    #[test]
    fn new_normalizes_slashes() {
        assert_eq!(MountPrefix::new("pypi/").as_str(), "/pypi");
        assert_eq!(MountPrefix::new("/").as_str(), "");
        assert_eq!(MountPrefix::new("").as_str(), "");
    }
}
