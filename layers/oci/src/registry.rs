use std::fmt;

use http::uri::{Authority, Scheme};
use http::Uri;

use crate::OciError;

/// Where a registry lives: `http` or `https` plus `host[:port]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Registry {
    scheme: Scheme,
    authority: Authority,
}

impl Registry {
    /// Validates the scheme (`http` or `https`) and the authority (`host[:port]`, no user
    /// info, no path).
    pub fn new(scheme: &str, authority: &str) -> Result<Registry, OciError> {
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::HTTP,
            "https" => Scheme::HTTPS,
            _ => {
                return Err(OciError::InvalidInput(format!(
                    "invalid registry scheme {scheme:?}: use http or https"
                )))
            }
        };
        let invalid = |reason: &str| {
            OciError::InvalidInput(format!(
                "invalid registry address {:?}: {reason}",
                authority.chars().take(80).collect::<String>()
            ))
        };
        if authority.contains('@') {
            return Err(invalid("credentials do not belong in the address"));
        }
        let (host, port) = split_authority(authority);
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        check_host(host).map_err(|why| invalid(&why))?;
        if let Some(port) = port {
            check_port(port).map_err(|why| invalid(&why))?;
        }
        let parsed: Authority = authority
            .parse()
            .map_err(|_| invalid("expected host or host:port"))?;
        // What reqwest will do with it later: anything it cannot make a URL of is refused
        // now, with the input named, rather than failing later as a registry fault.
        reqwest::Url::parse(&format!("{}://{authority}/", scheme.as_str()))
            .map_err(|why| invalid(&format!("not a valid URL host ({why})")))?;
        Ok(Registry {
            scheme,
            authority: parsed,
        })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        self.scheme.as_str()
    }

    /// `host[:port]`.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }

    /// The host, without port.
    pub fn host(&self) -> &str {
        self.authority.host()
    }

    /// A request target on this registry for an absolute path (with optional query).
    pub(crate) fn target(&self, path_and_query: &str) -> Result<Target, OciError> {
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| {
                OciError::InvalidInput(format!(
                    "cannot build a registry URL for {path_and_query:?}"
                ))
            })?;
        Ok(Target {
            uri,
            same_origin: true,
        })
    }

    /// Resolves a `Location` or `Link` value from the registry: an absolute path on this
    /// registry, or an absolute URL. A URL on another origin (scheme, host or port) is
    /// followed without the user's credentials, as browsers and reqwest do on redirects.
    pub(crate) fn resolve(&self, reference: &str) -> Result<Target, OciError> {
        let reference = reference.trim();
        if reference.starts_with('/') && !reference.starts_with("//") {
            return self
                .target(reference)
                .map_err(|_| OciError::InvalidResponse(format!("invalid location {reference:?}")));
        }
        let uri: Uri = reference
            .parse()
            .map_err(|_| OciError::InvalidResponse(format!("invalid location {reference:?}")))?;
        let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
        if !matches!(scheme.as_deref(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(OciError::InvalidResponse(format!(
                "location {reference:?} is neither an absolute path nor an http(s) URL"
            )));
        }
        let same_origin = self.is_same_origin(&uri);
        Ok(Target { uri, same_origin })
    }

    fn is_same_origin(&self, uri: &Uri) -> bool {
        let same_scheme = uri
            .scheme_str()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(self.scheme.as_str()));
        let same_host = uri
            .host()
            .is_some_and(|host| host.eq_ignore_ascii_case(self.authority.host()));
        same_scheme && same_host && effective_port(uri) == self.port()
    }

    /// The port, the scheme's default (80 or 443) when the address has none.
    pub fn port(&self) -> u16 {
        self.authority
            .port_u16()
            .unwrap_or(default_port(self.scheme.as_str()))
    }
}

/// The longest host name DNS can carry (RFC 1035: 255 octets on the wire, 253 as text).
const MAX_NAME_LENGTH: usize = 253;
/// The longest label of a host name (RFC 1035).
const MAX_LABEL_LENGTH: usize = 63;

