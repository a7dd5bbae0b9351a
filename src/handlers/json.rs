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
    package::DistKind,
    route::Target,
    store::{Repository, StoredFile},
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
        Err(err) if app.config.fallback.may_be_unknown(&target.registry, &err) => {
            return elsewhere(app, &repository, err).await;
        }
        releases => releases?,
    };
    let Some(newest) = releases.iter().find(|release| !release.files.is_empty()) else {
        return Err(Error::NotFound(format!(
            "project `{name}` has no versions in `{repo}`"
        )));
    };
    let file_json = |file: &StoredFile| file_json(file, &page_path);
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
    Ok(response)
}

/// A project the registry did not list: the public JSON API when the registry says it does
/// not exist and the name may fall back (see [`crate::fallback`]), else the error.
async fn elsewhere(
    app: &App,
    repository: &Repository,
    err: Error,
) -> Result<Response<Body>, Error> {
    let settings = &app.config.fallback;
    let (name, repo) = (repository.name(), repository.path());
    if let Some(refusal) = settings.private_name_refusal(name, repo) {
        return Err(refusal);
    }
    match repository.lacks_repository(settings).await? {
        true => settings.json_redirect(name, repo),
        false => Err(err),
    }
}

/// One file in the PyPI JSON shape.
fn file_json(file: &StoredFile, page_path: &str) -> Value {
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
        "filename": file.filename.to_string(),
        "url": format!("{page_path}{}", file.filename),
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
