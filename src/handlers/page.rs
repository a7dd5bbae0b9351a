//! `GET /<registry>/<namespace>/<project>/`: the simple-index page of every file.

use std::sync::Arc;

use http::Response;
use pyoci_index::{DistributionFile, ProjectPage, SharedPage};

use super::{index_page, project_list, project_path, redirect};
use crate::{
    app::App,
    body::Body,
    cache::{PageKey, Snapshot},
    error::Error,
    package::ProjectName,
    route::Target,
    store::{Release, Repository, StoredFile},
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
    repository: Repository,
    spelled_normalized: bool,
) -> Result<Response<Body>, Error> {
    let page_path = project_path(&target, repository.name());
    if !spelled_normalized {
        return Ok(redirect(&page_path));
    }
    let caches = app.store.caches();
    let project = repository.cache_key().clone();
    let Some(key) = caches.page_key(project, &page_path, repository.oci().credentials()) else {
        let read = caches.snapshot();
        return read_project_page(app, target, repository, read).await;
    };
    if let Some(cached) = caches.page(&key) {
        if cached.refresh_due {
            refresh_ahead(app, key, target, repository);
        }
        return Ok(index_page(cached.page));
    }
    let _turn = caches.page_turn(&key).await;
    // Whoever had the turn before may have just read it.
    if let Some(cached) = caches.page(&key) {
        return Ok(index_page(cached.page));
    }
    let read = caches.snapshot();
    let mut response = read_project_page(app, target, repository, read).await?;
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
    app.store.caches().store_page(key, read, page.clone());
    Some(page)
}

/// Reads a cached page again in the background, with the credentials of the request that
/// found it due, unless someone reads it already. Under steady use a page is then replaced
/// before it expires, so no request waits for the registry (it would wait the whole
/// listing, hundreds of milliseconds for a large project). The new page is only given to
/// the same credentials, read with them now; if reading fails (a revoked password, a
/// registry fault) the cached page is dropped, and the next request asks the registry.
fn refresh_ahead(app: &Arc<App>, key: PageKey, target: Target, repository: Repository) {
    let Some(turn) = app.store.caches().free_page_turn(&key) else {
        return;
    };
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let _turn = turn;
        let caches = app.store.caches();
        let read = caches.refresh_snapshot(key.project());
        match read_project_page(&app, target, repository, read).await {
            Ok(mut response) => {
                if keep_page(&app, key.clone(), read, &mut response).is_none() {
                    caches.drop_page(&key);
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, "reading a page ahead of its expiry failed: dropped it");
                caches.drop_page(&key);
            }
        }
    });
}

/// The page as the registry shows it now to the repository's caller.
async fn read_project_page(
    app: &App,
    target: Target,
    repository: Repository,
    read: Snapshot,
) -> Result<Response<Body>, Error> {
    let name = repository.name();
    let page_path = project_path(&target, name);
    let repo = repository.path();
    // The registry said less than a TTL ago that it has no such repository: straight to the
    // mirror, which judges the caller on its own namespace.
    if app.mirror.is_some() && repository.known_lacking() {
        return elsewhere(app, &target, &repository, String::new()).await;
    }
    let releases = match repository.releases(read).await {
        Err(Error::NotFound(message)) => {
            // `/<registry>/acme/team/` may name the namespace `acme/team` rather than the
            // project `team` in `acme`.
            let namespace = Target {
                namespace: format!("{}/{}", target.namespace, name.normalized()),
                ..target.clone()
            };
            let credentials = repository.oci().credentials().clone();
            return match project_list(app, namespace, credentials).await {
                Ok(list) => Ok(list),
                Err(_) => elsewhere(app, &target, &repository, message).await,
            };
        }
        Err(err) if app.config.fallback.may_be_unknown(&target.registry, &err) => {
            return elsewhere(app, &target, &repository, err.to_string()).await;
        }
        releases => releases?,
    };
    if releases.iter().all(|release| release.files.is_empty()) {
        return Err(Error::NotFound(format!(
            "project `{name}` has no PyOCI packages in `{repo}`"
        )));
    }
    Ok(releases_page(name, &releases, |file| {
        file.to_index_file(format!("{page_path}{}", file.filename))
    }))
}

/// The simple page of `releases`, each file as `listed` lists it, with the versions that
/// have files (PEP 700).
pub(super) fn releases_page(
    name: &ProjectName,
    releases: &[Release],
    listed: impl Fn(&StoredFile) -> DistributionFile,
) -> Response<Body> {
    let files = releases
        .iter()
        .flat_map(|release| &release.files)
        .map(listed)
        .collect();
    let versions = releases
        .iter()
        .filter(|release| !release.files.is_empty())
        .map(|Release { version, .. }| version.to_string())
        .collect();
    index_page(ProjectPage::new(name.normalized(), files).with_versions(versions))
}

/// Whether `repository`'s project may be served from the public index (the mirror, or the
/// fallback's redirect), by the fallback's rule: a private name is refused outright;
/// otherwise only a registry that says it has no such repository lets it go (`false`: the
/// caller's own answer stands; a registry error is that error).
pub(super) async fn may_go_public(app: &App, repository: &Repository) -> Result<bool, Error> {
    let settings = &app.config.fallback;
    if let Some(refusal) = settings.private_name_refusal(repository.name(), repository.path()) {
        return Err(refusal);
    }
    repository.lacks_repository(settings).await
}

/// A project the registry did not list: the public index's page when the registry says it
/// does not exist and the name may fall back (see [`crate::fallback`]), else 404.
async fn elsewhere(
    app: &App,
    target: &Target,
    repository: &Repository,
    message: String,
) -> Result<Response<Body>, Error> {
    let settings = &app.config.fallback;
    let name = repository.name();
    if app.mirror.is_none() && settings.fallback_index.is_none() {
        return Err(Error::NotFound(message));
    }
    if !may_go_public(app, repository).await? {
        return Err(Error::NotFound(message));
    }
    match (&app.mirror, settings.page_redirect(name)) {
        (Some(mirror), _) => super::mirrored::page(app, mirror, target, repository).await,
        (None, Some(redirect)) => Ok(redirect),
        (None, None) => Err(Error::NotFound(message)),
    }
}
