//! `GET /<registry>/<namespace>/<project>/`: the simple-index page of every file.

use http::Response;
use pyoci_basic_auth::Credentials;
use pyoci_index::{DistributionFile, ProjectPage};

use super::{project_path, read_indexes, redirect, repository, versions};
use crate::{
    app::App,
    body::Body,
    error::Error,
    layout,
    package::{DistFilename, ProjectName},
    route::Target,
};

/// Lists every file of the newest versions, newest version first. The page itself is
/// rendered by the index layer from the [`ProjectPage`] this puts in the response.
pub async fn project_page(
    app: &App,
    target: Target,
    project: String,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let page_path = project_path(app.config.prefix(), &target, &name);
    if name.normalized() != project {
        return Ok(redirect(&page_path));
    }
    let oci = app.oci(&target, credentials.clone());
    let repo = repository(&target, &name);
    let versions = match versions(&oci, &repo, app.config.max_versions).await {
        Err(Error::NotFound(message)) => {
            // `/<registry>/acme/team/` may name the namespace `acme/team` rather than the
            // project `team` in `acme`.
            let namespace = Target {
                namespace: format!("{}/{project}", target.namespace),
                ..target
            };
            return super::project_list(app, namespace, credentials)
                .await
                .map_err(|_| Error::NotFound(message));
        }
        versions => versions?,
    };
    let indexes = read_indexes(&oci, &repo, versions).await?;
    if indexes.is_empty() {
        return Err(Error::NotFound(format!(
            "project `{name}` has no PyOCI packages in `{repo}`"
        )));
    }
    let mut files = Vec::new();
    for (version, index) in &indexes {
        for entry in &index.manifests {
            let Some(platform) = &entry.platform else {
                continue;
            };
            // Entries another tool wrote (container images, attestations) are not files.
            let Ok(filename) = DistFilename::from_stored(&name, version, &platform.architecture)
            else {
                continue;
            };
            let filename = filename.to_string();
            let url = format!("{page_path}{filename}");
            let mut file = DistributionFile::new(filename, url);
            file.sha256 = entry.annotations.get(layout::SHA256_ANNOTATION).cloned();
            files.push(file);
        }
    }
    let mut page = ProjectPage::new(name.normalized(), files);
    page.versions = indexes.iter().map(|(v, _)| v.to_string()).collect();
    Ok(super::index_page(page))
}
