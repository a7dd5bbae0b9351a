use std::net::IpAddr;
use std::sync::Arc;

/// Which token services may receive the user's credentials.
///
/// A registry names its token service (the realm) in its `401` challenge, so a registry could
/// send the credentials PyOCI forwards anywhere. By default they go only to a realm on the
/// registry's own host, ports aside (ghcr.io's realm is `https://ghcr.io/token`); other realms
/// are asked for an anonymous token. Hosts the operator trusts can be added, such as Docker
/// Hub's `auth.docker.io`.
///
/// Hosts are compared case-insensitively, without a trailing `.`, and IP addresses by value.
/// Cloning is cheap.
///
/// ```
/// use pyoci_token_exchange::{RealmPolicy, TokenExchangeLayer};
///
/// let realms = RealmPolicy::same_host().trust_host("auth.docker.io");
/// assert!(realms.sends_credentials("ghcr.io", "ghcr.io"));
/// assert!(realms.sends_credentials("registry-1.docker.io", "auth.docker.io"));
/// assert!(!realms.sends_credentials("registry.example", "tokens.example"));
/// let layer = TokenExchangeLayer::new().credential_realms(realms);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RealmPolicy {
    trusted_hosts: Arc<Vec<String>>,
}

impl RealmPolicy {
    /// Credentials only for a realm on the registry's host (any port).
    pub fn same_host() -> RealmPolicy {
        RealmPolicy::default()
    }

    /// Also credentials for realms on `host` (a name or an IP address, any port), whatever
    /// the registry.
    pub fn trust_host(mut self, host: &str) -> RealmPolicy {
        let key = host_key(host);
        if !key.is_empty() {
            Arc::make_mut(&mut self.trusted_hosts).push(key);
        }
        self
    }

    /// Whether a request to `registry_host` may send the user's credentials to a token
    /// service on `realm_host`.
    pub fn sends_credentials(&self, registry_host: &str, realm_host: &str) -> bool {
        let realm = host_key(realm_host);
        !realm.is_empty()
            && (realm == host_key(registry_host) || self.trusted_hosts.contains(&realm))
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

    #[test]
    fn same_host_any_port_by_default() {
        let policy = RealmPolicy::same_host();
        assert!(policy.sends_credentials("ghcr.io", "ghcr.io"));
        assert!(policy.sends_credentials("GHCR.io", "ghcr.io."));
        assert!(policy.sends_credentials("127.0.0.1", "127.0.0.1"));
        assert!(policy.sends_credentials("[::1]", "[0:0::1]"));
        assert!(!policy.sends_credentials("registry-1.docker.io", "auth.docker.io"));
        assert!(!policy.sends_credentials("ghcr.io", "ghcr.io.evil.test"));
        assert!(!policy.sends_credentials("ghcr.io", "evil.test"));
        assert!(!policy.sends_credentials("localhost", "127.0.0.1"));
        assert!(!policy.sends_credentials("", ""));
    }

    #[test]
    fn trusted_hosts_get_credentials_from_any_registry() {
        let policy = RealmPolicy::same_host()
            .trust_host("Auth.Docker.io")
            .trust_host("[::1]")
            .trust_host("");
        assert!(policy.sends_credentials("registry-1.docker.io", "auth.docker.io"));
        assert!(policy.sends_credentials("other.test", "auth.docker.io."));
        assert!(policy.sends_credentials("other.test", "::1"));
        assert!(policy.sends_credentials("ghcr.io", "ghcr.io"));
        assert!(!policy.sends_credentials("registry-1.docker.io", "docker.io"));
        assert!(!policy.sends_credentials("other.test", ""));
    }
}
