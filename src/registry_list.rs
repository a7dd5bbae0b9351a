//! `PYOCI_REGISTRIES`: the registries a PyOCI serves, so it is not an open proxy.

use std::{fmt, str::FromStr};

use pyoci_oci::Registry;
use pyoci_token_exchange::host_key;

/// The registries PyOCI may talk to, parsed from a comma-separated list of `host[:port]`,
/// each optionally with `https://` (the default) or `http://`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryList {
    registries: Vec<Registry>,
}

/// A `PYOCI_REGISTRIES` entry that is not a registry address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryListError {
    entry: String,
    reason: String,
}

impl fmt::Display for RegistryListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` in PYOCI_REGISTRIES is not a registry: {}; list registries as host[:port], \
             optionally with http:// or https://, separated by commas \
             (e.g. ghcr.io,http://127.0.0.1:5000)",
            self.entry, self.reason
        )
    }
}

impl std::error::Error for RegistryListError {}

impl FromStr for RegistryList {
    type Err = RegistryListError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RegistryList::parse(text)
    }
}

impl RegistryList {
    /// Parses `ghcr.io, http://127.0.0.1:5000,https://host:8443/`. Blank entries are
    /// skipped, so an empty text is an empty list.
    pub fn parse(text: &str) -> Result<RegistryList, RegistryListError> {
        let registries = text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_entry)
            .collect::<Result<_, _>>()?;
        Ok(RegistryList { registries })
    }

    /// Whether no registry is listed (then the list restricts nothing).
    pub fn is_empty(&self) -> bool {
        self.registries.is_empty()
    }

    /// The listed registries, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Registry> {
        self.registries.iter()
    }

    /// Whether `registry` is listed: same scheme, host (any case) and port.
    pub fn allows(&self, registry: &Registry) -> bool {
        self.registries
            .iter()
            .any(|listed| same_registry(listed, registry))
    }

    /// The registry of a list of exactly one: URLs may then leave out the registry segment.
    pub fn fixed(&self) -> Option<&Registry> {
        match self.registries.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

impl fmt::Display for RegistryList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, registry) in self.registries.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{registry}")?;
        }
        Ok(())
    }
}

fn parse_entry(entry: &str) -> Result<Registry, RegistryListError> {
    let error = |reason: &str| RegistryListError {
        entry: entry.chars().take(100).collect(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = entry.split_once("://").unwrap_or(("https", entry));
    // `https://ghcr.io/` is how a registry is often written; a longer path is not.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(error(
            "only host[:port] may follow the scheme (no path, query or credentials)",
        ));
    }
    Registry::new(scheme, authority).map_err(|err| error(&err.to_string()))
}

/// Same scheme, host (compared as the realm policy compares hosts) and port (the scheme's default when not written).
pub fn same_registry(a: &Registry, b: &Registry) -> bool {
    a.scheme() == b.scheme() && host_key(a.host()) == host_key(b.host()) && a.port() == b.port()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(scheme: &str, authority: &str) -> Registry {
        Registry::new(scheme, authority).unwrap()
    }

    #[test]
    fn parses_hosts_with_and_without_schemes() {
        let list: RegistryList =
            " ghcr.io, http://127.0.0.1:5000 ,https://Registry.Example:8443/,,"
                .parse()
                .unwrap();
        let written: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            written,
            [
                "https://ghcr.io",
                "http://127.0.0.1:5000",
                "https://Registry.Example:8443"
            ]
        );
        assert_eq!(
            list.to_string(),
            "https://ghcr.io, http://127.0.0.1:5000, https://Registry.Example:8443"
        );
        assert_eq!(list.fixed(), None);
        assert!(RegistryList::parse("").unwrap().is_empty());
        assert!(RegistryList::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn bad_entries_say_which_and_why() {
        for bad in [
            "ftp://ghcr.io",
            "https://ghcr.io/my-org",
            "https://user:pw@ghcr.io",
            "ghcr.io?x=1",
            "ghcr io",
            "https://",
            ":5000",
        ] {
            let error = RegistryList::parse(&format!("ghcr.io,{bad}")).unwrap_err();
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("`{bad}` in PYOCI_REGISTRIES")),
                "{message}"
            );
            assert!(message.contains("host[:port]"), "{message}");
        }
    }

    #[test]
    fn allows_same_scheme_host_and_port_only() {
        let list = RegistryList::parse("ghcr.io,http://127.0.0.1:5000,http://[::1]:5000").unwrap();
        for (scheme, authority) in [
            ("https", "ghcr.io"),
            ("https", "GHCR.IO"),
            ("https", "ghcr.io:443"),
            ("https", "ghcr.io."),
            ("http", "127.0.0.1:5000"),
            ("http", "[0:0::1]:5000"),
        ] {
            assert!(
                list.allows(&registry(scheme, authority)),
                "{scheme}://{authority}"
            );
        }
        for (scheme, authority) in [
            ("http", "ghcr.io"),
            ("https", "ghcr.io:8443"),
            ("https", "evil.ghcr.io"),
            ("https", "127.0.0.1:5000"),
            ("http", "127.0.0.1:5001"),
            ("http", "localhost:5000"),
        ] {
            assert!(
                !list.allows(&registry(scheme, authority)),
                "{scheme}://{authority}"
            );
        }
    }

    #[test]
    fn one_registry_is_fixed() {
        let list = RegistryList::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(list.fixed(), Some(&registry("http", "127.0.0.1:5000")));
        assert!(same_registry(
            &registry("https", "ghcr.io"),
            &registry("HTTPS", "ghcr.io:443")
        ));
    }
}
