//! Validation of repository names and references, so that nothing but spec-conforming
//! names ever ends up in a registry URL.

use crate::{Digest, OciError};

/// The distribution spec's limit on a tag's length.
const TAG_MAX_LEN: usize = 128;
/// Registries refuse longer repository names (the spec bounds host + name to 255).
const REPOSITORY_MAX_LEN: usize = 255;

/// Lowercases a repository name and checks it against the distribution spec grammar:
/// `/`-separated components of `[a-z0-9]` runs joined by `.`, `_`, `__` or dashes.
pub fn normalize_repository(name: &str) -> Result<String, OciError> {
    let lower = name.to_ascii_lowercase();
    let invalid = |reason: &str| {
        OciError::InvalidInput(format!(
            "invalid repository name {:?}: {reason}",
            name.chars().take(80).collect::<String>()
        ))
    };
    if lower.is_empty() {
        return Err(invalid("it is empty"));
    }
    if lower.len() > REPOSITORY_MAX_LEN {
        return Err(invalid("it is longer than 255 characters"));
    }
    if !lower.split('/').all(is_valid_component) {
        return Err(invalid(
            "each /-separated part must be lowercase letters and digits, joined by '.', '_', '__' or '-'",
        ));
    }
    Ok(lower)
}

fn is_valid_component(component: &str) -> bool {
    let is_alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let starts_and_ends_alphanumeric =
        component.starts_with(is_alphanumeric) && component.ends_with(is_alphanumeric);
    starts_and_ends_alphanumeric
        && component
            .split(is_alphanumeric)
            .all(|separator| matches!(separator, "" | "." | "_" | "__") || is_dashes(separator))
}

fn is_dashes(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b == b'-')
}

/// Checks a tag against `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), OciError> {
    let is_tag_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    let valid = tag.len() <= TAG_MAX_LEN
        && tag.bytes().all(is_tag_char)
        && tag
            .bytes()
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric() || first == b'_');
    if valid {
        Ok(())
    } else {
        Err(OciError::InvalidInput(format!(
            "invalid tag {:?}: a tag is 1 to 128 letters, digits, '_', '.' or '-', \
             not starting with '.' or '-'",
            tag.chars().take(80).collect::<String>()
        )))
    }
}

/// Checks a manifest reference: a tag, or a digest when it contains `:`.
pub(crate) fn validate_reference(reference: &str) -> Result<(), OciError> {
    if reference.contains(':') {
        Digest::parse(reference).map(drop)
    } else {
        validate_tag(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_lowercased_and_validated() {
        assert_eq!(
            normalize_repository("Acme/Team1/Hello_World").unwrap(),
            "acme/team1/hello_world"
        );
        for good in ["a", "a/b", "a.b/c__d/e---f", "0/1-2", "acme/hello_world"] {
            assert_eq!(normalize_repository(good).unwrap(), good);
        }
        for bad in [
            "", "/a", "a/", "a//b", "-a", "a-", "a..b", "a___b", "a._b", "a_-b", "a b", "a/../b",
            "a?b", "a%2fb", "é",
        ] {
            let error = normalize_repository(bad).expect_err(bad);
            assert!(matches!(error, OciError::InvalidInput(_)), "{bad}");
        }
        assert!(normalize_repository(&"a".repeat(256)).is_err());
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        for good in ["1.0.0", "1.0.0-local", "_x", "A", &"a".repeat(128)] {
            assert!(validate_tag(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".1",
            "-1",
            "1.0.0+local",
            "a/b",
            "a:b",
            &"a".repeat(129),
        ] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_are_tags_or_digests() {
        assert!(validate_reference("1.0").is_ok());
        assert!(validate_reference(
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        )
        .is_ok());
        assert!(validate_reference("sha256:abc").is_err());
    }
}
