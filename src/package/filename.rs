use std::fmt;

use super::{NameError, PackageVersion, ProjectName, VersionError};

/// A wheel or sdist filename, split the way PyOCI stores it: the project, the version (the
/// tag) and the "architecture" (the index entry's `platform.architecture`).
///
/// Equality is THE rule for which spellings name the same file, used alike by download,
/// delete and yank (and upload's "already exists"): the name part compared PEP 503-normalized
/// (`HELLO_PROBE`, `hello.probe` and `Hello-Probe` are one project), the version exactly as
/// it normalizes to a tag (`1.0.0-RC1` is `1.0.0rc1`, but `1.0` is not `1.0.0`, although PEP
/// 440 calls them equal: they are different tags, so different files), and the rest of the
/// name (a wheel's tags) exactly.
#[derive(Clone, Debug)]
pub struct DistFilename {
    name: ProjectName,
    version: PackageVersion,
    kind: DistKind,
    architecture: String,
}

/// The kind of distribution a filename names (shared with the layer crates).
pub use pyoci_core::DistributionKind as DistKind;

/// A filename that is not a wheel or sdist PyOCI can store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilenameError {
    /// Neither `.whl` nor `.tar.gz`, or not shaped like one.
    NotADistribution(String),
    /// The name part is not a project name.
    Name(NameError),
    /// The version part is not a storable version.
    Version(VersionError),
    /// Longer than [`MAX_LEN`] bytes (as served, with the name and version normalized).
    TooLong(usize),
}

impl fmt::Display for FilenameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilenameError::NotADistribution(filename) => write!(
                f,
                "`{filename}` is not a wheel (`name-version-python-abi-platform.whl`) or an \
                 sdist (`name-version.tar.gz`) filename"
            ),
            FilenameError::Name(err) => write!(f, "bad project name in filename: {err}"),
            FilenameError::Version(err) => write!(f, "bad version in filename: {err}"),
            FilenameError::TooLong(length) => write!(
                f,
                "the filename is {length} bytes long; PyOCI stores file names of at most \
                 {MAX_LEN} bytes (what most file systems allow)"
            ),
        }
    }
}

impl std::error::Error for FilenameError {}

const WHEEL_SUFFIX: &str = ".whl";
const SDIST_SUFFIX: &str = ".tar.gz";
/// The longest filename stored or served, in bytes: installers save files under their name.
pub const MAX_LEN: usize = 255;

