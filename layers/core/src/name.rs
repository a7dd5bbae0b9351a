//! PEP 503 project name normalization, the one copy every crate uses.

/// A project name normalized as PEP 503 says, `re.sub(r"[-_.]+", "-", name).lower()`: each
/// run of `-`, `_` and `.` becomes one `-`, and letters become lowercase the way Python's
/// `str.lower()` does it (Unicode, so a non-ASCII name normalizes as pip would normalize it;
/// valid project names are ASCII, where this is plain ASCII lowercasing).
///
/// ```
/// assert_eq!(pyoci_core::normalize_project_name("Foo.Bar__baz"), "foo-bar-baz");
/// ```
pub fn normalize_project_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !in_separator_run {
                normalized.push('-');
            }
            in_separator_run = true;
        } else {
            normalized.extend(character.to_lowercase());
            in_separator_run = false;
        }
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize_project_name("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(normalize_project_name("a-_.-b"), "a-b");
        assert_eq!(normalize_project_name("requests"), "requests");
        assert_eq!(normalize_project_name("_Leading.."), "-leading-");
        // Python: "Ärger_Ä".lower() == "ärger_ä"
        assert_eq!(normalize_project_name("Ärger_Ä"), "ärger-ä");
    }
}
