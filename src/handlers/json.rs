//! `GET /<registry>/<namespace>/<project>/json`: the PyPI JSON API shape (as the original
//! PyOCI serves it at this path), which Renovate and other tools read.

use http::{header, HeaderValue, Response};
use pyoci_index::Yanked;
use serde_json::{json, Map, Value};

use super::project_path;
use crate::{
    app::App,
    body::Body,
    error::Error,
    package::{DistKind, ProjectName},
    route::Target,
    store::{Release, Repository, StoredFile},
};

/// `{"info": {...}, "releases": {"<version>": [file, ...]}, "urls": [newest files]}`.
pub async fn project_json(
    app: &App,
    target: Target,
    repository: Repository,
) -> Result<Response<Body>, Error> {
    let (name, repo) = (repository.name(), repository.path());
    let page_path = project_path(&target, name);
    let read = app.store.caches().snapshot();
    let releases = match repository.releases(read).await {
        // As for pages: with the mirror on, a project the registry lacks may be mirrored.
        Err(err @ Error::NotFound(_)) if app.mirror.is_some() => {
            return elsewhere(app, &target, &repository, err).await;
        }
        Err(err) if app.config.fallback.may_be_unknown(&target.registry, &err) => {
            return elsewhere(app, &target, &repository, err).await;
        }
        releases => releases?,
    };
    let served_name = |file: &StoredFile| file.filename.to_string();
    json_document(name, &page_path, &releases, &served_name)
        .ok_or_else(|| Error::NotFound(format!("project `{name}` has no versions in `{repo}`")))
}

/// The JSON API's answer for `releases` (newest first) of `name`, whose files are under
/// `page_path` by the name `served_name` gives; `None` when no release has a file.
pub(crate) fn json_document(
    name: &ProjectName,
    page_path: &str,
    releases: &[Release],
    served_name: &dyn Fn(&StoredFile) -> String,
) -> Option<Response<Body>> {
    let newest = releases.iter().find(|release| !release.files.is_empty())?;
    let file_json = |file: &StoredFile| file_json(file, &served_name(file), page_path);
    let project_urls: Map<String, Value> = newest
        .files
        .iter()
        .find_map(|file| file.project_urls.as_deref())
        .and_then(|urls| serde_json::from_str(urls).ok())
        .unwrap_or_default();
    let home_page = project_urls
        .iter()
        .find(|(label, _)| label.eq_ignore_ascii_case("homepage"))
        .map(|(_, url)| url.clone());
    let first = |field: fn(&StoredFile) -> Option<&String>| {
        newest.files.iter().find_map(|file| field(file).cloned())
    };
    let document = json!({
        "info": {
            "name": name.normalized(),
            "version": newest.version.to_string(),
            "summary": first(|file| file.summary.as_ref()),
            "home_page": home_page,
            "project_urls": project_urls,
            "requires_python": first(|file| file.requires_python.as_ref()),
        },
        "releases": releases
            .iter()
            .map(|release| {
                let files: Vec<Value> = release.files.iter().map(file_json).collect();
                (release.version.to_string(), Value::Array(files))
            })
            .collect::<Map<String, Value>>(),
        "urls": newest.files.iter().map(file_json).collect::<Vec<_>>(),
    });
    let mut response = Response::new(Body::from(document.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Some(response)
}

/// A project the registry did not list: when the registry says it does not exist and the
/// name may go public (see [`crate::fallback`]), the mirror's answer if it is on, else the
/// redirect to the public JSON API; otherwise the error.
async fn elsewhere(
    app: &App,
    target: &Target,
    repository: &Repository,
    err: Error,
) -> Result<Response<Body>, Error> {
    let settings = &app.config.fallback;
    let (name, repo) = (repository.name(), repository.path());
    if !super::page::may_go_public(app, repository).await? {
        return Err(err);
    }
    match &app.mirror {
        Some(mirror) => super::mirrored::json(app, mirror, target, repository).await,
        None => settings.json_redirect(name, repo),
    }
}

/// One file in the PyPI JSON shape, served as `filename` under `page_path`.
fn file_json(file: &StoredFile, filename: &str, page_path: &str) -> Value {
    let (packagetype, python_version) = match file.filename.kind() {
        DistKind::Wheel => ("bdist_wheel", file.filename.python_tag().unwrap_or("py3")),
        DistKind::Sdist => ("sdist", "source"),
    };
    let (yanked, yanked_reason) = match &file.yanked {
        Yanked::No => (false, None),
        Yanked::Yes => (true, None),
        Yanked::WithReason(reason) => (true, Some(reason.clone())),
    };
    // PyPI's `upload_time` is the ISO time without fraction or zone.
    let upload_time = file
        .upload_time
        .as_deref()
        .and_then(|time| time.get(..19))
        .map(str::to_owned);
    json!({
        "filename": filename,
        "url": format!("{page_path}{filename}"),
        "digests": { "sha256": file.sha256 },
        "size": file.size,
        "packagetype": packagetype,
        "python_version": python_version,
        "requires_python": file.requires_python,
        "upload_time": upload_time,
        "upload_time_iso_8601": file.upload_time,
        "yanked": yanked,
        "yanked_reason": yanked_reason,
    })
}
