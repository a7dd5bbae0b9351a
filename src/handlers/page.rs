//! `GET /<registry>/<namespace>/<project>/`: the simple-index page of every file.

use std::sync::Arc;

use http::Response;
use pyoci_basic_auth::Credentials;
use pyoci_index::{ProjectPage, SharedPage};

use super::{
    index_page, project_list, project_path, redirect, repository,
    stored::{read_releases, Release},
};
use crate::{
    app::App,
    body::Body,
    cache::{PageKey, Project, Snapshot},
    error::Error,
    package::ProjectName,
    route::Target,
};

/// Lists every file of the newest versions, newest version first. The page itself is
/// rendered by the index layer from the [`ProjectPage`] this puts in the response.
///
/// A page read for the same credentials less than `PYOCI_CACHE_TTL` ago (and since the
/// last write through this process) is answered from the page cache, without the registry:
/// the registry accepted exactly these credentials for this repository when it was read.
/// A cached page past half its TTL is read again in the background (see [`refresh_ahead`]).
pub async fn project_page(
    app: &Arc<App>,
    target: Target,
    project: String,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let page_path = project_path(&target, &name);
    if name.normalized() != project {
        return Ok(redirect(&page_path));
    }
    let repo = repository(&target, &name);
    let project = Project::new(&target.registry, &repo);
    let Some(key) = app.caches.page_key(project, &page_path, &credentials) else {
        let read = app.caches.snapshot();
        return read_project_page(app, target, name, credentials, read).await;
    };
    if let Some(cached) = app.caches.page(&key) {
        if cached.refresh_due {
            refresh_ahead(app, key, target, name, credentials);
        }
        return Ok(index_page(cached.page));
    }
    let _turn = app.caches.page_turn(&key).await;
    // Whoever had the turn before may have just read it.
    if let Some(cached) = app.caches.page(&key) {
        return Ok(index_page(cached.page));
    }
    let read = app.caches.snapshot();
    let mut response = read_project_page(app, target, name, credentials, read).await?;
    if let Some(page) = keep_page(app, key, read, &mut response) {
        response.extensions_mut().insert(page);
    }
    Ok(response)
}

/// Takes the page model out of `response` and keeps it for `key`, read since `read`; the
/// kept page, to serve. It is rendered once per format, however often it is served.
fn keep_page(
    app: &App,
    key: PageKey,
    read: Snapshot,
    response: &mut Response<Body>,
) -> Option<SharedPage> {
    let page = SharedPage::new(response.extensions_mut().remove::<ProjectPage>()?);
    app.caches.store_page(key, read, page.clone());
    Some(page)
}

/// Reads a cached page again in the background, with the credentials of the request that
/// found it due, unless someone reads it already. Under steady use a page is then replaced
/// before it expires, so no request waits for the registry (it would wait the whole
/// listing, hundreds of milliseconds for a large project). The new page is only given to
/// the same credentials, read with them now; if reading fails (a revoked password, a
/// registry fault) the cached page is dropped, and the next request asks the registry.
fn refresh_ahead(
    app: &Arc<App>,
    key: PageKey,
    target: Target,
    name: ProjectName,
    credentials: Credentials,
) {
    let Some(turn) = app.caches.free_page_turn(&key) else {
        return;
    };
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let _turn = turn;
        let read = app.caches.refresh_snapshot();
        match read_project_page(&app, target, name, credentials, read).await {
            Ok(mut response) => {
                if keep_page(&app, key.clone(), read, &mut response).is_none() {
                    app.caches.drop_page(&key);
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, "reading a page ahead of its expiry failed: dropped it");
                app.caches.drop_page(&key);
            }
        }
    });
}

/// The page as the registry shows it now to `credentials`.
async fn read_project_page(
    app: &App,
    target: Target,
    name: ProjectName,
    credentials: Credentials,
    read: Snapshot,
) -> Result<Response<Body>, Error> {
    let page_path = project_path(&target, &name);
    let oci = app.oci(&target, credentials.clone());
    let repo = repository(&target, &name);
    let registry = target.registry.clone();
    let releases = match read_releases(app, &oci, &repo, &name, read).await {
        Err(Error::NotFound(message)) => {
            // `/<registry>/acme/team/` may name the namespace `acme/team` rather than the
            // project `team` in `acme`.
            let namespace = Target {
                namespace: format!("{}/{}", target.namespace, name.normalized()),
                ..target
            };
            return match project_list(app, namespace, credentials).await {
                Ok(list) => Ok(list),
                Err(_) => elsewhere(app, &oci, &repo, &name, message).await,
            };
        }
        Err(err) if app.config.fallback.may_be_unknown(&registry, &err) => {
            return elsewhere(app, &oci, &repo, &name, err.to_string()).await;
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
    match crate::store::registry_lacks(settings, oci, repo).await? {
        true => Ok(redirect),
        false => Err(Error::NotFound(message)),
    }
}
