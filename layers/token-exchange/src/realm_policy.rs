use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::Uri;

/// Which token services may receive the user's credentials.
///
/// A registry names its token service (the realm) in its `401` challenge. By default the
/// user's credentials go to that realm, wherever it is, as docker, oras and skopeo send them:
/// the user named the registry and gave it their credentials, and a registry that wanted
/// them could have asked with a Basic challenge instead. Withholding them from the token
/// service the same registry names protects nothing, and it breaks Docker Hub
/// (`registry-1.docker.io` -> `auth.docker.io`) and GitLab.com (`registry.gitlab.com` ->
/// `gitlab.com`).
///
/// Two limits always apply here:
/// - credentials never go from an `https` registry to an `http` realm, where anyone on the
///   path could read them;
/// - an operator may narrow the rule ([`RealmPolicy::same_host`] and
///   [`RealmPolicy::trust_host`]) to realms on the registry's own host or on listed hosts.
///
/// A third limit lives in the HTTP client below this layer: the address policy refuses to
/// connect to a realm on a private or special-purpose address unless that exact origin is
/// allowed, so no credential is ever sent there. A realm whose credentials are withheld is
/// asked for an anonymous token.
///
/// Hosts are compared case-insensitively, without a trailing `.`, and IP addresses by value.
/// Cloning is cheap.
///
/// ```
/// use http::Uri;
/// use pyoci_token_exchange::{RealmPolicy, TokenExchangeLayer};
///
/// let hub: Uri = "https://registry-1.docker.io/v2/".parse().unwrap();
/// let auth: Uri = "https://auth.docker.io/token".parse().unwrap();
/// assert!(RealmPolicy::any_realm().sends_credentials(&hub, &auth));
/// let cleartext: Uri = "http://auth.docker.io/token".parse().unwrap();
/// assert!(!RealmPolicy::any_realm().sends_credentials(&hub, &cleartext));
///
/// let narrowed = RealmPolicy::same_host().trust_host("auth.docker.io");
/// assert!(narrowed.sends_credentials(&hub, &auth));
/// let elsewhere: Uri = "https://tokens.example/token".parse().unwrap();
/// assert!(!narrowed.sends_credentials(&hub, &elsewhere));
/// let layer = TokenExchangeLayer::new().credential_realms(narrowed);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RealmPolicy {
    /// `None`: any realm. `Some(hosts)`: the registry's own host and these.
    narrowed_to: Option<Arc<Vec<String>>>,
}

/// Why a token service does not get the user's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withheld {
    /// The registry is spoken to over https, the realm over plain http.
    Cleartext,
    /// The operator narrowed the realms that get credentials, and this one is not among them.
    NotListed,
}

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Withheld::Cleartext => {
                "the registry uses https but its token service plain http, where the \
                 credentials could be read on the way"
            }
            Withheld::NotListed => {
                "the token service is on another host than the registry and not in \
                 PYOCI_CREDENTIAL_REALMS"
            }
        })
    }
}

impl RealmPolicy {
    /// Credentials for the realm the registry names, within the limits above (the default).
    pub fn any_realm() -> RealmPolicy {
        RealmPolicy::default()
    }

    /// Narrowed: credentials only for a realm on the registry's host (any port).
    pub fn same_host() -> RealmPolicy {
        RealmPolicy {
            narrowed_to: Some(Arc::default()),
        }
    }

    /// Narrowed: also credentials for realms on `host` (a name or an IP address, any port),
    /// whatever the registry. Called on [`RealmPolicy::any_realm`], it narrows to the
    /// registry's host and `host`.
    pub fn trust_host(mut self, host: &str) -> RealmPolicy {
        let key = host_key(host);
        let hosts = Arc::make_mut(self.narrowed_to.get_or_insert_with(Arc::default));
        if !key.is_empty() {
            hosts.push(key);
        }
        self
    }

    /// Whether the policy is narrowed to some hosts.
    pub fn is_narrowed(&self) -> bool {
        self.narrowed_to.is_some()
    }

    /// Why a request to `registry` may not send the user's credentials to the token
    /// service at `realm`, `None` when it may.
    pub fn withholds(&self, registry: &Uri, realm: &Uri) -> Option<Withheld> {
        let is = |uri: &Uri, scheme: &str| {
            uri.scheme_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        };
        if is(registry, "https") && !is(realm, "https") {
            return Some(Withheld::Cleartext);
        }
        let realm_host = host_key(realm.host().unwrap_or_default());
        if realm_host.is_empty() {
            return Some(Withheld::NotListed);
        }
        let Some(listed) = &self.narrowed_to else {
            return None;
        };
        let same_host = realm_host == host_key(registry.host().unwrap_or_default());
        (!same_host && !listed.contains(&realm_host)).then_some(Withheld::NotListed)
    }

