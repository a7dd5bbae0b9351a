//! Which `.dist-info/METADATA` of a wheel is the one.
//!
//! A wheel has exactly one `.dist-info` directory at its root. Installers check that its name
//! is the project's (pip compares normalized names only), so: with an expected release, the
//! directory whose project name matches wins, an exact version match settling any tie; with
//! none, a second directory is an error.

use crate::{ExpectedRelease, MetadataError};

/// The `.dist-info` directory whose `METADATA` is at `path`, when `path` is the metadata file
/// of a root-level `.dist-info` directory.
pub(crate) fn dist_info_dir(path: &str) -> Option<&str> {
    let dir = path.strip_suffix("/METADATA")?;
    let stem = dir.strip_suffix(".dist-info")?;
    (!stem.is_empty() && !dir.contains('/')).then_some(dir)
}

/// How well a `.dist-info` directory fits the expected release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fit {
    /// Another project.
    None,
    /// The project matches (or nothing was expected).
    Project,
    /// Project and version match.
    Exact,
}

/// What to do with a `.dist-info/METADATA` entry about to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Read its bytes: it may be the one.
    Collect(Fit),
    /// Skip it.
    Skip,
}

/// The metadata chosen so far, across the wheel's entries.
#[derive(Debug)]
pub(crate) struct Selection {
    expected: Option<ExpectedRelease>,
    best: Option<(Fit, Vec<u8>)>,
    /// The first directory seen, to name when a second one appears.
    first_dir: Option<String>,
    /// A directory for another project, to name when nothing matches.
    mismatched: Option<String>,
}

impl Selection {
    pub(crate) fn new(expected: Option<ExpectedRelease>) -> Self {
        Self {
            expected,
            best: None,
            first_dir: None,
            mismatched: None,
        }
    }

    /// Decides about the metadata file of directory `dir`, before its data is read.
    pub(crate) fn classify(&mut self, dir: &str) -> Result<Decision, MetadataError> {
        let Some(expected) = &self.expected else {
            if let Some(first) = &self.first_dir {
                return Err(MetadataError::MultipleDistInfo {
                    first: first.clone(),
                    second: dir.to_owned(),
                });
            }
            self.first_dir = Some(dir.to_owned());
            return Ok(Decision::Collect(Fit::Project));
        };
        let fit = fit(dir, expected);
        if fit == Fit::None {
            self.mismatched.get_or_insert_with(|| dir.to_owned());
            return Ok(Decision::Skip);
        }
        let best_fit = self.best.as_ref().map_or(Fit::None, |(fit, _)| *fit);
        Ok(if fit > best_fit {
            Decision::Collect(fit)
        } else {
            Decision::Skip
        })
    }

    /// Takes a collected metadata file; returns it when it settles the choice.
    pub(crate) fn accept(&mut self, fit: Fit, bytes: Vec<u8>) -> Option<Vec<u8>> {
        if fit == Fit::Exact {
            return Some(bytes);
        }
        self.best = Some((fit, bytes));
        None
    }

    /// The best metadata found so far, if any.
    pub(crate) fn take_best(&mut self) -> Option<Vec<u8>> {
        self.best.take().map(|(_, bytes)| bytes)
    }

    /// The choice once every entry has been seen.
    pub(crate) fn finish(mut self) -> Result<Option<Vec<u8>>, MetadataError> {
        if let Some(bytes) = self.take_best() {
            return Ok(Some(bytes));
        }
        match (self.mismatched, self.expected) {
            (Some(found), Some(expected)) => Err(MetadataError::DistInfoMismatch {
                found,
                expected: expected.name,
            }),
            _ => Ok(None),
        }
    }
}

/// How well `dir` (`<name>-<version>.dist-info`) fits `expected`.
fn fit(dir: &str, expected: &ExpectedRelease) -> Fit {
    let stem = dir.strip_suffix(".dist-info").unwrap_or(dir);
    let (name, version) = stem.split_once('-').unwrap_or((stem, ""));
    if normalize_name(name) != normalize_name(&expected.name) {
        Fit::None
    } else if normalize_version(version) == normalize_version(&expected.version) {
        Fit::Exact
    } else {
        Fit::Project
    }
}

