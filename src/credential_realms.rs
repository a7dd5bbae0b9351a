//! `PYOCI_CREDENTIAL_REALMS`: which token services get the user's credentials.

use std::{fmt, str::FromStr};

use pyoci_token_exchange::RealmPolicy;

/// `any` (the default): the token service the registry names, within the limits of
/// [`RealmPolicy`]. `same-host`: only one on the registry's own host. A comma-separated list
/// of hosts: one on the registry's own host or on a listed host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CredentialRealms {
    /// Whatever realm the registry names (docker's, oras's and skopeo's rule).
    #[default]
    Any,
    /// The registry's own host and these hosts (empty: the registry's own host only).
    Hosts(Vec<String>),
}

/// A `PYOCI_CREDENTIAL_REALMS` entry that is not a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRealmsError {
    entry: String,
}

impl fmt::Display for CredentialRealmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` in PYOCI_CREDENTIAL_REALMS is not a host; give `any`, `same-host`, or \
             host names or IP addresses separated by commas, without scheme, port or path \
             (e.g. auth.docker.io,gitlab.com)",
            self.entry
        )
    }
}

impl std::error::Error for CredentialRealmsError {}

impl FromStr for CredentialRealms {
    type Err = CredentialRealmsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("any") {
            return Ok(CredentialRealms::Any);
        }
        if text.eq_ignore_ascii_case("same-host") {
            return Ok(CredentialRealms::Hosts(Vec::new()));
        }
        let hosts = text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let bracketed_ip = entry.starts_with('[') && entry.ends_with(']');
                let plain = !entry.contains(['/', '@', '?', '#', ' ']) && !entry.contains(':');
                if bracketed_ip || plain {
                    Ok(entry.to_owned())
                } else {
                    Err(CredentialRealmsError {
                        entry: entry.chars().take(100).collect(),
                    })
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(CredentialRealms::Hosts(hosts))
    }
}

impl CredentialRealms {
    /// The policy the token-exchange layer applies.
    pub fn policy(&self) -> RealmPolicy {
        match self {
            CredentialRealms::Any => RealmPolicy::any_realm(),
            CredentialRealms::Hosts(hosts) => {
                hosts.iter().fold(RealmPolicy::same_host(), |policy, host| {
                    policy.trust_host(host)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> http::Uri {
        text.parse().unwrap()
    }

    #[test]
    fn parses_any_same_host_and_lists() {
        assert_eq!("".parse(), Ok(CredentialRealms::Any));
        assert_eq!(" ANY ".parse(), Ok(CredentialRealms::Any));
        assert_eq!("same-host".parse(), Ok(CredentialRealms::Hosts(vec![])));
        assert_eq!(
            "auth.docker.io, gitlab.com,[::1],,10.0.0.5".parse(),
            Ok(CredentialRealms::Hosts(vec![
                "auth.docker.io".into(),
                "gitlab.com".into(),
                "[::1]".into(),
                "10.0.0.5".into()
            ]))
        );
        for bad in ["https://auth.docker.io", "auth.docker.io:443", "a/b", "u@h"] {
            let error = format!("x,{bad}").parse::<CredentialRealms>().unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("`{bad}` in PYOCI_CREDENTIAL_REALMS")),
                "{error}"
            );
        }
    }

    #[test]
    fn policies() {
        let hub = uri("https://registry-1.docker.io/v2/");
        let auth = uri("https://auth.docker.io/token");
        assert!(CredentialRealms::Any
            .policy()
            .sends_credentials(&hub, &auth));
        let same_host: CredentialRealms = "same-host".parse().unwrap();
        assert!(!same_host.policy().sends_credentials(&hub, &auth));
        let listed: CredentialRealms = "auth.docker.io".parse().unwrap();
        assert!(listed.policy().sends_credentials(&hub, &auth));
        assert!(!listed
            .policy()
            .sends_credentials(&hub, &uri("https://gitlab.com/jwt/auth")));
    }
}
