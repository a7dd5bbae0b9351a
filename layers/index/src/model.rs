//! What a simple-repository page says, independent of its format.

/// Whether a file is yanked (PEP 592): installers skip a yanked file unless it is pinned exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Yanked {
    /// The file is available.
    #[default]
    No,
    /// The file is yanked, without a reason given.
    Yes,
    /// The file is yanked for the given reason (shown to users by pip and uv).
    WithReason(String),
}

/// One downloadable file on a project page.
///
/// Optional facts are rendered only when known. Build with [`DistributionFile::new`] and the
/// `with_*` methods, or fill the public fields directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionFile {
    /// The file's name, e.g. `demo-1.0-py3-none-any.whl` (also the anchor text in HTML).
    pub filename: String,
    /// Where the file is downloaded from, absolute or relative to the page, without fragment.
    pub url: String,
    /// The file's SHA-256, lowercase hex.
    pub sha256: Option<String>,
    /// The file's `Requires-Python` specifier, e.g. `>=3.8` (an empty string counts as unknown).
    pub requires_python: Option<String>,
    /// SHA-256 (hex) of the core metadata served at `<url>.metadata` (PEP 658/714).
    pub core_metadata_sha256: Option<String>,
    /// Whether the file is yanked.
    pub yanked: Yanked,
    /// The file's size in bytes.
    pub size: Option<u64>,
    /// When the file was uploaded, formatted `yyyy-mm-ddThh:mm:ss.ffffffZ`.
    pub upload_time: Option<String>,
}

impl DistributionFile {
    /// A file known only by its name and URL.
    pub fn new(filename: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            filename: filename.into(),
            url: url.into(),
            sha256: None,
            requires_python: None,
            core_metadata_sha256: None,
            yanked: Yanked::No,
            size: None,
            upload_time: None,
        }
    }

    /// Sets the file's SHA-256 (lowercase hex).
    pub fn with_sha256(mut self, hex: impl Into<String>) -> Self {
        self.sha256 = Some(hex.into());
        self
    }

    /// Sets the `Requires-Python` specifier.
    pub fn with_requires_python(mut self, specifier: impl Into<String>) -> Self {
        self.requires_python = Some(specifier.into());
        self
    }

    /// Sets the SHA-256 (hex) of the file's core metadata, announcing `<url>.metadata`.
    pub fn with_core_metadata_sha256(mut self, hex: impl Into<String>) -> Self {
        self.core_metadata_sha256 = Some(hex.into());
        self
    }

    /// Sets whether the file is yanked.
    pub fn with_yanked(mut self, yanked: Yanked) -> Self {
        self.yanked = yanked;
        self
    }

    /// Sets the file's size in bytes.
    pub fn with_size(mut self, bytes: u64) -> Self {
        self.size = Some(bytes);
        self
    }

    /// Sets the upload time, already formatted `yyyy-mm-ddThh:mm:ss.ffffffZ`.
    pub fn with_upload_time(mut self, timestamp: impl Into<String>) -> Self {
        self.upload_time = Some(timestamp.into());
        self
    }

    /// The `Requires-Python` specifier, unless unknown or empty.
    pub(crate) fn known_requires_python(&self) -> Option<&str> {
        self.requires_python
            .as_deref()
            .filter(|spec| !spec.is_empty())
    }
}

/// A project's page: its files and versions.
///
/// A handler puts one in the response extensions (with an empty body) for
/// [`RenderIndexLayer`](crate::RenderIndexLayer) to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPage {
    /// The project's name (JSON renders its normalized form, as PEP 691 requires).
    pub name: String,
    /// The project's files, in the order they should be listed.
    pub files: Vec<DistributionFile>,
    /// The project's versions (PEP 700), JSON only.
    pub versions: Vec<String>,
}

impl ProjectPage {
    /// A page listing `files`, with no versions.
    pub fn new(name: impl Into<String>, files: Vec<DistributionFile>) -> Self {
        Self {
            name: name.into(),
            files,
            versions: Vec::new(),
        }
    }

    /// Sets the project's versions.
    pub fn with_versions(mut self, versions: Vec<String>) -> Self {
        self.versions = versions;
        self
    }
}

/// The index's root page: every project.
///
/// A handler puts one in the response extensions (with an empty body) for
/// [`RenderIndexLayer`](crate::RenderIndexLayer) to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectList {
    /// The projects' names, in the order they should be listed.
    pub projects: Vec<String>,
}

impl ProjectList {
    /// A list of `projects`.
    pub fn new(projects: Vec<String>) -> Self {
        Self { projects }
    }
}

pub use pyoci_core::normalize_project_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_fills_the_optional_facts() {
        let file = DistributionFile::new("demo-1.0.tar.gz", "files/demo-1.0.tar.gz")
            .with_sha256("ab")
            .with_requires_python(">=3.8")
            .with_core_metadata_sha256("cd")
            .with_yanked(Yanked::Yes)
            .with_size(10)
            .with_upload_time("2026-01-02T03:04:05.000000Z");
        assert_eq!(file.sha256.as_deref(), Some("ab"));
        assert_eq!(file.known_requires_python(), Some(">=3.8"));
        assert_eq!(file.core_metadata_sha256.as_deref(), Some("cd"));
        assert_eq!(file.yanked, Yanked::Yes);
        assert_eq!(file.size, Some(10));
        assert_eq!(
            file.upload_time.as_deref(),
            Some("2026-01-02T03:04:05.000000Z")
        );
    }

    #[test]
    fn empty_requires_python_counts_as_unknown() {
        let file = DistributionFile::new("a", "b").with_requires_python("");
        assert_eq!(file.known_requires_python(), None);
    }
}
