//! `DistFilename::parse` and `ProjectName::parse` on raw strings and on filenames assembled from
//! arbitrary parts (so that most inputs get past the shape check).
//!
//! Properties, for every filename that parses:
//! - the filename PyOCI serves (`to_string`) parses back to the same name, version, kind and
//!   architecture;
//! - `from_stored(name, version, architecture)` rebuilds the same file;
//! - the version survives version -> tag -> `from_tag`;
//! - the normalized and the OCI form of the name parse to the same name.

use arbitrary::Arbitrary;
use pyoci::package::{DistFilename, PackageVersion, ProjectName};

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub raw: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub build: Option<&'a str>,
    pub python: &'a str,
    pub abi: &'a str,
    pub platform: &'a str,
    /// Extra `x`s on the platform tag, so that filenames near the length limit are common.
    pub platform_padding: u8,
    pub sdist: bool,
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    check_filename(input.raw);
    check_name(input.raw);
    check_name(input.name);

    let assembled = if input.sdist {
        format!("{}-{}.tar.gz", input.name, input.version)
    } else {
        let build = input.build.map(|b| format!("{b}-")).unwrap_or_default();
        let padding = "x".repeat(usize::from(input.platform_padding));
        format!(
            "{}-{}-{build}{}-{}-{}{padding}.whl",
            input.name, input.version, input.python, input.abi, input.platform
        )
    };
    check_filename(&assembled);
}

fn check_filename(filename: &str) {
    let Ok(parsed) = DistFilename::parse(filename) else {
        return;
    };
    let served = parsed.to_string();
    match DistFilename::parse(&served) {
        Ok(reparsed) => assert_same(&parsed, &reparsed, "parse(to_string())"),
        Err(error) => {
            panic!("{filename:?} parsed, but its served form {served:?} does not: {error}")
        }
    }
    match DistFilename::from_stored(parsed.name(), parsed.version(), parsed.architecture()) {
        Ok(stored) => assert_same(&parsed, &stored, "from_stored"),
        Err(error) => panic!("{filename:?} parsed, but from_stored of its parts fails: {error}"),
    }
    let tag = parsed.version().tag();
    assert_eq!(
        PackageVersion::from_tag(&tag).as_ref(),
        Some(parsed.version()),
        "version of {filename:?} does not survive its tag {tag:?}"
    );
    assert_name_is_stable(parsed.name());
}

fn check_name(raw: &str) {
    if let Ok(name) = ProjectName::parse(raw) {
        assert_name_is_stable(&name);
    }
}

fn assert_name_is_stable(name: &ProjectName) {
    assert_eq!(
        ProjectName::parse(name.normalized()).as_ref(),
        Ok(name),
        "normalized name does not parse to itself"
    );
    assert_eq!(
        ProjectName::parse(&name.oci_name()).as_ref(),
        Ok(name),
        "OCI name does not parse to the same name"
    );
}

fn assert_same(expected: &DistFilename, actual: &DistFilename, how: &str) {
    assert_eq!(expected.name(), actual.name(), "{how}: name differs");
    assert_eq!(
        expected.version(),
        actual.version(),
        "{how}: version differs"
    );
    assert_eq!(
        expected.architecture(),
        actual.architecture(),
        "{how}: architecture differs"
    );
    assert_eq!(expected.kind(), actual.kind(), "{how}: kind differs");
}
