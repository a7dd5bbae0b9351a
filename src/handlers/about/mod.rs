//! `GET /<registry>/<namespace>/+about/[<project>/]`: pages for people, apart from the simple
//! index (which clients read, so it stays free of anything but files): a project's versions
//! with upload times, yank status and `requires-python`, every file with size and sha256,
//! install commands for pip, uv and poetry, and the description from its core metadata;
//! a namespace's projects with their newest versions.

mod html;

use futures_util::{stream, StreamExt};
use http::{header, HeaderValue, Request, Response};
use pyoci_basic_auth::Credentials;

use super::project_path;
use crate::{
    app::App,
    body::Body,
    error::Error,
    package::ProjectName,
    route::Target,
    store::{Release, Repository},
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
    let releases = repository.releases(app.store.caches().snapshot()).await?;
    if releases.iter().all(|release| release.files.is_empty()) {
        return Err(Error::NotFound(format!(
            "project `{name}` has no PyOCI packages in `{repo}`"
        )));
    }
    let description = description_html(app, &repository, &releases).await;
    let simple_path = project_path(&target, name);
    let index_url = format!(
        "{}{}/{}/{}/",
        site.origin, target.link_base, target.registry_segment, target.namespace
    );
    let page = html::project_page(&html::ProjectView {
        name: name.normalized(),
        namespace: &target.namespace,
        index_url: &index_url,
        simple_path: &simple_path,
        releases: &releases,
        description,
    });
    Ok(html_response(page))
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
        .await?;
    let prefix = format!("{}/", target.namespace);
    let mut names: Vec<ProjectName> = repositories
        .iter()
        .filter_map(|repository| repository.strip_prefix(&prefix))
        .filter(|rest| !rest.contains('/'))
        .filter_map(|name| ProjectName::parse(name).ok())
        .collect();
    names.sort_by(|a, b| a.normalized().cmp(b.normalized()));
    names.dedup_by(|a, b| a.normalized() == b.normalized());
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
    Ok(html_response(html::namespace_page(
        &target.namespace,
        &projects,
    )))
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
