//! `GET /<registry>/<namespace>/<project>/`: the simple-index page of every file.

use http::Response;
use pyoci_basic_auth::Credentials;
use pyoci_index::ProjectPage;

use super::{
    index_page, project_list, project_path, redirect, repository,
    stored::{read_releases, Release},
};
use crate::{app::App, body::Body, error::Error, package::ProjectName, route::Target};

/// Lists every file of the newest versions, newest version first. The page itself is
/// rendered by the index layer from the [`ProjectPage`] this puts in the response.
pub async fn project_page(
    app: &App,
    target: Target,
    project: String,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let page_path = project_path(&target, &name);
    if name.normalized() != project {
        return Ok(redirect(&page_path));
    }
    let oci = app.oci(&target, credentials.clone());
    let repo = repository(&target, &name);
    let releases = match read_releases(&oci, &repo, &name, app.config.max_versions).await {
        Err(Error::NotFound(message)) => {
            // `/<registry>/acme/team/` may name the namespace `acme/team` rather than the
            // project `team` in `acme`.
            let namespace = Target {
                namespace: format!("{}/{project}", target.namespace),
                ..target
            };
            return project_list(app, namespace, credentials)
                .await
                .map_err(|_| Error::NotFound(message));
        }
        releases => releases?,
    };
    if releases.iter().all(|release| release.files.is_empty()) {
        return Err(Error::NotFound(format!(
            "project `{name}` has no PyOCI packages in `{repo}`"
        )));
    }
    let files = releases
        .iter()
        .flat_map(|release| &release.files)
        .map(|file| file.to_index_file(format!("{page_path}{}", file.filename)))
        .collect();
    let versions = releases
        .iter()
        .filter(|release| !release.files.is_empty())
        .map(|Release { version, .. }| version.to_string())
        .collect();
    Ok(index_page(
        ProjectPage::new(name.normalized(), files).with_versions(versions),
    ))
}
