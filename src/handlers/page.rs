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
    let registry = target.registry.clone();
    let releases = match read_releases(&oci, &repo, &name, app.config.max_versions).await {
        Err(Error::NotFound(message)) => {
            // `/<registry>/acme/team/` may name the namespace `acme/team` rather than the
            // project `team` in `acme`.
            let namespace = Target {
                namespace: format!("{}/{project}", target.namespace),
                ..target
            };
            return match project_list(app, namespace, credentials).await {
                Ok(list) => Ok(list),
                Err(_) => elsewhere(app, &oci, &registry, &repo, &name, message).await,
            };
        }
        Err(err) if app.config.fallback.may_be_unknown(&registry, &err) => {
            return elsewhere(app, &oci, &registry, &repo, &name, err.to_string()).await;
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

/// A project the registry did not list: the public index's page when the registry says it
/// does not exist and the name may fall back (see [`crate::fallback`]), else 404.
async fn elsewhere(
    app: &App,
    oci: &super::Oci,
    registry: &pyoci_oci::Registry,
    repo: &str,
    name: &ProjectName,
    message: String,
) -> Result<Response<Body>, Error> {
    let settings = &app.config.fallback;
    let Some(redirect) = settings.page_redirect(name) else {
        return Err(Error::NotFound(message));
    };
    if let Some(refusal) = settings.private_name_refusal(name, repo) {
        return Err(refusal);
    }
    match crate::fallback::registry_lacks(settings, oci, registry, repo).await? {
        true => Ok(redirect),
        false => Err(Error::NotFound(message)),
    }
}
