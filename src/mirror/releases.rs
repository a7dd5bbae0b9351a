//! A mirrored project's releases in one listing: what of it the registry keeps, and the
//! public index's files the cooldown lets through. The simple page, the JSON API (`/json`,
//! which Renovate reads for versions, upload times and yanks) and the page for people
//! (`+about`) are all built from it.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::SystemTime,
};

use pyoci_index::Yanked;

use super::{
    public::{CoreMetadataHint, PublicError, PublicFile},
    Mirror,
};
use crate::{
    error::Error,
    package::{DistFilename, PackageVersion, ProjectName},
    route::Target,
    store::{Release, Repository, Store, StoredFile},
};

/// A mirrored project's releases, newest first, kept files and public ones together.
pub struct MirroredReleases {
    pub releases: Vec<Release>,
    /// The public index's spelling of each public file whose name PyOCI would write
    /// otherwise (`PyYAML-6.0.tar.gz`), by the name PyOCI writes: a file not kept yet is
    /// downloaded under the name the public page gives it.
    public_spellings: HashMap<String, String>,
    /// The sha256 of the core metadata (PEP 658) the public index serves for each public
    /// wheel not kept yet, by the name PyOCI writes: passed on until the wheel is kept.
    public_metadata: HashMap<String, String>,
}

impl MirroredReleases {
    /// The sha256 of `file`'s core metadata as a simple page names it: the kept file's own,
    /// else the public index's for a file not kept yet.
    pub fn core_metadata_sha256(&self, file: &StoredFile) -> Option<String> {
        file.core_metadata_sha256.clone().or_else(|| {
            self.public_metadata
                .get(&file.filename.to_string())
                .cloned()
        })
    }

    /// The name `file` is listed and downloaded under.
    pub fn served_name(&self, file: &StoredFile) -> String {
        let written = file.filename.to_string();
        match self.public_spellings.get(&written) {
            Some(spelling) => spelling.clone(),
            None => written,
        }
    }
}

impl Mirror {
    /// The namespace where the mirror keeps what it fetched.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The releases of `repository`'s project, which the registry does not have in the
    /// caller's namespace: what the mirror keeps (read with the caller's credentials, so the
    /// registry's refusal is theirs) and the public files the cooldown shows (read with
    /// none). When the public index fails, what is kept, with a warning; when nothing is
    /// kept either, that failure.
    pub async fn releases(
        &self,
        store: &Arc<Store>,
        target: &Target,
        repository: &Repository,
    ) -> Result<MirroredReleases, Error> {
        let name = repository.name();
        let mirrored = self.mirrored(store, target, repository);
        let kept = match mirrored.releases(store.caches().snapshot()).await {
            Ok(releases) => releases,
            // Nothing of the project is mirrored yet.
            Err(Error::NotFound(_)) => Vec::new(),
            Err(refused) => return Err(refused),
        };
        let nothing_kept = kept.iter().all(|release| release.files.is_empty());
        let public = self.public.project(name).await;
        let public_files = match &public {
            Ok(Some(project)) => project.files.as_slice(),
            Ok(None) if nothing_kept => {
                return Err(Error::NotFound(format!(
                    "no project `{name}`: neither the registry nor the public index has it"
                )))
            }
            Ok(None) => &[],
            Err(err) if nothing_kept => return Err(public_index_failed(name, err)),
            Err(err) => {
                self.metrics
                    .count_mirror(pyoci_metrics::MirrorEvent::IndexDown);
                tracing::warn!(
                    project = %name,
                    error = %err,
                    "the public index failed: the mirrored files only, the listing may be incomplete"
                );
                &[]
            }
        };
        let now = SystemTime::now();
        let shown = |file: &PublicFile| {
            !self
                .cooldown
                .hides(name, &file.filename, file.upload_time, now)
        };
        Ok(merge(name, kept, public_files, shown))
    }
}

fn public_index_failed(name: &ProjectName, err: &PublicError) -> Error {
    Error::PublicIndex(format!(
        "project `{name}` is not in the registry and the public index failed: {err}. Try \
         again later"
    ))
}