    /// Whether a request to `registry` may send the user's credentials to the token service
    /// at `realm`.
    pub fn sends_credentials(&self, registry: &Uri, realm: &Uri) -> bool {
        self.withholds(registry, realm).is_none()
    }
}

/// A host as compared for trust: an IP address in its canonical form (`[...]` around IPv6
/// removed), a name in lowercase without a trailing dot.
pub fn host_key(host: &str) -> String {
    let bare = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(address) => address.to_string(),
        Err(_) => host.trim_end_matches('.').to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap()
    }

    fn sends(policy: &RealmPolicy, registry: &str, realm: &str) -> bool {
        policy.sends_credentials(&uri(registry), &uri(realm))
    }

    #[test]
    fn by_default_any_realm_the_registry_names() {
        let policy = RealmPolicy::any_realm();
        assert!(!policy.is_narrowed());
        assert!(sends(
            &policy,
            "https://ghcr.io/v2/",
            "https://ghcr.io/token"
        ));
        assert!(sends(
            &policy,
            "https://registry-1.docker.io/v2/",
            "https://auth.docker.io/token"
        ));
        assert!(sends(
            &policy,
            "https://registry.gitlab.com/v2/",
            "https://gitlab.com/jwt/auth"
        ));
        assert!(sends(
            &policy,
            "http://127.0.0.1:5000/v2/",
            "http://localhost:5001/token"
        ));
        // A plain-http registry already sends them in clear; an https realm is better still.
        assert!(sends(
            &policy,
            "http://127.0.0.1:5000/v2/",
            "https://auth.test/token"
        ));
    }

    #[test]
    fn never_from_an_https_registry_to_an_http_realm() {
        for policy in [
            RealmPolicy::any_realm(),
            RealmPolicy::same_host().trust_host("auth.test"),
        ] {
            let withheld = policy.withholds(
                &uri("https://registry.test/v2/"),
                &uri("http://registry.test/token"),
            );
            assert_eq!(withheld, Some(Withheld::Cleartext));
            assert!(!sends(
                &policy,
                "HTTPS://registry.test/v2/",
                "http://auth.test/token"
            ));
        }
        assert!(Withheld::Cleartext.to_string().contains("plain http"));
    }

    #[test]
    fn narrowed_to_the_registry_host_any_port() {
        let policy = RealmPolicy::same_host();
        assert!(policy.is_narrowed());
        assert!(sends(
            &policy,
            "https://ghcr.io/v2/",
            "https://ghcr.io/token"
        ));
        assert!(sends(
            &policy,
            "https://GHCR.io/v2/",
            "https://ghcr.io./token"
        ));
        assert!(sends(
            &policy,
            "http://127.0.0.1:1/",
            "http://127.0.0.1:2/t"
        ));
        assert!(sends(&policy, "http://[::1]:1/", "http://[0:0::1]:2/t"));
        for (registry, realm) in [
            (
                "https://registry-1.docker.io/",
                "https://auth.docker.io/token",
            ),
            ("https://ghcr.io/", "https://ghcr.io.evil.test/token"),
            ("http://localhost:1/", "http://127.0.0.1:2/token"),
        ] {
            assert_eq!(
                policy.withholds(&uri(registry), &uri(realm)),
                Some(Withheld::NotListed),
                "{registry} -> {realm}"
            );
        }
        assert!(Withheld::NotListed
            .to_string()
            .contains("PYOCI_CREDENTIAL_REALMS"));
    }

    #[test]
    fn narrowed_to_listed_hosts_from_any_registry() {
        let policy = RealmPolicy::any_realm()
            .trust_host("Auth.Docker.io")
            .trust_host("[::1]")
            .trust_host("");
        assert!(policy.is_narrowed());
        assert!(sends(
            &policy,
            "https://registry-1.docker.io/",
            "https://auth.docker.io/token"
        ));
        assert!(sends(
            &policy,
            "https://other.test/",
            "https://auth.docker.io./token"
        ));
        assert!(sends(&policy, "http://other.test/", "http://[::1]:5/token"));
        assert!(sends(&policy, "https://ghcr.io/", "https://ghcr.io/token"));
        assert!(!sends(
            &policy,
            "https://registry-1.docker.io/",
            "https://docker.io/token"
        ));
    }
}
