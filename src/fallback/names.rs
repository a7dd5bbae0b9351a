//! `PYOCI_PRIVATE_NAMES`: project name patterns that never fall back.

use std::{convert::Infallible, str::FromStr};

use crate::package::ProjectName;

/// Comma-separated patterns; `*` matches any run of characters. Each pattern is normalized
/// as PEP 503 normalizes names (lowercase, runs of `-_.` as one `-`), so `Acme_*` and
/// `acme-*` are the same pattern and both match `ACME.tools`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamePatterns(Vec<String>);

impl NamePatterns {
    /// Whether `name` matches any pattern.
    pub fn matches(&self, name: &ProjectName) -> bool {
        self.0
            .iter()
            .any(|pattern| glob_matches(pattern.as_bytes(), name.normalized().as_bytes()))
    }
}

impl FromStr for NamePatterns {
    type Err = Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(NamePatterns(
            raw.split(',')
                .map(str::trim)
                .filter(|pattern| !pattern.is_empty())
                .map(normalize_pattern)
                .collect(),
        ))
    }
}

/// PEP 503 normalization of a pattern, keeping its `*`s.
fn normalize_pattern(pattern: &str) -> String {
    let mut normalized = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normalized.ends_with('-') {
                normalized.push('-');
            }
        } else {
            normalized.extend(c.to_lowercase());
        }
    }
    normalized
}

/// `*`-only glob matching, iterative with one backtrack point (linear for these patterns).
fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(patterns: &str, name: &str) -> bool {
        let patterns: NamePatterns = patterns.parse().unwrap();
        patterns.matches(&ProjectName::parse(name).unwrap())
    }

    #[test]
    fn patterns_match_normalized_names() {
        assert!(matches("acme-*,internal-tools", "acme-core"));
        assert!(matches("acme-*,internal-tools", "Acme_Core"));
        assert!(matches("acme-*,internal-tools", "ACME.core.extra"));
        assert!(matches("acme-*,internal-tools", "internal_tools"));
        assert!(!matches("acme-*,internal-tools", "acme"));
        assert!(!matches("acme-*,internal-tools", "acmecore"));
        assert!(!matches("acme-*,internal-tools", "internal-tools-2"));
        assert!(matches("Acme_*", "acme-x"));
        assert!(matches("*-internal", "tools-internal"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("*", "anything"));
        assert!(!matches("", "anything"));
    }
}
