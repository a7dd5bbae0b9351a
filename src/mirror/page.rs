//! A mirrored project's page: the public index's files (those the cooldown lets through)
//! and what of the project is already kept in the registry, with every URL pointing at
//! PyOCI.

use http::Response;
use pyoci_index::ProjectPage;

use super::Mirror;
use crate::{
    app::App,
    body::Body,
    error::Error,
    handlers::{index_page, project_path},
    route::Target,
    store::Repository,
};

impl Mirror {
    /// The page of `repository`'s project, which the registry does not have in the caller's
    /// namespace: what the mirror keeps and the public files the cooldown shows
    /// ([`Mirror::releases`]), every URL PyOCI's. The caller reads the kept part with their
    /// own credentials, so the registry's refusal (401, 403) is theirs.
    pub async fn page(
        &self,
        app: &App,
        target: &Target,
        repository: &Repository,
    ) -> Result<Response<Body>, Error> {
        let name = repository.name();
        let page_path = project_path(target, name);
        let listing = self.releases(app, target, repository).await?;
        let files = listing
            .releases
            .iter()
            .flat_map(|release| &release.files)
            .map(|file| {
                let served = listing.served_name(file);
                let mut listed = file.to_index_file(format!("{page_path}{served}"));
                listed.filename = served;
                // Until the wheel is kept, passed on from the public index, checked.
                listed.core_metadata_sha256 = listing.core_metadata_sha256(file);
                listed
            })
            .collect();
        let versions = listing
            .releases
            .iter()
            .filter(|release| !release.files.is_empty())
            .map(|release| release.version.to_string())
            .collect();
        Ok(index_page(
            ProjectPage::new(name.normalized(), files).with_versions(versions),
        ))
    }
}