impl DistFilename {
    /// Parses an uploaded or requested filename.
    pub fn parse(filename: &str) -> Result<Self, FilenameError> {
        let not_a_distribution =
            || FilenameError::NotADistribution(filename.chars().take(MAX_LEN).collect());
        if filename.len() > MAX_LEN {
            return Err(FilenameError::TooLong(filename.len()));
        }
        if !filename.chars().all(is_filename_char) {
            return Err(not_a_distribution());
        }
        if let Some(stem) = filename.strip_suffix(WHEEL_SUFFIX) {
            let parts: Vec<&str> = stem.split('-').collect();
            if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
                return Err(not_a_distribution());
            }
            let (name, version) = (parts[0], parts[1]);
            let architecture = &filename[name.len() + version.len() + 2..];
            Self::new(name, version, DistKind::Wheel, architecture)
        } else if let Some(stem) = filename.strip_suffix(SDIST_SUFFIX) {
            // Old sdists kept `-` in the name; the version never holds one once normalized.
            let (name, version) = stem.rsplit_once('-').ok_or_else(not_a_distribution)?;
            Self::new(name, version, DistKind::Sdist, SDIST_SUFFIX)
        } else {
            Err(not_a_distribution())
        }
    }

    /// Rebuilds a filename from what a PyOCI index stores: the project, the version read from
    /// the tag and an entry's architecture. Fails for architectures that do not make a
    /// distribution filename (entries some other tool wrote), which a listing skips.
    pub fn from_stored(
        name: &ProjectName,
        version: &PackageVersion,
        architecture: &str,
    ) -> Result<Self, FilenameError> {
        let separator = if architecture == SDIST_SUFFIX {
            ""
        } else {
            "-"
        };
        let filename = format!("{}-{version}{separator}{architecture}", name.oci_name());
        let parsed = Self::parse(&filename)?;
        if parsed.architecture != architecture {
            return Err(FilenameError::NotADistribution(filename));
        }
        Ok(parsed)
    }

    fn new(
        name: &str,
        version: &str,
        kind: DistKind,
        architecture: &str,
    ) -> Result<Self, FilenameError> {
        let file = DistFilename {
            name: ProjectName::parse(name).map_err(FilenameError::Name)?,
            version: PackageVersion::parse(version).map_err(FilenameError::Version)?,
            kind,
            architecture: architecture.to_owned(),
        };
        // Normalizing can lengthen a version (`1.0a` -> `1.0a0`); the name PyOCI serves must
        // itself be a valid filename.
        let served = file.to_string();
        if served.len() > MAX_LEN {
            return Err(FilenameError::TooLong(served.len()));
        }
        Ok(file)
    }

    /// The project the file belongs to.
    pub fn name(&self) -> &ProjectName {
        &self.name
    }

    /// The file's version.
    pub fn version(&self) -> &PackageVersion {
        &self.version
    }

    /// Wheel or sdist.
    pub fn kind(&self) -> DistKind {
        self.kind
    }

    /// A wheel's Python tag (`py3`, `cp312`); `None` for an sdist.
    pub fn python_tag(&self) -> Option<&str> {
        let tags = self.architecture.strip_suffix(WHEEL_SUFFIX)?;
        let parts: Vec<&str> = tags.split('-').collect();
        // `[build-]python-abi-platform`
        parts.get(parts.len().checked_sub(3)?).copied()
    }

    /// What the index entry stores as `platform.architecture`: `.tar.gz` for an sdist, the
    /// part after `name-version-` for a wheel.
    pub fn architecture(&self) -> &str {
        &self.architecture
    }
}

impl PartialEq for DistFilename {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.version.tag() == other.version.tag()
            && self.architecture == other.architecture
    }
}

impl Eq for DistFilename {}

impl fmt::Display for DistFilename {
    /// The filename PyOCI serves: normalized name and version, the stored architecture.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let separator = if self.kind == DistKind::Sdist {
            ""
        } else {
            "-"
        };
        write!(
            f,
            "{}-{}{separator}{}",
            self.name.oci_name(),
            self.version,
            self.architecture
        )
    }
}