/// `host[:port]` split at the port's `:`, `[...]` kept around an IPv6 host.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        if let Some(end) = authority.find(']') {
            let (host, rest) = authority.split_at(end + 1);
            return (
                host,
                rest.strip_prefix(':')
                    .or(Some(rest))
                    .filter(|p| !p.is_empty()),
            );
        }
        return (authority, None);
    }
    match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// Whether a host could name a machine: an IPv4 address, a bracketed IPv6 address without a
/// zone, or a DNS name of letters, digits, `-` and `_` in labels of 1 to 63 characters.
fn check_host(host: &str) -> Result<(), String> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or("an IPv6 address must be closed with `]`")?;
        if inner.contains('%') {
            return Err(
                "IPv6 zone identifiers (`%...`) name a local interface and cannot be used;                  give a global address or a name"
                    .into(),
            );
        }
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(drop)
            .map_err(|_| format!("`{inner}` is not an IPv6 address"));
    }
    if !host.is_ascii() {
        return Err("write an internationalised host name in its ASCII (xn--) form".into());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "the host is {} characters long; a host name has at most {MAX_NAME_LENGTH}",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("the host has an empty label (`..`, or a leading `.`)".into());
        }
        if label.len() > MAX_LABEL_LENGTH {
            return Err(format!(
                "a label of the host is {} characters long; labels have at most \
                 {MAX_LABEL_LENGTH}",
                label.len()
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "`{bad}` cannot be part of a host name (letters, digits, `-`, `_` and `.` only)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label `{label}` starts or ends with `-`"));
        }
    }
    Ok(())
}

/// Whether `port` is a TCP port number, 1 to 65535, in digits only.
fn check_port(port: &str) -> Result<(), String> {
    let shown: String = port.chars().take(20).collect();
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the port `{shown}` is not a number"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "the port `{shown}` is out of range; ports are 1 to 65535"
        )),
        Ok(_) => Ok(()),
    }
}

fn effective_port(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(default_port(uri.scheme_str().unwrap_or("https")))
}

fn default_port(scheme: &str) -> u16 {
    if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        443
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Registry({self})")
    }
}

/// Where a request goes, and whether the user's credentials may go with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) uri: Uri,
    pub(crate) same_origin: bool,
}

