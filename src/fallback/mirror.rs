//! The pull-through mirror's settings (`PYOCI_MIRROR_*`), as flags and environment
//! variables (flattened into `Config`). The mirror extends the fallback: the names that
//! would be redirected to the public index are served from a mirror of it instead.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use clap::Args;
use pyoci_basic_auth::{Credentials, Secret};

use super::BaseUrl;
use crate::package::{PackageVersion, ProjectName};

/// Where public packages come from, where they are kept, and which are held back.
#[derive(Clone, Debug, Args)]
pub struct MirrorSettings {
    /// A public PEP 691 JSON simple index to mirror, e.g. `https://pypi.org/simple/`:
    /// projects the registry does not have are served from it and kept in the registry on
    /// first download (docs/mirror.md). Off when unset.
    #[arg(long, env = "PYOCI_MIRROR_INDEX", value_name = "URL")]
    pub mirror_index: Option<BaseUrl>,

    /// The namespace in the registry where mirrored projects are kept, e.g. `pypi`.
    #[arg(long, env = "PYOCI_MIRROR_NAMESPACE", value_name = "NAMESPACE")]
    pub mirror_namespace: Option<String>,

    /// The registry user the mirror writes as (push rights on the mirror namespace).
    #[arg(long, env = "PYOCI_MIRROR_USERNAME", value_name = "USER")]
    pub mirror_username: Option<String>,

    /// A file holding that user's password or token (surrounding whitespace ignored).
    #[arg(long, env = "PYOCI_MIRROR_PASSWORD_FILE", value_name = "PATH")]
    pub mirror_password_file: Option<PathBuf>,

    /// Hide public files uploaded less than this long ago (`7d`, `36h`, `90m`); files
    /// without an upload time are hidden too while it is set. Files already mirrored stay.
    #[arg(long, env = "PYOCI_MIRROR_MIN_AGE", value_name = "AGE")]
    pub mirror_min_age: Option<Age>,

    /// Releases shown despite the cooldown, comma-separated `name==version`
    /// (e.g. `urllib3==2.2.2`), for urgent fixes.
    #[arg(
        long,
        env = "PYOCI_MIRROR_EXCEPTIONS",
        value_name = "RELEASES",
        value_delimiter = ','
    )]
    pub mirror_exceptions: Vec<Release>,

    /// Seconds a public project page is kept before the public index is asked again.
    #[arg(long, env = "PYOCI_MIRROR_PAGE_TTL", default_value_t = 300)]
    pub mirror_page_ttl_secs: u64,
}

impl Default for MirrorSettings {
    fn default() -> Self {
        MirrorSettings {
            mirror_index: None,
            mirror_namespace: None,
            mirror_username: None,
            mirror_password_file: None,
            mirror_min_age: None,
            mirror_exceptions: Vec::new(),
            mirror_page_ttl_secs: 300,
        }
    }
}

impl MirrorSettings {
    /// Whether the mirror is on.
    pub fn enabled(&self) -> bool {
        self.mirror_index.is_some()
    }

    /// The credentials the mirror writes with; an error says what is missing.
    pub fn credentials(&self) -> Result<Credentials, String> {
        let username = self.mirror_username.clone().ok_or(
            "PYOCI_MIRROR_INDEX is set but PYOCI_MIRROR_USERNAME is not: the mirror writes \
             to the registry as a user of its own, with push rights on PYOCI_MIRROR_NAMESPACE",
        )?;
        let path = self.mirror_password_file.as_ref().ok_or(
            "PYOCI_MIRROR_INDEX is set but PYOCI_MIRROR_PASSWORD_FILE is not: put the \
             mirror user's password or token in a file",
        )?;
        let password = std::fs::read_to_string(path)
            .map_err(|err| {
                format!(
                    "PYOCI_MIRROR_PASSWORD_FILE: cannot read {}: {err}",
                    path.display()
                )
            })?
            .trim()
            .to_owned();
        Ok(Credentials::Basic {
            username,
            password: Secret::new(password),
        })
    }

    /// The namespace mirrored projects live in; an error says what is missing or wrong.
    pub fn namespace(&self) -> Result<&str, String> {
        let namespace = self.mirror_namespace.as_deref().ok_or(
            "PYOCI_MIRROR_INDEX is set but PYOCI_MIRROR_NAMESPACE is not: name the namespace \
             in the registry where mirrored projects are kept (e.g. `pypi`)",
        )?;
        let valid = !namespace.is_empty()
            && namespace.len() <= 128
            && namespace.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid {
            return Err(format!(
                "PYOCI_MIRROR_NAMESPACE `{namespace}` is not a registry namespace: lowercase \
                 letters, digits, `.`, `_`, `-`, parts separated by `/`"
            ));
        }
        Ok(namespace)
    }
}

/// A release-age cooldown: `7d`, `36h`, `90m`, `1w 2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Age(pub Duration);

impl FromStr for Age {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text.trim())
            .map(Age)
            .map_err(|err| format!("`{text}` is not an age ({err}): write `7d`, `36h` or `90m`"))
    }
}

/// A release named as an exception to the cooldown: `name==version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub name: ProjectName,
    pub version: PackageVersion,
}

impl FromStr for Release {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let wrong =
            || format!("`{text}` is not a release: write `name==version`, e.g. `urllib3==2.2.2`");
        let (name, version) = text.split_once("==").ok_or_else(wrong)?;
        Ok(Release {
            name: ProjectName::parse(name.trim()).map_err(|_| wrong())?,
            version: PackageVersion::parse(version.trim()).map_err(|_| wrong())?,
        })
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=={}", self.name.normalized(), self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_releases_are_read_as_written_and_refused_otherwise() {
        assert_eq!(
            "7d".parse::<Age>().unwrap().0,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            "36h".parse::<Age>().unwrap().0,
            Duration::from_secs(36 * 3600)
        );
        assert_eq!(
            "90m".parse::<Age>().unwrap().0,
            Duration::from_secs(90 * 60)
        );
        for bad in ["", "7 dayz", "d", "-1d", "7"] {
            assert!(bad.parse::<Age>().is_err(), "{bad}");
        }
        let release: Release = " Urllib3 == 2.2.2 ".parse().unwrap();
        assert_eq!(release.to_string(), "urllib3==2.2.2");
        for bad in ["urllib3", "==1.0", "urllib3==not a version"] {
            assert!(bad.parse::<Release>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_mirror_needs_its_namespace_and_credentials() {
        let mut settings = MirrorSettings {
            mirror_index: Some("https://pypi.org/simple/".parse().unwrap()),
            ..MirrorSettings::default()
        };
        assert!(settings
            .namespace()
            .unwrap_err()
            .contains("PYOCI_MIRROR_NAMESPACE"));
        assert!(settings
            .credentials()
            .unwrap_err()
            .contains("PYOCI_MIRROR_USERNAME"));
        settings.mirror_namespace = Some("Pypi Mirror".into());
        assert!(settings
            .namespace()
            .unwrap_err()
            .contains("not a registry namespace"));
        settings.mirror_namespace = Some("mirrors/pypi".into());
        assert_eq!(settings.namespace().unwrap(), "mirrors/pypi");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "s3cret\n").unwrap();
        settings.mirror_username = Some("mirror".into());
        settings.mirror_password_file = Some(file);
        let Credentials::Basic { username, password } = settings.credentials().unwrap() else {
            panic!("basic credentials")
        };
        assert_eq!((username.as_str(), password.expose()), ("mirror", "s3cret"));
    }
}
