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
             the registry (scheme://host:port) in PYOCI_REGISTRIES",
            self.host, self.address, self.range
        )
    }
}

impl std::error::Error for AddressRefused {}

/// Which addresses outgoing requests may go to: every address, or only public ones except
/// for trusted origins and hosts.
///
/// An origin (scheme, host and port, as listed in `PYOCI_REGISTRIES`) is trusted for
/// requests to exactly that origin: another port or scheme on the same host is not, so a
/// listed registry cannot redirect PyOCI, or name a token service, elsewhere on its private
/// network. A trusted host (the proxies the operator configured) is trusted on any port.
/// Hosts are compared by name (case-insensitive, a trailing `.` ignored) or by IP address.
/// Cloning is cheap.
#[derive(Clone, Debug)]
pub struct AddressPolicy {
    allow_private: bool,
    trusted_hosts: Arc<Vec<String>>,
    trusted_origins: Arc<Vec<Origin>>,
    proxy_hosts: Arc<Vec<String>>,
    behind_proxy: bool,
}

/// `scheme://host:port` as compared for trust.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn new(scheme: &str, host: &str, port: Option<u16>) -> Origin {
        let scheme = scheme.to_ascii_lowercase();
        let port = port.unwrap_or(if scheme == "http" { 80 } else { 443 });
        Origin {
            scheme,
            host: host_key(host),
            port,
        }
    }
}

impl Default for AddressPolicy {
    /// [`AddressPolicy::public_only`].
    fn default() -> Self {
        AddressPolicy::public_only()
    }
}

impl AddressPolicy {
    /// Refuses every address in a [`restricted_range`], except those of trusted origins.
    pub fn public_only() -> AddressPolicy {
        AddressPolicy {
            allow_private: false,
            trusted_hosts: Arc::default(),
            trusted_origins: Arc::default(),
            proxy_hosts: Arc::default(),
            behind_proxy: false,
        }
    }

    /// Allows every address.
    pub fn allow_all() -> AddressPolicy {
        AddressPolicy {
            allow_private: true,
            ..AddressPolicy::public_only()
        }
    }

    /// Also allows requests to `scheme://host:port` (`port` `None`: the scheme's default),
    /// whatever the host's addresses are: for registries the operator listed. Only that
    /// origin: not other ports or schemes on the host.
    pub fn trust_origin(mut self, scheme: &str, host: &str, port: Option<u16>) -> AddressPolicy {
        let origin = Origin::new(scheme, host, port);
        if !origin.host.is_empty() {
            Arc::make_mut(&mut self.trusted_origins).push(origin);
        }
        self
    }

    /// Also allows `host` (a name or an IP address, `[...]` around IPv6 optional) on any
    /// port, whatever its addresses are: for the proxies the operator configured.
    pub fn trust_host(mut self, host: &str) -> AddressPolicy {
        let key = host_key(host);
        if !key.is_empty() {
            Arc::make_mut(&mut self.trusted_hosts).push(key);
        }
        self
    }

    /// Lets the names of the proxies reqwest reads from the environment (`HTTP_PROXY`,
    /// `HTTPS_PROXY`, `ALL_PROXY`, upper or lower case) resolve to private addresses: the
    /// operator chose them, and they often live on a private network. This trusts the name
    /// only to connect to the proxy (a proxy given as an IP address needs nothing), not as a
    /// registry. With a proxy set, the proxy resolves registry names, so
    /// [`AddressPolicy::checks_names_before_proxy`] becomes true: the HTTP client then
    /// resolves and checks each name itself before handing the request to the proxy.
    pub fn trust_env_proxies(self) -> AddressPolicy {
        let names = [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ];
        let proxies: Vec<String> = names
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .filter_map(|value| proxy_host(&value))
            .collect();
        let mut policy = self;
        if !proxies.is_empty() {
            policy.behind_proxy = true;
            Arc::make_mut(&mut policy.proxy_hosts).extend(proxies.iter().map(|h| host_key(h)));
        }
        policy
    }

    /// Whether `name` is a proxy's, which the resolver lets resolve to private addresses.
    pub(crate) fn is_proxy_name(&self, name: &str) -> bool {
        self.proxy_hosts.contains(&host_key(name))
    }

    /// Declares that requests go through a proxy, which resolves names itself (what
    /// [`AddressPolicy::trust_env_proxies`] does when a proxy is set).
    pub fn behind_proxy(mut self) -> AddressPolicy {
        self.behind_proxy = true;
        self
    }

    /// Whether names must be resolved and checked before a request goes to a proxy.
    pub fn checks_names_before_proxy(&self) -> bool {
        self.behind_proxy && !self.allow_private
    }

    /// Whether every address is allowed.
    pub fn allows_everything(&self) -> bool {
        self.allow_private
    }

    /// Whether `host` is trusted on any port: its addresses are never refused.
    pub fn trusts(&self, host: &str) -> bool {
        self.allow_private || {
            let key = host_key(host);
            self.trusted_hosts.contains(&key)
        }
    }

    /// Whether requests to `scheme://host:port` are trusted (`port` `None`: the scheme's
    /// default): every address allowed, a trusted host, or a trusted origin.
    pub fn trusts_origin(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.trusts(host)
            || self
                .trusted_origins
                .contains(&Origin::new(scheme, host, port))
    }

    /// Checks one address `host` is, or resolved to.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), AddressRefused> {
        self.check_trusting(host, address, self.trusts(host))
    }

    /// Checks one address `host` is, or resolved to, for a request whose origin is
    /// `trusted` or not.
    pub(crate) fn check_trusting(
        &self,
        host: &str,
        address: IpAddr,
        trusted: bool,
    ) -> Result<(), AddressRefused> {
        match restricted_range(address) {
            Some(range) if !trusted => Err(AddressRefused {
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
        self.check_literal_trusting(host, self.trusts(host))
    }

    /// [`AddressPolicy::check_literal`] for a request whose origin is `trusted` or not.
    pub(crate) fn check_literal_trusting(
        &self,
        host: &str,
        trusted: bool,
    ) -> Result<(), AddressRefused> {
        match parse_ip(host) {
            Some(address) => self.check_trusting(host, address, trusted),
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
        self.filter_trusting(host, addresses, self.trusts(host))
    }

    /// [`AddressPolicy::filter`] for a request whose origin is `trusted` or not.
    pub(crate) fn filter_trusting(
        &self,
        host: &str,
        addresses: impl IntoIterator<Item = SocketAddr>,
        trusted: bool,
    ) -> Result<Vec<SocketAddr>, AddressRefused> {
        let mut allowed = Vec::new();
        let mut first_refusal = None;
        for address in addresses {
            match self.check_trusting(host, address.ip(), trusted) {
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

pub(crate) fn parse_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// How hosts are compared: an IP address in its canonical form, a name in lowercase
/// without a trailing dot.
pub(crate) fn host_key(host: &str) -> String {
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
