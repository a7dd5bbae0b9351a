//! The fallback's settings, as flags and environment variables (flattened into `Config`).

use std::{fmt, str::FromStr};

use clap::Args;

use super::names::NamePatterns;

/// Where unknown project names go, and which never go there.
#[derive(Clone, Debug, Default, Args)]
pub struct FallbackSettings {
    /// A public simple index to redirect clients to for projects the registry says do not
    /// exist (404 NAME_UNKNOWN), e.g. `https://pypi.org/simple/`. Off when unset. Projects
    /// the registry knows are never merged with it; any other registry error never falls
    /// back. See docs/fallback.md.
    #[arg(long, env = "PYOCI_FALLBACK_INDEX", value_name = "URL")]
    pub fallback_index: Option<BaseUrl>,

    /// The public index's JSON API base, e.g. `https://pypi.org/pypi/`: `/json` of a
    /// fallback project redirects to `<URL><project>/json`. Without it such a request gets 404.
    #[arg(long, env = "PYOCI_FALLBACK_JSON", value_name = "URL")]
    pub fallback_json: Option<BaseUrl>,

    /// Project names that never fall back, comma-separated, `*` matching any run of
    /// characters (e.g. `acme-*,internal-tools`); compared after PEP 503 normalization.
    #[arg(
        long,
        env = "PYOCI_PRIVATE_NAMES",
        value_name = "PATTERNS",
        default_value = ""
    )]
    pub private_names: NamePatterns,

    /// Registries (`host[:port]`, comma-separated) that answer 401/403 rather than 404 for a
    /// repository that does not exist (ghcr.io for anonymous pulls, Docker Hub, ACR, Quay,
    /// Google Artifact Registry): there a 401/403 falls back too. Off by default: it also
    /// sends names that exist but are refused to the public index (docs/fallback.md).
    #[arg(
        long,
        env = "PYOCI_FALLBACK_ON_DENIED",
        value_name = "HOSTS",
        value_delimiter = ','
    )]
    pub fallback_on_denied: Vec<String>,
}

/// An absolute http(s) URL used as a base: it always ends with `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// `<base><segment>/`.
    pub fn join_dir(&self, segment: &str) -> String {
        format!("{}{segment}/", self.0)
    }
}

impl FromStr for BaseUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        let uri: http::Uri = raw
            .parse()
            .map_err(|err| format!("`{raw}` is not a URL: {err}"))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => {
                return Err(format!(
                    "`{raw}` must be an absolute http:// or https:// URL"
                ))
            }
        }
        if uri.query().is_some()
            || raw.contains('#')
            || uri.authority().is_some_and(|a| a.as_str().contains('@'))
        {
            return Err(format!(
                "`{raw}` must be a plain base URL, without credentials, query or fragment"
            ));
        }
        let mut url = raw.to_owned();
        if !url.ends_with('/') {
            url.push('/');
        }
        Ok(BaseUrl(url))
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_end_with_a_slash_and_carry_no_credentials() {
        let url: BaseUrl = "https://pypi.org/simple".parse().unwrap();
        assert_eq!(
            url.join_dir("requests"),
            "https://pypi.org/simple/requests/"
        );
        assert!("https://user:pw@pypi.org/simple/"
            .parse::<BaseUrl>()
            .is_err());
        assert!("ftp://pypi.org/simple/".parse::<BaseUrl>().is_err());
        assert!("/simple/".parse::<BaseUrl>().is_err());
        assert!("https://pypi.org/simple/?x=1".parse::<BaseUrl>().is_err());
    }
}