impl Target {
    /// The same target with `key=value` appended to the query, keeping the query it has
    /// (upload locations carry state such as `?_state=...`).
    pub(crate) fn with_query_param(&self, key: &str, value: &str) -> Result<Target, OciError> {
        let path_and_query = self
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let separator = match path_and_query.split_once('?') {
            None => "?",
            Some((_, "")) => "",
            Some((_, query)) if query.ends_with('&') => "",
            Some(_) => "&",
        };
        let mut parts = self.uri.clone().into_parts();
        let new_path_and_query = format!("{path_and_query}{separator}{key}={value}");
        parts.path_and_query = Some(new_path_and_query.parse().map_err(|_| {
            OciError::InvalidInput(format!("cannot add {key} to the upload location"))
        })?);
        let uri = Uri::from_parts(parts).map_err(|_| {
            OciError::InvalidInput(format!("cannot add {key} to the upload location"))
        })?;
        Ok(Target {
            uri,
            same_origin: self.same_origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_validates_scheme_and_authority() {
        let registry = Registry::new("https", "ghcr.io").unwrap();
        assert_eq!(registry.to_string(), "https://ghcr.io");
        assert_eq!(registry.host(), "ghcr.io");
        let local = Registry::new("HTTP", "127.0.0.1:5000").unwrap();
        assert_eq!(local.to_string(), "http://127.0.0.1:5000");
        assert_eq!(Registry::new("http", "[::1]:5000").unwrap().host(), "[::1]");
        for (scheme, authority) in [
            ("ftp", "ghcr.io"),
            ("https", ""),
            ("https", "user:pw@ghcr.io"),
            ("https", "ghcr.io/path"),
            ("https", "ghcr io"),
            ("https", ":5000"),
        ] {
            let error = Registry::new(scheme, authority).expect_err(authority);
            assert!(matches!(error, OciError::InvalidInput(_)), "{authority}");
        }
    }

    #[test]
    fn impossible_hosts_and_ports_say_what_is_wrong() {
        let long_label = format!("{}.com", "a".repeat(70));
        let long_host = format!("{}.com", ["abcdefghij"; 30].join("."));
        let cases = [
            ("ghcr.io:99999", "out of range"),
            ("ghcr.io:0", "out of range"),
            ("ghcr.io:5000.", "not a number"),
            ("ghcr.io:", "not a number"),
            ("[fe80::1%lo]", "zone identifiers"),
            ("[fe80::1%25lo]:5000", "zone identifiers"),
            ("[fe80::zz]", "not an IPv6 address"),
            ("[::1]x", "not a number"),
            ("a..b.com", "empty label"),
            (".a.com", "empty label"),
            ("-bad-.com", "starts or ends with `-`"),
            ("bad-.com", "starts or ends with `-`"),
            (long_label.as_str(), "labels have at most 63"),
            (long_host.as_str(), "at most 253"),
            ("h\u{e9}.com", "xn--"),
            ("a*b.com", "cannot be part of a host name"),
        ];
        for (authority, expected) in cases {
            let error = Registry::new("https", authority).expect_err(authority);
            let message = error.to_string();
            assert!(matches!(error, OciError::InvalidInput(_)), "{authority}");
            assert!(message.contains(expected), "{authority}: {message}");
            assert!(message.len() < 300, "{message}");
        }
        for fine in [
            "ghcr.io",
            "ghcr.io.",
            "ghcr.io:443",
            "ghcr.io.:443",
            "my_registry.internal:65535",
            "xn--bcher-kva.example",
            "127.0.0.1:5000",
            "[::1]:5000",
            "[2001:db8::1]",
            &format!("{}.com", "a".repeat(63)),
        ] {
            assert!(Registry::new("https", fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn resolve_relative_and_absolute_locations() {
        let registry = Registry::new("http", "127.0.0.1:5000").unwrap();
        let relative = registry.resolve("/v2/a/blobs/uploads/1?_state=x").unwrap();
        assert_eq!(
            relative.uri,
            "http://127.0.0.1:5000/v2/a/blobs/uploads/1?_state=x"
        );
        assert!(relative.same_origin);

        let absolute = registry
            .resolve("http://127.0.0.1:5000/v2/a/blobs/uploads/1")
            .unwrap();
        assert!(absolute.same_origin);

        for other in [
            "http://127.0.0.2:5000/v2/a",
            "https://127.0.0.1:5000/v2/a",
            "http://127.0.0.1/v2/a",
        ] {
            let target = registry.resolve(other).unwrap();
            assert!(!target.same_origin, "{other}");
            assert_eq!(target.uri, other);
        }
        let https = Registry::new("https", "ghcr.io").unwrap();
        assert!(
            https
                .resolve("https://GHCR.io:443/v2/x")
                .unwrap()
                .same_origin
        );

        for bad in ["uploads/1", "//evil/v2", "ftp://x/y", "", "http://"] {
            assert!(registry.resolve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_params_are_appended_to_any_query() {
        let registry = Registry::new("https", "r.example").unwrap();
        let cases = [
            ("/u/1", "/u/1?digest=d"),
            ("/u/1?", "/u/1?digest=d"),
            ("/u/1?_state=abc", "/u/1?_state=abc&digest=d"),
            ("/u/1?_state=abc&", "/u/1?_state=abc&digest=d"),
        ];
        for (location, expected) in cases {
            let target = registry.resolve(location).unwrap();
            let with = target.with_query_param("digest", "d").unwrap();
            assert_eq!(
                with.uri.path_and_query().unwrap().as_str(),
                expected,
                "{location}"
            );
        }
    }
}
