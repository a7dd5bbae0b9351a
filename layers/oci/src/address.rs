//! Which network addresses the proxy may send requests to.
//!
//! The registry's host comes from the request URL, so without a rule anyone could make the
//! proxy connect (with the user's credentials) to the machine's own network. An
//! [`AddressPolicy`] refuses addresses that are not on the public internet
//! ([`restricted_range`]), except for hosts the operator trusts.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::{restricted_range, RestrictedRange};

/// A request was about to go to an address the [`AddressPolicy`] refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressRefused {
    /// The host as the URL named it.
    pub host: String,
    /// The address it is, or resolved to.
    pub address: IpAddr,
    /// Why the address is refused.
    pub range: RestrictedRange,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "registry {} resolves to a private address ({}, {}); PyOCI does not send requests \
             to private networks: set PYOCI_ALLOW_PRIVATE_REGISTRIES=true to allow it, or list \
             the registry in PYOCI_REGISTRIES",
            self.host, self.address, self.range
        )
    }
}

impl std::error::Error for AddressRefused {}

/// Which addresses outgoing requests may go to: every address, or only public ones except
/// for trusted hosts.
///
/// Hosts are compared by name (case-insensitive, a trailing `.` ignored) or by IP address,
/// never by port. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct AddressPolicy {
    allow_private: bool,
    trusted_hosts: Arc<Vec<String>>,
}

impl Default for AddressPolicy {
    /// [`AddressPolicy::public_only`].
    fn default() -> Self {
        AddressPolicy::public_only()
    }
}

impl AddressPolicy {
    /// Refuses every address in a [`restricted_range`], except those of trusted hosts.
    pub fn public_only() -> AddressPolicy {
        AddressPolicy {
            allow_private: false,
            trusted_hosts: Arc::default(),
        }
    }

    /// Allows every address.
    pub fn allow_all() -> AddressPolicy {
        AddressPolicy {
            allow_private: true,
            trusted_hosts: Arc::default(),
        }
    }

    /// Also allows `host` (a name or an IP address, `[...]` around IPv6 optional) whatever
    /// its addresses are: for registries the operator listed.
    pub fn trust_host(mut self, host: &str) -> AddressPolicy {
        let key = host_key(host);
        if !key.is_empty() {
            Arc::make_mut(&mut self.trusted_hosts).push(key);
        }
        self
    }

    /// Trusts the hosts of the proxies reqwest reads from the environment (`HTTP_PROXY`,
    /// `HTTPS_PROXY`, `ALL_PROXY`, upper or lower case): the operator chose them, and they
    /// often live on a private network. Behind a proxy, the proxy resolves registry names,
    /// so only registries given as IP addresses are checked.
    pub fn trust_env_proxies(self) -> AddressPolicy {
        let names = [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ];
        names
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .filter_map(|value| proxy_host(&value))
            .fold(self, |policy, host| policy.trust_host(&host))
    }

    /// Whether every address is allowed.
    pub fn allows_everything(&self) -> bool {
        self.allow_private
    }

    /// Whether `host` is trusted: its addresses are never refused.
    pub fn trusts(&self, host: &str) -> bool {
        self.allow_private || {
            let key = host_key(host);
            self.trusted_hosts.contains(&key)
        }
    }

