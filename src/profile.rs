//! Registry profiles: which media types PyOCI may write to a registry.
//!
//! Most registries (ghcr.io, ACR, Harbor, Docker Hub, distribution, ECR) store any
//! `artifactType` and config media type. Some refuse media types they do not know: GitLab
//! answers `400 MANIFEST_INVALID`, Quay needs server configuration. For those, the
//! `conservative` profile writes only standard types.
//!
//! A registry not listed in `PYOCI_REGISTRY_PROFILES` that refuses a PyOCI manifest with
//! `400 MANIFEST_INVALID` is written to with the conservative profile from then on (the
//! store's `RegistryRules` learns it), so GitLab and Quay work without configuration.

use std::{fmt, str::FromStr};

/// What PyOCI writes to one registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// As the original PyOCI (`artifactType: application/pyoci.package.v1`), plus each
    /// wheel's METADATA as its manifest's config blob, for PEP 658.
    #[default]
    Pyoci,
    /// No `artifactType` and the standard empty config: nothing a strict registry could
    /// refuse. Files list and install as usual, but without PEP 658 metadata files.
    Conservative,
}

impl Profile {
    /// Whether manifests and indexes carry PyOCI's `artifactType`.
    pub fn writes_artifact_type(self) -> bool {
        self == Profile::Pyoci
    }

    /// Whether a wheel's METADATA is stored (as its manifest's config blob).
    pub fn stores_core_metadata(self) -> bool {
        self == Profile::Pyoci
    }
}

/// `host=profile` pairs, comma-separated: `gitlab.example.com=conservative,quay.io=conservative`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryProfiles(Vec<(String, Profile)>);

impl RegistryProfiles {
    /// The profile of a registry host (`host` or `host:port`); the default when not listed.
    pub fn for_registry(&self, host: &str, authority: &str) -> Profile {
        self.listed(host, authority).unwrap_or_default()
    }

    /// The profile the operator listed for a registry, if any.
    pub fn listed(&self, host: &str, authority: &str) -> Option<Profile> {
        self.0
            .iter()
            .find(|(listed, _)| {
                listed.eq_ignore_ascii_case(authority) || listed.eq_ignore_ascii_case(host)
            })
            .map(|(_, profile)| *profile)
    }
}

impl FromStr for RegistryProfiles {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, String> {
        let mut profiles = Vec::new();
        for entry in list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let (host, profile) = entry.split_once('=').ok_or_else(|| {
                format!("`{entry}` is not `host=profile` (profiles: pyoci, conservative)")
            })?;
            let profile = match profile.trim() {
                "pyoci" => Profile::Pyoci,
                "conservative" => Profile::Conservative,
                other => {
                    return Err(format!(
                        "unknown registry profile `{other}` for `{host}`: use pyoci or conservative"
                    ))
                }
            };
            profiles.push((host.trim().to_owned(), profile));
        }
        Ok(RegistryProfiles(profiles))
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Pyoci => "pyoci",
            Profile::Conservative => "conservative",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_looks_up_profiles() {
        let profiles: RegistryProfiles = "gitlab.example.com=conservative, localhost:5000=pyoci"
            .parse()
            .unwrap();
        assert_eq!(
            profiles.for_registry("gitlab.example.com", "gitlab.example.com"),
            Profile::Conservative
        );
        assert_eq!(
            profiles.for_registry("GITLAB.example.com", "gitlab.example.com:443"),
            Profile::Conservative
        );
        assert_eq!(profiles.for_registry("ghcr.io", "ghcr.io"), Profile::Pyoci);
        assert!("quay.io".parse::<RegistryProfiles>().is_err());
        assert!("quay.io=strict"
            .parse::<RegistryProfiles>()
            .unwrap_err()
            .contains("strict"));
        assert_eq!(
            "".parse::<RegistryProfiles>().unwrap(),
            RegistryProfiles::default()
        );
    }
}
