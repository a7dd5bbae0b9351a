//! A mirrored project's files: served from the registry once kept there; the first download
//! of another fetches it from the public index and keeps it, checked against the sha256 the
//! public page gave, before anything of it is visible.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::SystemTime,
};

use futures_util::{StreamExt, TryStreamExt};
use http::Response;
use pyoci_metadata::{ExpectedRelease, MetadataTap};
use pyoci_oci::Digest;

use super::{
    public::{PublicError, PublicFile},
    Mirror,
};
use crate::{
    app::App,
    body::Body,
    error::Error,
    handlers::{core_metadata, get_file, project_file, FileRequest},
    layout::FileFacts,
    route::{Target, METADATA_SUFFIX},
    store::{NewFile, Repository},
};

/// Annotations of a mirrored file's manifest: where it came from, and when the public index
/// says it was uploaded there.
pub const UPSTREAM_URL_ANNOTATION: &str = "com.pyoci.mirror.url";
pub const UPSTREAM_UPLOAD_TIME_ANNOTATION: &str = "com.pyoci.mirror.upload-time";

impl Mirror {
    /// `filename` of `repository`'s project, which the registry does not have in the
    /// caller's namespace: from the mirror, fetching it from the public index first if it is
    /// not kept yet. The caller's credentials judge every registry read, as for a private
    /// file; the public index never sees them.
    pub async fn file(
        &self,
        app: &App,
        target: &Target,
        repository: &Repository,
        filename: String,
        request: FileRequest,
    ) -> Result<Response<Body>, Error> {
        let mirrored = self.mirrored(&app.store, target, repository);
        match get_file(app, mirrored.clone(), filename.clone(), request.clone()).await {
            Err(Error::NotFound(_)) => {}
            kept => return kept,
        }
        // Not kept yet. The registry answered the caller 404, not 401/403, so it lets them
        // read the mirror's repository.
        let name = repository.name();
        let wanted = filename.strip_suffix(METADATA_SUFFIX).unwrap_or(&filename);
        let public = self
            .public
            .project(name)
            .await
            .map_err(|err| {
                Error::PublicIndex(format!(
                    "`{wanted}` is not kept in the registry and the public index failed: {err}. \
                     Try again later"
                ))
            })?
            .ok_or_else(|| Error::NotFound(format!("no project `{name}` on the public index")))?;
        let Some(file) = public.files.iter().find(|file| file.filename == wanted) else {
            return Err(Error::NotFound(format!(
                "no file `{wanted}` of `{name}` in the registry or on the public index"
            )));
        };
        if self
            .cooldown
            .hides(name, &file.filename, file.upload_time, SystemTime::now())
        {
            return Err(Error::NotFound(format!(
                "`{wanted}` is held back: it was published on the public index less than \
                 PYOCI_MIRROR_MIN_AGE ago (or without an upload time). Ask the operator for an \
                 exception (PYOCI_MIRROR_EXCEPTIONS) if it is urgent"
            )));
        }
        let key = format!("{}/{wanted}", mirrored.cache_key().repository());
        let _turn = self.fetches.take(key).await;
        // Whoever had the turn before may have kept it.
        match get_file(app, mirrored.clone(), filename.clone(), request.clone()).await {
            Err(Error::NotFound(_)) => {}
            kept => return kept,
        }
        let writable = self.writable(&app.store, target, repository);
        self.keep(&writable, file).await?;
        // The caches may say the version has no such file: they were read before it was kept.
        app.store.caches().invalidate(mirrored.cache_key());
        get_file(app, mirrored, filename, request).await
    }

    /// Fetches `file` from the public index into `writable`, the mirror's repository as the
    /// mirror writes it. The blob is committed under the sha256 the public page gave: bytes
    /// that hash otherwise are refused by the registry and nothing is kept.
    async fn keep(&self, writable: &Repository, file: &PublicFile) -> Result<(), Error> {
        let filename = project_file(writable.name(), &file.filename)?;
        let Some(sha256) = &file.sha256 else {
            return Err(Error::PublicIndex(format!(
                "the public index gives no sha256 for `{}`: PyOCI keeps only files it can check",
                file.filename
            )));
        };
        let digest = Digest::from_hex(sha256)?;
        let download = self.public.file(file).await.map_err(|err| {
            Error::PublicIndex(format!("fetching `{}` failed: {err}", file.filename))
        })?;
        let upload = writable.start_upload().await.inspect_err(|err| {
            tracing::warn!(file = %file.filename, error = %err, "the registry refused the mirror's upload");
        })?;
        let received = Arc::new(AtomicU64::new(0));
        let counted = received.clone();
        // What broke the public answer, if it broke: then that is the error, not the upload.
        let broke = Arc::new(Mutex::new(None::<PublicError>));
        let noted = broke.clone();
        let body = download
            .body
            .inspect_ok(move |chunk| {
                counted.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            })
            .map_err(move |err| {
                if let Ok(mut noted) = noted.lock() {
                    *noted = Some(err.clone());
                }
                Box::new(err) as tower::BoxError
            });
        let (body, metadata) = MetadataTap::new(
            body.boxed(),
            filename.kind(),
            Some(ExpectedRelease::new(
                filename.name().normalized(),
                filename.version().to_string(),
            )),
        );
        let public_failure = || {
            let failure = broke.lock().ok()?.take()?;
            Some(Error::PublicIndex(format!(
                "fetching `{}` from the public index failed: {failure}; nothing was kept, try \
                 again",
                file.filename
            )))
        };
        let upload = writable.send_file(upload, body, public_failure).await?;
        let core = match core_metadata(&metadata, &filename) {
            Ok(core) => core,
            Err(err) => {
                upload.cancel().await;
                return Err(Error::PublicIndex(format!(
                    "the public index served `{}` that is not a valid distribution: {err}",
                    file.filename
                )));
            }
        };
        if let Err(refusal) = upload.commit(&digest).await {
            return Err(match refusal.code() {
                Some("DIGEST_INVALID") => Error::PublicIndex(format!(
                    "the public index served bytes for `{}` that do not match the sha256 its \
                     page gives; nothing was kept",
                    file.filename
                )),
                _ => refusal.into(),
            });
        }
        let created = file.upload_time.unwrap_or_else(SystemTime::now);
        let mut labels = BTreeMap::new();
        labels.insert(UPSTREAM_URL_ANNOTATION.to_owned(), file.url.to_string());
        if let Some(uploaded) = file.upload_time {
            labels.insert(
                UPSTREAM_UPLOAD_TIME_ANNOTATION.to_owned(),
                humantime::format_rfc3339_micros(uploaded).to_string(),
            );
        }
        let facts = FileFacts {
            sha256: sha256.clone(),
            size: received.load(Ordering::Relaxed),
            created: humantime::format_rfc3339_micros(created).to_string(),
            project_urls: None,
            requires_python: file
                .requires_python
                .clone()
                .or_else(|| core.requires_python.clone()),
            summary: None,
        };
        writable
            .publish(NewFile {
                filename: &filename,
                blob: digest,
                facts,
                labels,
                core: &core,
            })
            .await?;
        tracing::info!(
            repository = %writable.path(),
            file = %file.filename,
            size = received.load(Ordering::Relaxed),
            "mirrored a public file"
        );
        Ok(())
    }
}
