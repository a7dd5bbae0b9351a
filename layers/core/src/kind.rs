//! The two kinds of Python distribution file PyOCI stores.

/// The kind of distribution file, which decides the archive format and where its core
/// metadata is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistributionKind {
    /// A wheel (`.whl`, a zip archive): metadata at `<name>-<version>.dist-info/METADATA`.
    Wheel,
    /// A source distribution (`.tar.gz`): metadata at `<top-level directory>/PKG-INFO`.
    Sdist,
}

impl DistributionKind {
    /// The kind of the file named `filename`, judged by its extension; `None` for formats
    /// PyOCI does not store (legacy `.zip` or `.tar.bz2` sdists, eggs).
    pub fn from_filename(filename: &str) -> Option<Self> {
        let lower = filename.to_ascii_lowercase();
        if lower.ends_with(".whl") {
            Some(Self::Wheel)
        } else if lower.ends_with(".tar.gz") {
            Some(Self::Sdist)
        } else {
            None
        }
    }
}
