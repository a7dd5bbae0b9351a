//! Projects the registry does not have in the caller's namespace, served from the
//! pull-through mirror ([`crate::mirror`]): their simple page, `/json` and files. The
//! handlers decide the rule (see [`crate::fallback`]) before they call in here.

use std::sync::Arc;

use http::Response;
use pyoci_metrics::MirrorEvent;

use super::{get_file, json_document, page::releases_page, project_path, FileRequest};
use crate::{
    app::App,
    body::Body,
    error::Error,
    mirror::Mirror,
    route::{Target, METADATA_SUFFIX},
    store::{Repository, StoredFile},
};

/// The simple page of `repository`'s project: what the mirror keeps and the public files
/// the cooldown shows ([`Mirror::releases`]), every URL PyOCI's. The caller reads the kept
/// part with their own credentials, so the registry's refusal (401, 403) is theirs.
pub async fn page(
    app: &App,
    mirror: &Mirror,
    target: &Target,
    repository: &Repository,
) -> Result<Response<Body>, Error> {
    let name = repository.name();
    let page_path = project_path(target, name);
    let listing = mirror.releases(&app.store, target, repository).await?;
    Ok(releases_page(name, &listing.releases, |file| {
        let served = listing.served_name(file);
        let mut listed = file.to_index_file(format!("{page_path}{served}"));
        listed.filename = served;
        // Until the wheel is kept, passed on from the public index, checked.
        listed.core_metadata_sha256 = listing.core_metadata_sha256(file);
        listed
    }))
}

/// The JSON API's answer (as [`super::project_json`] gives for private projects) for
/// `repository`'s project.
pub async fn json(
    app: &App,
    mirror: &Mirror,
    target: &Target,
    repository: &Repository,
) -> Result<Response<Body>, Error> {
    let name = repository.name();
    let listing = mirror.releases(&app.store, target, repository).await?;
    let page_path = project_path(target, name);
    let served_name = |file: &StoredFile| listing.served_name(file);
    json_document(name, &page_path, &listing.releases, &served_name).ok_or_else(|| {
        Error::NotFound(format!(
            "project `{name}` has no files the mirror may serve yet: none is kept in the \
             registry, and the public index's are held back by the cooldown \
             (PYOCI_MIRROR_MIN_AGE)"
        ))
    })
}

/// `filename` of `repository`'s project: from the registry once the mirror keeps it, else
/// fetched from the public index first (one fetch whatever the number of callers). The
/// caller's credentials judge every registry read, as for a private file; the public index
/// never sees them.
pub async fn file(
    app: &Arc<App>,
    mirror: &Arc<Mirror>,
    target: &Target,
    repository: &Repository,
    filename: String,
    request: FileRequest,
) -> Result<Response<Body>, Error> {
    let mirrored = mirror.mirrored(&app.store, target, repository);
    if let Some(kept) = kept(app, mirror, &mirrored, &filename, &request).await? {
        return Ok(kept);
    }
    // Not kept yet. The registry answered the caller 404, not 401/403, so it lets them read
    // the mirror's repository.
    let (wanted, metadata) = match filename.strip_suffix(METADATA_SUFFIX) {
        Some(wheel) => (wheel, true),
        None => (filename.as_str(), false),
    };
    let file = mirror.public_file(repository.name(), wanted).await?;
    let key = format!("{}/{wanted}", mirrored.cache_key().repository());
    if metadata {
        // The wheel being kept now (its turn taken) is in the registry, metadata and all,
        // once its turn is given back: wait for that rather than ask the public index.
        if mirror.try_fetch_turn(key.clone()).is_none() {
            drop(mirror.fetch_turn(key).await);
            if let Some(kept) = kept(app, mirror, &mirrored, &filename, &request).await? {
                return Ok(kept);
            }
        }
        // Kept with its wheel; until then passed on, checked against the page's sha256.
        return mirror.public_metadata(&file).await;
    }
    let turn = mirror.fetch_turn(key).await;
    // Whoever had the turn before may have kept it.
    if let Some(kept) = kept(app, mirror, &mirrored, &filename, &request).await? {
        return Ok(kept);
    }
    let writable = mirror.writable(&app.store, target, repository);
    let whole_file =
        !request.head_only && request.range.is_none() && request.if_none_match.is_none();
    if whole_file {
        return mirror
            .stream_while_keeping(&app.store, writable, mirrored, file, turn)
            .await;
    }
    // A range or a HEAD: kept first, then answered from the registry like any file.
    mirror.keep(&writable, &file, None).await?;
    drop(turn);
    app.store.caches().invalidate(mirrored.cache_key());
    get_file(app, mirrored, filename, request).await
}

/// The kept file, served from the registry (`None` when it is not kept).
async fn kept(
    app: &App,
    mirror: &Mirror,
    mirrored: &Repository,
    filename: &str,
    request: &FileRequest,
) -> Result<Option<Response<Body>>, Error> {
    match get_file(app, mirrored.clone(), filename.to_owned(), request.clone()).await {
        Err(Error::NotFound(_)) => Ok(None),
        Ok(response) => {
            mirror.count(MirrorEvent::Hit);
            Ok(Some(response))
        }
        Err(refused) => Err(refused),
    }
}