/// PEP 503 normalization, as everywhere in PyOCI.
fn normalize_name(name: &str) -> String {
    pyoci_core::normalize_project_name(name)
}

/// Versions in wheel filenames and directory names have `-` escaped as `_`.
fn normalize_version(version: &str) -> String {
    version.to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_root_dist_info_metadata_only() {
        assert_eq!(
            dist_info_dir("hello_pyoci-1.0.dist-info/METADATA"),
            Some("hello_pyoci-1.0.dist-info")
        );
        assert_eq!(dist_info_dir("x/hello-1.0.dist-info/METADATA"), None);
        assert_eq!(dist_info_dir("hello-1.0.dist-info/RECORD"), None);
        assert_eq!(dist_info_dir("hello-1.0.data/METADATA"), None);
        assert_eq!(dist_info_dir(".dist-info/METADATA"), None);
        assert_eq!(dist_info_dir("hello-1.0.dist-info/metadata"), None);
    }

    #[test]
    fn fits_by_normalized_name_then_version() {
        let expected = ExpectedRelease::new("Hello.PyOCI", "1.0rc1");
        assert_eq!(fit("hello_pyoci-1.0rc1.dist-info", &expected), Fit::Exact);
        assert_eq!(fit("HELLO__pyoci-1.0RC1.dist-info", &expected), Fit::Exact);
        assert_eq!(fit("hello_pyoci-1.0.dist-info", &expected), Fit::Project);
        assert_eq!(fit("hello_world-1.0rc1.dist-info", &expected), Fit::None);
        assert_eq!(fit("hellopyoci-1.0rc1.dist-info", &expected), Fit::None);
    }

    #[test]
    fn without_expectation_a_second_directory_is_an_error() {
        let mut selection = Selection::new(None);
        assert_eq!(
            selection.classify("a-1.dist-info").unwrap(),
            Decision::Collect(Fit::Project)
        );
        assert_eq!(
            selection.classify("b-1.dist-info").unwrap_err(),
            MetadataError::MultipleDistInfo {
                first: "a-1.dist-info".into(),
                second: "b-1.dist-info".into()
            }
        );
    }

    #[test]
    fn with_expectation_the_matching_directory_wins() {
        let mut selection = Selection::new(Some(ExpectedRelease::new("b", "2")));
        assert_eq!(selection.classify("a-2.dist-info").unwrap(), Decision::Skip);
        assert_eq!(
            selection.classify("b-1.dist-info").unwrap(),
            Decision::Collect(Fit::Project)
        );
        assert_eq!(selection.accept(Fit::Project, b"b1".to_vec()), None);
        assert_eq!(selection.classify("b-1.dist-info").unwrap(), Decision::Skip);
        assert_eq!(
            selection.classify("b-2.dist-info").unwrap(),
            Decision::Collect(Fit::Exact)
        );
        assert_eq!(
            selection.accept(Fit::Exact, b"b2".to_vec()),
            Some(b"b2".to_vec())
        );
    }

    #[test]
    fn a_project_match_is_kept_until_the_end() {
        let mut selection = Selection::new(Some(ExpectedRelease::new("b", "2")));
        selection.classify("b-1.dist-info").unwrap();
        selection.accept(Fit::Project, b"b1".to_vec());
        assert_eq!(selection.finish().unwrap(), Some(b"b1".to_vec()));
    }

    #[test]
    fn only_other_projects_is_a_mismatch() {
        let mut selection = Selection::new(Some(ExpectedRelease::new("b", "2")));
        selection.classify("a-2.dist-info").unwrap();
        assert_eq!(
            selection.finish().unwrap_err(),
            MetadataError::DistInfoMismatch {
                found: "a-2.dist-info".into(),
                expected: "b".into()
            }
        );
    }

    #[test]
    fn nothing_found_is_none() {
        assert_eq!(Selection::new(None).finish().unwrap(), None);
    }
}