fn is_filename_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '!')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wheels() {
        let wheel = DistFilename::parse("hello_world-1.0.0-py3-none-any.whl").unwrap();
        assert_eq!(wheel.name().normalized(), "hello-world");
        assert_eq!(wheel.version().to_string(), "1.0.0");
        assert_eq!(wheel.kind(), DistKind::Wheel);
        assert_eq!(wheel.architecture(), "py3-none-any.whl");
        assert_eq!(wheel.to_string(), "hello_world-1.0.0-py3-none-any.whl");

        let built =
            DistFilename::parse("numpy-2.1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl").unwrap();
        assert_eq!(
            built.architecture(),
            "1-cp312-cp312-manylinux_2_17_x86_64.whl"
        );
        assert_eq!(wheel.python_tag(), Some("py3"));
        assert_eq!(built.python_tag(), Some("cp312"));
        let local = DistFilename::parse("torch-2.0+cpu-cp311-none-any.whl").unwrap();
        assert_eq!(local.version().tag(), "2.0-cpu");
    }

    #[test]
    fn parses_sdists() {
        let sdist = DistFilename::parse("hello_world-1.0.0.tar.gz").unwrap();
        assert_eq!(sdist.kind(), DistKind::Sdist);
        assert_eq!(sdist.architecture(), ".tar.gz");
        assert_eq!(sdist.python_tag(), None);
        let legacy = DistFilename::parse("Hello-World-2.0rc1.tar.gz").unwrap();
        assert_eq!(legacy.name().normalized(), "hello-world");
        assert_eq!(legacy.to_string(), "hello_world-2.0rc1.tar.gz");
    }

    #[test]
    fn refuses_what_is_not_a_distribution() {
        for filename in [
            "hello.zip",
            "hello-1.0.whl",
            "hello-1.0-py3-none.whl",
            "a-1-2-3-4-5-6.whl",
            "hello.tar.gz",
            "../hello-1.0.tar.gz",
            "hello-1.0-py3-none-any.whl/x",
            "hello-1.0-py3--any.whl",
            "",
        ] {
            assert!(
                matches!(
                    DistFilename::parse(filename),
                    Err(FilenameError::NotADistribution(_))
                ),
                "{filename}"
            );
        }
        assert!(matches!(
            DistFilename::parse("hello-1!1.0.tar.gz"),
            Err(FilenameError::Version(VersionError::Epoch(_)))
        ));
    }

    #[test]
    fn the_served_name_is_never_too_long() {
        // Found by the `filename` fuzz target: `a` normalizes to the longer `a0`.
        let name = "n".repeat(128);
        let release = format!("11{}", ".1".repeat(58));
        let at_limit = format!("{name}-{release}a.tar.gz");
        assert_eq!(at_limit.len(), MAX_LEN);
        assert_eq!(
            DistFilename::parse(&at_limit).unwrap_err(),
            FilenameError::TooLong(MAX_LEN + 1)
        );
        let longer = format!("{name}-{release}.{}.tar.gz", "1".repeat(200));
        assert_eq!(
            DistFilename::parse(&longer).unwrap_err().to_string(),
            format!(
                "the filename is {} bytes long; PyOCI stores file names of at most 255 bytes \
                 (what most file systems allow)",
                longer.len()
            )
        );
        let fits = format!("{name}-{release}a0.tar.gz");
        assert!(
            DistFilename::parse(&fits).is_err(),
            "one longer than the limit"
        );
        let fits = format!("{name}-{release}.tar.gz");
        let parsed = DistFilename::parse(&fits).unwrap();
        assert_eq!(DistFilename::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn spellings_name_the_same_file_by_normalized_name_and_exact_version() {
        let stored = DistFilename::parse("hello_probe-1.0.0.tar.gz").unwrap();
        for same in [
            "HELLO_PROBE-1.0.0.tar.gz",
            "hello.probe-1.0.0.tar.gz",
            "Hello-Probe-1.0.0.tar.gz",
            "hello__probe-1.0.0.tar.gz",
        ] {
            assert_eq!(DistFilename::parse(same).unwrap(), stored, "{same}");
        }
        for other in [
            "hello_probe-1.0.tar.gz",
            "hello_probe-1.0.0.0.tar.gz",
            "hello_probe-1.0.0-py3-none-any.whl",
            "helloprobe-1.0.0.tar.gz",
        ] {
            assert_ne!(DistFilename::parse(other).unwrap(), stored, "{other}");
        }
        // The version's spelling normalizes (as its tag does); a wheel's tags do not.
        assert_eq!(
            DistFilename::parse("Hello.Probe-1.0.0RC1.tar.gz").unwrap(),
            DistFilename::parse("hello_probe-1.0.0rc1.tar.gz").unwrap()
        );
        let wheel = DistFilename::parse("hello_probe-1.0.0-py3-none-any.whl").unwrap();
        assert_ne!(
            DistFilename::parse("hello_probe-1.0.0-PY3-none-any.whl").unwrap(),
            wheel
        );
    }

    #[test]
    fn rebuilds_stored_files() {
        let name = ProjectName::parse("hello-world").unwrap();
        let version = PackageVersion::from_tag("1.0-cpu").unwrap();
        let wheel = DistFilename::from_stored(&name, &version, "py3-none-any.whl").unwrap();
        assert_eq!(wheel.to_string(), "hello_world-1.0+cpu-py3-none-any.whl");
        let sdist = DistFilename::from_stored(&name, &version, ".tar.gz").unwrap();
        assert_eq!(sdist.to_string(), "hello_world-1.0+cpu.tar.gz");
        for foreign in ["amd64", "", "../x.whl", "py3-none-any.whl/../x"] {
            assert!(
                DistFilename::from_stored(&name, &version, foreign).is_err(),
                "{foreign}"
            );
        }
    }
}
