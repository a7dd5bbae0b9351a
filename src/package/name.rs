use std::fmt;

/// A Python project name, valid per the core metadata spec
/// (`^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProjectName {
    normalized: String,
}

/// A project name that cannot be a Python project name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Characters or edges the core metadata spec does not allow (the name, cut short).
    Invalid(String),
    /// Longer than PyOCI takes (its first characters, its length in bytes).
    TooLong(String, usize),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Invalid(name) => write!(
                f,
                "`{name}` is not a valid Python project name: use letters, digits, `.`, `_` \
                 and `-`, starting and ending with a letter or digit"
            ),
            NameError::TooLong(start, length) => write!(
                f,
                "the project name `{start}…` is {length} characters long; PyOCI takes names of \
                 at most {} characters (OCI repository path components are limited too)",
                ProjectName::MAX_LEN
            ),
        }
    }
}

impl std::error::Error for NameError {}

impl ProjectName {
    /// Longest name accepted; OCI repository path components are limited too.
    pub const MAX_LEN: usize = 128;

    /// Validates `name` and normalizes it (PEP 503: runs of `-_.` become `-`, lowercase).
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let valid_edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if name.len() > Self::MAX_LEN {
            let start = name.chars().take(32).collect();
            return Err(NameError::TooLong(start, name.chars().count()));
        }
        let valid = !name.is_empty()
            && valid_edge(name.chars().next())
            && valid_edge(name.chars().last())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(NameError::Invalid(
                name.chars().take(Self::MAX_LEN).collect(),
            ));
        }
        // The one PEP 503 normalization the index pages use too.
        let normalized = pyoci_core::normalize_project_name(name);
        Ok(ProjectName { normalized })
    }

    /// The PEP 503 normalized name, as used in index URLs (`hello-world`).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The last component of the OCI repository and the name part of rebuilt filenames
    /// (`hello_world`), as the original PyOCI writes them.
    pub fn oci_name(&self) -> String {
        self.normalized.replace('-', "_")
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        for (raw, normalized) in [
            ("Hello_World", "hello-world"),
            ("hello.world", "hello-world"),
            ("hello--_.World", "hello-world"),
            ("a", "a"),
            ("PyOCI", "pyoci"),
        ] {
            assert_eq!(ProjectName::parse(raw).unwrap().normalized(), normalized);
        }
        assert_eq!(
            ProjectName::parse("Hello.World").unwrap().oci_name(),
            "hello_world"
        );
    }

    /// Project pages (pyoci-index) and stored names (here) normalize with one function.
    #[test]
    fn normalizes_as_the_index_pages_do() {
        for raw in ["Hello_World", "a.-_b", "PyOCI", "x"] {
            assert_eq!(
                ProjectName::parse(raw).unwrap().normalized(),
                pyoci_index::normalize_project_name(raw)
            );
        }
    }

    #[test]
    fn refuses_invalid_names() {
        for raw in ["", "-a", "a-", "a b", "a/b", "ä", ".."] {
            let err = ProjectName::parse(raw).unwrap_err();
            assert!(err.to_string().contains("not a valid Python project name"));
        }
    }

    /// A name too long is told so, with the limit, not that it is malformed.
    #[test]
    fn a_name_too_long_is_told_its_limit() {
        assert!(ProjectName::parse(&"a".repeat(128)).is_ok());
        let err = ProjectName::parse(&"a".repeat(129))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is 129 characters long"), "{err}");
        assert!(err.contains("at most 128 characters"), "{err}");
        assert!(!err.contains("not a valid"), "{err}");
    }
}
