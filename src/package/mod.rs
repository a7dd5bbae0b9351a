//! Python packaging names as they map onto OCI names: project names, versions and
//! distribution filenames. Pure parsers, so unit tests and fuzz targets call them directly.
//!
//! The mapping is the compatibility contract with the original PyOCI
//! (`docs/oci-layout.md`): repository `<namespace>/<project with - as _>`,
//! tag `<normalized version with + as ->`, and per file an "architecture" that is the
//! filename after `<name>-<version>`.

mod filename;
mod name;
mod version;

pub use filename::{DistFilename, DistKind, FilenameError};
pub use name::{NameError, ProjectName};
pub use version::{PackageVersion, VersionError};
