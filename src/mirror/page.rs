//! A mirrored project's page: the public index's files (those the cooldown lets through)
//! and what of the project is already kept in the registry, with every URL pointing at
//! PyOCI.

use std::{collections::BTreeMap, time::SystemTime};

use http::Response;
use pyoci_index::{DistributionFile, ProjectPage, Yanked};

use super::{
    public::{CoreMetadataHint, PublicFile},
    Mirror,
};
use crate::{
    app::App,
    body::Body,
    error::Error,
    handlers::{index_page, project_path},
    package::DistFilename,
    route::Target,
    store::Repository,
};

impl Mirror {
    /// The page of `repository`'s project, which the registry does not have in the caller's
    /// namespace. The caller reads the mirrored part with their own credentials, so the
    /// registry's refusal (401, 403) is theirs; the public part is read with none.
    pub async fn page(
        &self,
        app: &App,
        target: &Target,
        repository: &Repository,
    ) -> Result<Response<Body>, Error> {
        let name = repository.name();
        let page_path = project_path(target, name);
        let mirrored = self.mirrored(&app.store, target, repository);
        let kept = match mirrored.releases(app.store.caches().snapshot()).await {
            Ok(releases) => releases,
            // Nothing of the project is mirrored yet.
            Err(Error::NotFound(_)) => Vec::new(),
            Err(refused) => return Err(refused),
        };
        let mut files: BTreeMap<String, DistributionFile> = kept
            .iter()
            .flat_map(|release| &release.files)
            .map(|file| {
                let filename = file.filename.to_string();
                let url = format!("{page_path}{filename}");
                (filename, file.to_index_file(url))
            })
            .collect();
        // Kept files by parsed name: the public index may spell a file otherwise
        // (`PyYAML-6.0.tar.gz`) than PyOCI keeps it.
        let kept_names: Vec<&DistFilename> = kept
            .iter()
            .flat_map(|release| &release.files)
            .map(|file| &file.filename)
            .collect();
        match self.public.project(name).await {
            Ok(Some(public)) => {
                let now = SystemTime::now();
                for file in &public.files {
                    if files.contains_key(&file.filename)
                        || is_kept(&kept_names, &file.filename)
                        || self
                            .cooldown
                            .hides(name, &file.filename, file.upload_time, now)
                    {
                        continue;
                    }
                    let url = format!("{page_path}{}", file.filename);
                    files.insert(file.filename.clone(), listed(file, url));
                }
            }
            Ok(None) if files.is_empty() => {
                return Err(Error::NotFound(format!(
                    "no project `{name}`: neither the registry nor the public index has it"
                )))
            }
            Ok(None) => {}
            Err(err) if files.is_empty() => {
                return Err(Error::PublicIndex(format!(
                    "project `{name}` is not in the registry and the public index failed: \
                     {err}. Try again later"
                )))
            }
            Err(err) => {
                self.metrics
                    .count_mirror(pyoci_metrics::MirrorEvent::IndexDown);
                tracing::warn!(
                    project = %name,
                    error = %err,
                    "the public index failed: the mirrored files only, the page may be incomplete"
                );
            }
        }
        let mut page = ProjectPage::new(name.normalized(), files.into_values().collect());
        page.files.sort_by(|a, b| a.filename.cmp(&b.filename));
        Ok(index_page(page))
    }
}

/// Whether the public file `filename` is one of `kept`, however either is spelled.
pub(super) fn is_kept(kept: &[&DistFilename], filename: &str) -> bool {
    DistFilename::parse(filename).is_ok_and(|public| kept.iter().any(|kept| **kept == public))
}

/// A public file as the page lists it: at `url` (PyOCI's), with what the public index says
/// of it, its core metadata (PEP 658) where the public page gives that file's sha256.
fn listed(file: &PublicFile, url: String) -> DistributionFile {
    let mut listed = DistributionFile::new(file.filename.clone(), url);
    listed.sha256 = file.sha256.clone();
    listed.size = file.size;
    listed.requires_python = file.requires_python.clone();
    listed.yanked = match &file.yanked {
        None => Yanked::No,
        Some(reason) if reason.is_empty() => Yanked::Yes,
        Some(reason) => Yanked::WithReason(reason.clone()),
    };
    listed.upload_time = file.upload_time.map(simple_api_time);
    // Passed on from the public index until the wheel is kept, checked against this sha256.
    if let CoreMetadataHint::Sha256(sha256) = &file.core_metadata {
        listed.core_metadata_sha256 = Some(sha256.clone());
    }
    listed
}

/// `yyyy-mm-ddThh:mm:ss.ffffffZ`, as the simple API writes upload times (PEP 700).
fn simple_api_time(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn a_kept_file_is_found_under_the_public_index_spelling_of_its_name() {
        let kept = DistFilename::parse("pyyaml-6.0.tar.gz").unwrap();
        let kept = [&kept];
        assert!(is_kept(&kept, "PyYAML-6.0.tar.gz"));
        assert!(is_kept(&kept, "pyyaml-6.0.tar.gz"));
        assert!(!is_kept(&kept, "PyYAML-6.0.1.tar.gz"));
        assert!(!is_kept(&kept, "not a file name"));
    }

    #[test]
    fn upload_times_are_written_as_the_simple_api_writes_them() {
        let time = UNIX_EPOCH + std::time::Duration::from_micros(1_704_164_645_123_456);
        assert_eq!(simple_api_time(time), "2024-01-02T03:04:05.123456Z");
        assert_eq!(simple_api_time(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }
}
