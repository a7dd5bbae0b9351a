use std::fmt;

/// A Python project name, valid per the core metadata spec
/// (`^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProjectName {
    normalized: String,
}

/// A project name that cannot be a Python project name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a valid Python project name: use letters, digits, `.`, `_` and `-`, \
             starting and ending with a letter or digit",
            self.0
        )
    }
}

impl std::error::Error for NameError {}

impl ProjectName {
    /// Longest name accepted; OCI repository path components are limited too.
    const MAX_LEN: usize = 128;

    /// Validates `name` and normalizes it (PEP 503: runs of `-_.` become `-`, lowercase).
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let valid_edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && valid_edge(name.chars().next())
            && valid_edge(name.chars().last())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(NameError(name.chars().take(Self::MAX_LEN).collect()));
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
        for raw in ["", "-a", "a-", "a b", "a/b", "ä", "..", &"a".repeat(129)] {
            let err = ProjectName::parse(raw).unwrap_err();
            assert!(err.to_string().contains("not a valid Python project name"));
        }
    }
}
