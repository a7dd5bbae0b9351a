//! What the tap is told about the file it reads.

pub use pyoci_core::DistributionKind;

/// The project and version the file claims to be (from its filename), used to pick the right
/// `.dist-info` directory of a wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRelease {
    /// The project name, in any spelling (it is compared PEP 503-normalized).
    pub name: String,
    /// The version, as in the filename.
    pub version: String,
}

impl ExpectedRelease {
    /// The release `name` `version`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
        }
    }
}

/// Bounds on the work and memory one tap may spend.
///
/// When a bound is hit the tap stops extracting and reports an error result; the upload
/// itself goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataLimits {
    /// The largest metadata file kept, in bytes (default 10 MiB).
    pub max_metadata_size: usize,
    /// The most bytes decompressed while looking for the metadata, counting entries inflated
    /// only to find where they end (default 4 GiB). Guards against decompression bombs.
    pub max_inflated_size: u64,
}

impl Default for MetadataLimits {
    fn default() -> Self {
        Self {
            max_metadata_size: 10 * 1024 * 1024,
            max_inflated_size: 4 * 1024 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_filename() {
        assert_eq!(
            DistributionKind::from_filename("hello_pyoci-1.0-py3-none-any.whl"),
            Some(DistributionKind::Wheel)
        );
        assert_eq!(
            DistributionKind::from_filename("hello_pyoci-1.0.TAR.GZ"),
            Some(DistributionKind::Sdist)
        );
        assert_eq!(DistributionKind::from_filename("hello-1.0.zip"), None);
        assert_eq!(DistributionKind::from_filename("hello-1.0.tar.bz2"), None);
    }
}
