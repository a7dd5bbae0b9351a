use std::{fmt, str::FromStr};

use pep440_rs::Version;

/// A PEP 440 version that can be stored as an OCI tag.
///
/// Tags cannot hold `+`, so the original PyOCI writes local versions with `-` instead
/// (`1.0+cpu` -> `1.0-cpu`). Normalizing first guarantees a `-` in a tag only ever came from
/// `+`. Epochs (`1!2.0`) have no tag form and are refused.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageVersion(Version);

/// A version PyOCI cannot store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// Not a PEP 440 version.
    Invalid(String),
    /// `N!` epochs cannot be written as an OCI tag.
    Epoch(String),
    /// Longer than an OCI tag may be.
    TooLong(String),
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionError::Invalid(v) => write!(f, "`{v}` is not a valid PEP 440 version"),
            VersionError::Epoch(v) => write!(
                f,
                "version `{v}` has an epoch, which PyOCI cannot store as an OCI tag: \
                 publish it without the `N!` prefix"
            ),
            VersionError::TooLong(v) => write!(
                f,
                "version `{v}` is longer than the 128 characters an OCI tag may hold"
            ),
        }
    }
}

impl std::error::Error for VersionError {}

impl PackageVersion {
    const MAX_TAG_LEN: usize = 128;

    /// Parses and validates a version as written by a user or in a filename.
    pub fn parse(raw: &str) -> Result<Self, VersionError> {
        let shown = || raw.chars().take(Self::MAX_TAG_LEN).collect::<String>();
        let version = Version::from_str(raw).map_err(|_| VersionError::Invalid(shown()))?;
        if version.epoch() != 0 {
            return Err(VersionError::Epoch(shown()));
        }
        if version.to_string().len() > Self::MAX_TAG_LEN {
            return Err(VersionError::TooLong(shown()));
        }
        Ok(PackageVersion(version))
    }

    /// Reads a tag written by PyOCI; `None` for tags that are not package versions
    /// (`latest`, signatures, ...), which a listing skips.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let version = PackageVersion::parse(&tag.replacen('-', "+", 1)).ok()?;
        // Only tags that are exactly what we would write: `1.0-1` is not ours.
        (version.tag() == tag).then_some(version)
    }

    /// The OCI tag for this version.
    pub fn tag(&self) -> String {
        self.0.to_string().replace('+', "-")
    }

    /// The underlying PEP 440 version, for ordering and comparisons.
    pub fn pep440(&self) -> &Version {
        &self.0
    }
}

impl fmt::Display for PackageVersion {
    /// The normalized version (`1.0rc1+local.1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for (raw, tag) in [
            ("1.0.0", "1.0.0"),
            ("1.0-RC1", "1.0rc1"),
            ("2.0.post1", "2.0.post1"),
            ("1.0+CPU.11", "1.0-cpu.11"),
            ("1.0.dev3", "1.0.dev3"),
        ] {
            let version = PackageVersion::parse(raw).unwrap();
            assert_eq!(version.tag(), tag);
            assert_eq!(PackageVersion::from_tag(tag), Some(version));
        }
    }

    #[test]
    fn foreign_tags_are_not_versions() {
        for tag in ["latest", "sha256-abc.sig", "1.0-a-b", "main", ""] {
            assert_eq!(PackageVersion::from_tag(tag), None, "{tag}");
        }
    }

    #[test]
    fn refuses_epochs_and_garbage() {
        assert!(matches!(
            PackageVersion::parse("1!2.0"),
            Err(VersionError::Epoch(_))
        ));
        assert!(PackageVersion::parse("1!2.0")
            .unwrap_err()
            .to_string()
            .contains("epoch"));
        assert!(matches!(
            PackageVersion::parse("not a version"),
            Err(VersionError::Invalid(_))
        ));
    }

    #[test]
    fn orders_by_pep_440() {
        let mut versions: Vec<_> = ["1.0", "1.0rc1", "1.10", "1.2", "1.0.post1", "1.0.dev1"]
            .iter()
            .map(|v| PackageVersion::parse(v).unwrap())
            .collect();
        versions.sort();
        let sorted: Vec<_> = versions.iter().map(|v| v.to_string()).collect();
        assert_eq!(
            sorted,
            ["1.0.dev1", "1.0rc1", "1.0", "1.0.post1", "1.2", "1.10"]
        );
    }
}
