//! `PackageVersion::{parse, tag, from_tag}` on raw strings.
//!
//! Properties: a parsed version survives version -> tag -> `from_tag`, its tag is a valid OCI
//! tag, and its normalized form parses to the same version; a tag `from_tag` accepts is exactly
//! the tag of the version it returns.

use pyoci::package::PackageVersion;

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(raw: &str) {
    if let Ok(version) = PackageVersion::parse(raw) {
        let tag = version.tag();
        assert!(
            is_oci_tag(&tag),
            "{raw:?} gives {tag:?}, which is not an OCI tag"
        );
        assert_eq!(
            PackageVersion::from_tag(&tag).as_ref(),
            Some(&version),
            "{raw:?} does not survive its tag {tag:?}"
        );
        assert_eq!(
            PackageVersion::parse(&version.to_string()).as_ref(),
            Ok(&version),
            "the normalized form of {raw:?} parses to another version"
        );
    }
    if let Some(version) = PackageVersion::from_tag(raw) {
        assert_eq!(
            version.tag(),
            raw,
            "from_tag accepted a tag it would not write"
        );
    }
}

/// OCI distribution: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
fn is_oci_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    first_ok
        && tag.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