/// `kept` releases (newest first) with the `public` files `shown` lets through, grouped by
/// version, newest first. A kept file wins over the public file of the same name (it is what
/// downloads serve). Public files that are not distributions of `name` are left out: PyOCI
/// would refuse to download them.
fn merge(
    name: &ProjectName,
    kept: Vec<Release>,
    public: &[PublicFile],
    shown: impl Fn(&PublicFile) -> bool,
) -> MirroredReleases {
    let mut listed: HashSet<String> = HashSet::new();
    let mut by_version: BTreeMap<PackageVersion, Vec<StoredFile>> = BTreeMap::new();
    for release in kept {
        listed.extend(release.files.iter().map(|file| file.filename.to_string()));
        by_version
            .entry(release.version)
            .or_default()
            .extend(release.files);
    }
    let mut public_spellings = HashMap::new();
    let mut public_metadata = HashMap::new();
    for file in public.iter().filter(|file| shown(file)) {
        let Ok(filename) = DistFilename::parse(&file.filename) else {
            continue;
        };
        if filename.name() != name {
            continue;
        }
        let written = filename.to_string();
        if !listed.insert(written.clone()) {
            continue;
        }
        if let CoreMetadataHint::Sha256(sha256) = &file.core_metadata {
            public_metadata.insert(written.clone(), sha256.clone());
        }
        if written != file.filename {
            public_spellings.insert(written, file.filename.clone());
        }
        by_version
            .entry(filename.version().clone())
            .or_default()
            .push(stored(file, filename));
    }
    let releases = by_version
        .into_iter()
        .rev()
        .map(|(version, mut files)| {
            files.sort_by_cached_key(|file| file.filename.to_string());
            Release { version, files }
        })
        .collect();
    MirroredReleases {
        releases,
        public_spellings,
        public_metadata,
    }
}

/// A public file as a listing holds it. Its core metadata is not in the registry yet, so
/// none is named (the page for people would read it from there).
fn stored(file: &PublicFile, filename: DistFilename) -> StoredFile {
    StoredFile {
        filename,
        sha256: file.sha256.clone(),
        size: file.size,
        requires_python: file.requires_python.clone(),
        summary: None,
        core_metadata_sha256: None,
        yanked: match &file.yanked {
            None => Yanked::No,
            Some(reason) if reason.is_empty() => Yanked::Yes,
            Some(reason) => Yanked::WithReason(reason.clone()),
        },
        // As the simple API writes it (PEP 700), like the times of kept files.
        upload_time: file
            .upload_time
            .map(|time| humantime::format_rfc3339_micros(time).to_string()),
        project_urls: None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn public(filename: &str, uploaded_secs: u64, yanked: Option<&str>) -> PublicFile {
        PublicFile {
            filename: filename.to_owned(),
            url: format!("https://files.example/{filename}").parse().unwrap(),
            sha256: Some("ab".repeat(32)),
            size: Some(10),
            upload_time: Some(UNIX_EPOCH + Duration::from_secs(uploaded_secs)),
            yanked: yanked.map(str::to_owned),
            requires_python: Some(">=3.8".into()),
            core_metadata: CoreMetadataHint::Absent,
        }
    }

    fn kept(version: &str, filename: &str) -> Release {
        let version = PackageVersion::parse(version).unwrap();
        let mut file = stored(
            &public(filename, 0, None),
            DistFilename::parse(filename).unwrap(),
        );
        file.summary = Some("kept".into());
        Release {
            version,
            files: vec![file],
        }
    }

    fn versions(listing: &MirroredReleases) -> Vec<String> {
        listing
            .releases
            .iter()
            .map(|release| release.version.to_string())
            .collect()
    }

    #[test]
    fn kept_and_shown_public_files_merge_by_version_newest_first() {
        let name = ProjectName::parse("Demo").unwrap();
        let listing = merge(
            &name,
            vec![kept("1.0", "demo-1.0-py3-none-any.whl")],
            &[
                public("demo-1.0-py3-none-any.whl", 1, None),
                public("demo-1.0.tar.gz", 2, None),
                public("demo-1.10.tar.gz", 3, Some("")),
                public("demo-1.9.tar.gz", 4, Some("broken")),
                public("demo-2.0.tar.gz", 5, None),
                public("other-3.0.tar.gz", 6, None),
                public("not-a-distribution.zip", 7, None),
            ],
            |file| file.filename != "demo-2.0.tar.gz",
        );
        assert_eq!(versions(&listing), ["1.10", "1.9", "1.0"]);
        let one = &listing.releases[2].files;
        assert_eq!(one.len(), 2, "the kept wheel once, and the public sdist");
        let wheel = one
            .iter()
            .find(|f| f.filename.kind() == crate::package::DistKind::Wheel);
        assert_eq!(wheel.and_then(|f| f.summary.as_deref()), Some("kept"));
        assert_eq!(listing.releases[0].files[0].yanked, Yanked::Yes);
        assert_eq!(
            listing.releases[1].files[0].yanked,
            Yanked::WithReason("broken".into())
        );
        assert_eq!(
            listing.releases[0].files[0].upload_time.as_deref(),
            Some("1970-01-01T00:00:03.000000Z")
        );
    }

    #[test]
    fn public_files_keep_the_public_spelling_they_are_downloaded_under() {
        let name = ProjectName::parse("pyyaml").unwrap();
        let listing = merge(
            &name,
            Vec::new(),
            &[
                public("PyYAML-6.0.tar.gz", 1, None),
                // The same file under PyOCI's spelling: listed once.
                public("pyyaml-6.0.tar.gz", 2, None),
            ],
            |_| true,
        );
        let files = &listing.releases[0].files;
        assert_eq!(files.len(), 1);
        assert_eq!(listing.served_name(&files[0]), "PyYAML-6.0.tar.gz");
    }
}
