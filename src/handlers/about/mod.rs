//! `GET /<registry>/<namespace>/+about/[<project>/]`: pages for people, apart from the simple
//! index (which clients read, so it stays free of anything but files): a project's versions
//! with upload times, yank status and `requires-python`, every file with size and sha256,
//! install commands for pip, uv and poetry, and the description from its core metadata;
//! a namespace's projects with their newest versions.

mod html;

use futures_util::{stream, StreamExt};
use http::{header, HeaderValue, Request, Response};
use pyoci_basic_auth::Credentials;

use super::{
    list::{catalog_error, projects_in},
    project_path,
};
use crate::{
    app::App,
    body::Body,
    error::Error,
    package::ProjectName,
    route::Target,
    store::{Release, Repository, StoredFile},
};
/// How many projects' newest versions the namespace page looks up at once.
const CONCURRENT_LOOKUPS: usize = 8;
/// Nothing on these pages runs code, and a description cannot make it: no scripts at all,
/// styles only from the page itself, images only over https.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where the client reached PyOCI, for absolute URLs in install commands.
pub struct Site {
    origin: String,
}

impl Site {
    /// The origin the request was sent to: its `Host`, with `https` when a reverse proxy
    /// says so in `X-Forwarded-Proto`.
    pub fn of<B>(request: &Request<B>) -> Site {
        let headers = request.headers();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ']))
            .unwrap_or("localhost:8080");
        let scheme = match headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
        {
            Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        Site {
            origin: format!("{scheme}://{host}"),
        }
    }
}

/// The project's page for people.
pub async fn about_project(
    app: &App,
    target: Target,
    repository: Repository,
    site: Site,
) -> Result<Response<Body>, Error> {
    let (name, repo) = (repository.name(), repository.path());
    let releases = match repository.releases(app.store.caches().snapshot()).await {
        Err(Error::NotFound(message)) if app.mirror.is_some() => {
            return mirrored_project(app, target, repository, site, message).await;
        }
        releases => releases?,
    };
    if releases.iter().all(|release| release.files.is_empty()) {
        return Err(Error::NotFound(format!(
            "project `{name}` has no PyOCI packages in `{repo}`"
        )));
    }
    let description = description_html(app, &repository, &releases).await;
    let served_name = |file: &StoredFile| file.filename.to_string();
    let page = project_html(
        &target,
        name,
        &site,
        &releases,
        description,
        None,
        &served_name,
    );
    Ok(html_response(page))
}

/// The page of a project the registry does not have in the namespace, from the mirror,
/// under the rule pages follow (see [`crate::fallback`]): a private name, a registry error
/// or a project the registry has stays the registry's answer (`message`).
async fn mirrored_project(
    app: &App,
    target: Target,
    repository: Repository,
    site: Site,
    message: String,
) -> Result<Response<Body>, Error> {
    let Some(mirror) = &app.mirror else {
        return Err(Error::NotFound(message));
    };
    let settings = &app.config.fallback;
    let (name, repo) = (repository.name(), repository.path());
    if let Some(refusal) = settings.private_name_refusal(name, repo) {
        return Err(refusal);
    }
    if !repository.lacks_repository(settings).await? {
        return Err(Error::NotFound(message));
    }
    let listing = mirror.releases(&app.store, &target, &repository).await?;
    if listing
        .releases
        .iter()
        .all(|release| release.files.is_empty())
    {
        return Err(Error::NotFound(format!(
            "project `{name}` has no files the mirror may serve yet: none is kept in the \
             registry, and the public index's are held back by the cooldown \
             (PYOCI_MIRROR_MIN_AGE)"
        )));
    }
    let kept = mirror.mirrored(&app.store, &target, &repository);
    let description = description_html(app, &kept, &listing.releases).await;
    let public_page = public_project_page(app, name);
    let served_name = |file: &StoredFile| listing.served_name(file);
    let page = project_html(
        &target,
        name,
        &site,
        &listing.releases,
        description,
        Some(&public_page),
        &served_name,
    );
    Ok(html_response(page))
}

/// `name`'s page on the public index the mirror pulls through.
fn public_project_page(app: &App, name: &ProjectName) -> String {
    match &app.config.mirror.mirror_index {
        Some(index) => index.join_dir(name.normalized()),
        // The mirror is built from this setting; without it there is no mirror to name.
        None => "the public index".to_owned(),
    }
}

fn project_html(
    target: &Target,
    name: &ProjectName,
    site: &Site,
    releases: &[Release],
    description: Option<std::sync::Arc<str>>,
    mirrored_from: Option<&str>,
    served_name: &dyn Fn(&StoredFile) -> String,
) -> String {
    let simple_path = project_path(target, name);
    let index_url = format!(
        "{}{}/{}/{}/",
        site.origin, target.link_base, target.registry_segment, target.namespace
    );
    html::project_page(&html::ProjectView {
        name: name.normalized(),
        namespace: &target.namespace,
        index_url: &index_url,
        simple_path: &simple_path,
        releases,
        description,
        mirrored_from,
        served_name,
    })
}

/// The namespace's page for people: its projects (from the catalog) and newest versions.
pub async fn about_namespace(
    app: &App,
    target: Target,
    _site: Site,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let repositories = app
        .store
        .oci(&target, credentials.clone())
        .catalog()
        .await
        .map_err(|err| catalog_error(&target, err))?;
    let prefix = format!("{}/", target.namespace);
    let mut names: Vec<ProjectName> = repositories
        .iter()
        .filter_map(|repository| repository.strip_prefix(&prefix))
        .filter(|rest| !rest.contains('/'))
        .filter_map(|name| ProjectName::parse(name).ok())
        .collect();
    names.sort_by(|a, b| a.normalized().cmp(b.normalized()));
    names.dedup_by(|a, b| a.normalized() == b.normalized());
    let mirrored = mirrored_projects(app, &target, &repositories, &names);
    let (target, credentials) = (&target, &credentials);
    let projects: Vec<(String, Option<String>)> = stream::iter(names)
        .map(|name| async move {
            let normalized = name.normalized().to_owned();
            let repository = app.store.repository(target, name, credentials.clone());
            // A project the caller cannot read is still listed, without a version.
            let latest = repository
                .versions(1)
                .await
                .ok()
                .and_then(|versions| versions.first().map(ToString::to_string));
            (normalized, latest)
        })
        .buffered(CONCURRENT_LOOKUPS)
        .collect()
        .await;
    let mirror_view = mirrored
        .as_ref()
        .map(|(index_url, kept)| html::MirrorView { index_url, kept });
    Ok(html_response(html::namespace_page(
        &target.namespace,
        &projects,
        mirror_view.as_ref(),
    )))
}

/// With the mirror on, the public index's URL and the projects the mirror keeps that are
/// served under `target`'s namespace: those in the mirror namespace of the same catalog,
/// less the namespace's own `private` projects and `PYOCI_PRIVATE_NAMES` (both are never
/// served from the mirror). `None` when the mirror is off, or on the mirror namespace's own
/// page (its projects are the list above).
fn mirrored_projects(
    app: &App,
    target: &Target,
    repositories: &[String],
    private: &[ProjectName],
) -> Option<(String, Vec<String>)> {
    let mirror = app.mirror.as_ref()?;
    if target.namespace == mirror.namespace() {
        return None;
    }
    let index_url = app.config.mirror.mirror_index.as_ref()?.to_string();
    let private_names = &app.config.fallback.private_names;
    let mut kept: Vec<String> = projects_in(mirror.namespace(), repositories)
        .into_iter()
        .filter(|kept| {
            !private.iter().any(|name| name.normalized() == kept)
                && ProjectName::parse(kept).is_ok_and(|name| !private_names.matches(&name))
        })
        .collect();
    kept.sort();
    kept.dedup();
    Some((index_url, kept))
}

/// The newest version's description, from the first of its files with stored core
/// metadata; `None` when there is none or it cannot be read (the page works without it).
async fn description_html(
    app: &App,
    repository: &Repository,
    releases: &[Release],
) -> Option<std::sync::Arc<str>> {
    let newest = releases.iter().find(|release| !release.files.is_empty())?;
    let sha256 = newest
        .files
        .iter()
        .find_map(|file| file.core_metadata_sha256.as_deref())?;
    let bytes = repository.core_metadata(sha256).await?;
    app.descriptions.html(bytes).await
}

fn html_response(page: String) -> Response<Body> {
    let mut response = Response::new(Body::from(page));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=30, private"),
    );
    response
}