    /// Checks one address `host` is, or resolved to.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), AddressRefused> {
        match restricted_range(address) {
            Some(range) if !self.trusts(host) => Err(AddressRefused {
                host: host.to_owned(),
                address,
                range,
            }),
            _ => Ok(()),
        }
    }

    /// Checks a URL's host when it is an IP address (with or without `[...]`); names pass,
    /// their addresses are checked when they are resolved.
    pub fn check_literal(&self, host: &str) -> Result<(), AddressRefused> {
        match parse_ip(host) {
            Some(address) => self.check(host, address),
            None => Ok(()),
        }
    }

    /// The addresses `host` resolved to that may be used, in their order. An error when
    /// there were some and every one was refused, so the reason reaches the user.
    pub fn filter(
        &self,
        host: &str,
        addresses: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, AddressRefused> {
        let mut allowed = Vec::new();
        let mut first_refusal = None;
        for address in addresses {
            match self.check(host, address.ip()) {
                Ok(()) => allowed.push(address),
                Err(refused) => {
                    first_refusal.get_or_insert(refused);
                }
            }
        }
        match first_refusal {
            Some(refused) if allowed.is_empty() => Err(refused),
            _ => Ok(allowed),
        }
    }
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// How hosts are compared: an IP address in its canonical form, a name in lowercase
/// without a trailing dot.
fn host_key(host: &str) -> String {
    match parse_ip(host) {
        Some(address) => address.to_string(),
        None => host.trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// The host of a proxy setting such as `http://user:pw@proxy:3128` or `proxy:3128`.
fn proxy_host(value: &str) -> Option<String> {
    let value = value.trim();
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let uri: http::Uri = with_scheme.parse().ok()?;
    uri.host()
        .filter(|host| !host.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_only_refuses_restricted_addresses_of_untrusted_hosts() {
        let policy = AddressPolicy::public_only().trust_host("Registry.Internal.");
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let refused = policy.check("evil.test", loopback).unwrap_err();
        assert_eq!(refused.range, RestrictedRange::Loopback);
        let message = refused.to_string();
        assert!(
            message.contains("registry evil.test resolves to a private address (127.0.0.1")
                && message.contains("PYOCI_ALLOW_PRIVATE_REGISTRIES=true"),
            "{message}"
        );
        assert!(policy
            .check("evil.test", "8.8.8.8".parse().unwrap())
            .is_ok());
        assert!(policy.check("registry.internal", loopback).is_ok());
        assert!(policy.check("REGISTRY.internal.", loopback).is_ok());
        assert!(AddressPolicy::allow_all()
            .check("evil.test", loopback)
            .is_ok());
        assert!(AddressPolicy::allow_all().allows_everything());
        assert!(!AddressPolicy::default().allows_everything());
    }

    #[test]
    fn literal_hosts_are_checked_and_names_left_to_the_resolver() {
        let policy = AddressPolicy::public_only().trust_host("[::1]");
        assert!(policy.check_literal("localhost").is_ok());
        assert!(policy.check_literal("ghcr.io").is_ok());
        assert!(policy.check_literal("140.82.112.33").is_ok());
        let refused = policy.check_literal("[::ffff:7f00:1]").unwrap_err();
        assert_eq!(refused.host, "[::ffff:7f00:1]");
        assert_eq!(refused.range, RestrictedRange::Loopback);
        assert!(policy.check_literal("10.0.0.1").is_err());
        assert!(policy.check_literal("[fe80::1]").is_err());
        // Trusted by address, written either way.
        assert!(policy.check_literal("[::1]").is_ok());
        assert!(policy.check_literal("::1").is_ok());
        assert!(policy.check_literal("[0:0::1]").is_ok());
    }

    #[test]
    fn filter_keeps_public_addresses_and_refuses_when_none_remain() {
        let policy = AddressPolicy::public_only();
        let addresses = |list: &[&str]| -> Vec<SocketAddr> {
            list.iter()
                .map(|address| SocketAddr::new(address.parse().unwrap(), 0))
                .collect()
        };
        let mixed = addresses(&["127.0.0.1", "140.82.112.33", "::1", "2606:4700::1"]);
        assert_eq!(
            policy.filter("rebind.test", mixed).unwrap(),
            addresses(&["140.82.112.33", "2606:4700::1"])
        );
        let private = addresses(&["::1", "127.0.0.1"]);
        let refused = policy.filter("localhost", private.clone()).unwrap_err();
        assert_eq!(refused.host, "localhost");
        assert_eq!(refused.address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(policy.filter("nothing.test", []).unwrap(), []);
        let trusted = AddressPolicy::public_only().trust_host("localhost");
        assert_eq!(
            trusted.filter("localhost", private.clone()).unwrap(),
            private
        );
    }

    #[test]
    fn proxy_hosts() {
        assert_eq!(
            proxy_host("http://user:pw@proxy.corp:3128").as_deref(),
            Some("proxy.corp")
        );
        assert_eq!(proxy_host("10.0.0.5:3128").as_deref(), Some("10.0.0.5"));
        assert_eq!(proxy_host("socks5://[::1]:1080").as_deref(), Some("[::1]"));
        assert_eq!(proxy_host(""), None);
        assert_eq!(proxy_host("http://"), None);
    }
}
