use std::{fmt, str::FromStr};

use crate::EventError;

/// Who sends a notification, named by the second path segment of `/events/<source>/<registry>`.
///
/// The source decides how the request is authenticated and how its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The CNCF distribution registry's notifications (`distribution`): an envelope of
    /// events, sent to the endpoints in its configuration with the headers listed there.
    Distribution,
    /// GitHub's `registry_package` and `package` webhooks for ghcr.io (`github`), signed
    /// with `X-Hub-Signature-256`.
    GitHub,
    /// Harbor's webhooks in the Default payload format (`harbor`).
    Harbor,
    /// Azure Container Registry's webhooks (`acr`).
    Acr,
    /// A generic "these repositories changed" call (`changed`), for CI jobs and registries
    /// without webhooks.
    Changed,
}

impl Source {
    /// Every source, in the order of the path names in [`Source::as_str`].
    pub const ALL: [Source; 5] = [
        Source::Distribution,
        Source::GitHub,
        Source::Harbor,
        Source::Acr,
        Source::Changed,
    ];

    /// The path name: `distribution`, `github`, `harbor`, `acr` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Distribution => "distribution",
            Source::GitHub => "github",
            Source::Harbor => "harbor",
            Source::Acr => "acr",
            Source::Changed => "changed",
        }
    }

    /// The path names of all sources, for messages: `distribution, github, ...`.
    pub(crate) fn names() -> String {
        Source::ALL
            .iter()
            .map(|source| source.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = EventError;

    /// The source named `name` (exactly as [`Source::as_str`] writes it).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Source::ALL
            .into_iter()
            .find(|source| source.as_str() == name)
            .ok_or_else(|| EventError::UnknownSource {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_names_round_trip() {
        for source in Source::ALL {
            assert_eq!(source.as_str().parse::<Source>(), Ok(source));
            assert_eq!(source.to_string(), source.as_str());
        }
    }

    #[test]
    fn unknown_and_differently_cased_names_are_refused() {
        for name in ["GitHub", "gitlab", "", "distribution/"] {
            assert!(matches!(
                name.parse::<Source>(),
                Err(EventError::UnknownSource { .. })
            ));
        }
    }
}
