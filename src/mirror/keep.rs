//! Keeping a public file: fetched from the public index once, streamed into the mirror's
//! repository (and to its first client at once), committed under the sha256 the public page
//! gave before anything of it is visible.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::SystemTime,
};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use http::{header, HeaderValue, Response};
use http_body_util::{Full, StreamBody};
use pyoci_metadata::{ExpectedRelease, MetadataTap};
use pyoci_metrics::MirrorEvent;
use pyoci_oci::Digest;
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot, OwnedMutexGuard};
use tower::BoxError;

use super::{
    public::{PublicError, PublicFile},
    Mirror,
};
use crate::{
    body::Body,
    error::Error,
    layout::FileFacts,
    package::{DistFilename, ProjectName},
    store::{checked_core_metadata, NewFile, Repository, Store},
};

/// Annotations of a mirrored file's manifest: where it came from, and when the public index
/// says it was uploaded there.
pub const UPSTREAM_URL_ANNOTATION: &str = "com.pyoci.mirror.url";
pub const UPSTREAM_UPLOAD_TIME_ANNOTATION: &str = "com.pyoci.mirror.upload-time";

/// Chunks on their way to the first client while the file is kept: a slow client slows the
/// fetch (and the keeping) rather than filling memory.
const CHUNKS_IN_FLIGHT: usize = 8;

/// The largest `.metadata` file passed on from the public index.
const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// What the first client's body carries.
type Chunk = Result<Bytes, BoxError>;

impl Mirror {
    /// The public file a client asked for as `wanted` (spelled as the public index or as
    /// PyOCI writes it) of project `name`: a 404 saying so when it is not there or is held
    /// back by the cooldown; the public index's failure as a 502.
    pub(crate) async fn public_file(
        &self,
        name: &ProjectName,
        wanted: &str,
    ) -> Result<PublicFile, Error> {
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
        let wanted_file = DistFilename::parse(wanted).ok();
        let Some(file) = public.files.iter().find(|file| {
            file.filename == wanted
                || wanted_file.as_ref().is_some_and(|wanted| {
                    DistFilename::parse(&file.filename).is_ok_and(|public| public == *wanted)
                })
        }) else {
            return Err(Error::NotFound(format!(
                "no file `{wanted}` of `{name}` in the registry or on the public index"
            )));
        };
        if self
            .cooldown
            .hides(name, &file.filename, file.upload_time, SystemTime::now())
        {
            self.metrics.count_mirror(MirrorEvent::HeldBack);
            return Err(Error::NotFound(format!(
                "`{wanted}` is held back: it was published on the public index less than \
                 PYOCI_MIRROR_MIN_AGE ago (or without an upload time). Ask the operator for an \
                 exception (PYOCI_MIRROR_EXCEPTIONS) if it is urgent"
            )));
        }
        Ok(file.clone())
    }

    /// The turn to fetch the file `key` names: one fetch per file at a time.
    pub(crate) async fn fetch_turn(&self, key: String) -> OwnedMutexGuard<()> {
        self.fetches.take(key).await
    }

    /// The turn to fetch the file `key` names if nobody has it now.
    pub(crate) fn try_fetch_turn(&self, key: String) -> Option<OwnedMutexGuard<()>> {
        self.fetches.try_take(key)
    }

    /// Counts what the mirror did.
    pub(crate) fn count(&self, event: MirrorEvent) {
        self.metrics.count_mirror(event);
    }

    /// Streams `file` to the client while it is kept. The answer starts once the public
    /// index answered and the registry opened the upload; a failure before that is the
    /// client's error. A failure after it breaks the client's body off (never a short file
    /// presented as whole), and nothing is kept. A registry that refuses the mirror's upload
    /// still gets the client the file, straight from the public index.
    pub(crate) async fn stream_while_keeping(
        self: &Arc<Self>,
        store: &Arc<Store>,
        writable: Repository,
        mirrored: Repository,
        file: PublicFile,
        turn: OwnedMutexGuard<()>,
    ) -> Result<Response<Body>, Error> {
        let (chunks, body) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
        let (started, answer) = oneshot::channel::<Result<(), Error>>();
        let size = file.size;
        let (mirror, store) = (Arc::clone(self), Arc::clone(store));
        tokio::spawn(async move {
            let _turn = turn;
            let tee = Arc::new(Tee {
                chunks: Mutex::new(Some(chunks)),
                started: Mutex::new(Some(started)),
                held: Mutex::new(None),
            });
            let kept = mirror.keep(&writable, &file, Some(&tee)).await;
            match kept {
                Ok(()) => {}
                Err(KeepError::Store(err)) if tee.was_started() => {
                    // The client's copy may be short: broken off, its retry gets a whole one.
                    tracing::warn!(file = %file.filename, error = %err, "a mirrored file could not be kept");
                    mirror.metrics.count_mirror(MirrorEvent::StoreFailed);
                    tee.fail(err).await;
                }
                Err(KeepError::Store(err)) => {
                    tracing::warn!(file = %file.filename, error = %err, "the registry refused the mirror's upload: the file is passed on from the public index, not kept");
                    mirror.metrics.count_mirror(MirrorEvent::StoreFailed);
                    mirror.pass_on(&file, &tee).await;
                }
                Err(KeepError::Fetch(err)) => {
                    mirror.metrics.count_mirror(MirrorEvent::FetchFailed);
                    tee.fail(err).await;
                }
            }
            store.caches().invalidate(mirrored.cache_key());
        });
        answer.await.unwrap_or_else(|_| {
            Err(Error::PublicIndex(
                "the mirror's fetch ended before it started: try again".to_owned(),
            ))
        })?;
        let stream = stream::unfold(body, |mut body| async move {
            let chunk = body.recv().await?;
            Some((chunk.map(http_body::Frame::data), body))
        });
        let mut response = Response::new(Body::new(StreamBody::new(stream)));
        let headers = response.headers_mut();
        if let Some(size) = size {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        }
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        Ok(response)
    }

    /// Passes `file` on from the public index to the tee's client, keeping nothing; the last
    /// chunk only once the bytes match the page's sha256.
    async fn pass_on(&self, file: &PublicFile, tee: &Tee) {
        let download = match self.public.file(file).await {
            Ok(download) => download,
            Err(err) => {
                tee.fail(KeepError::fetch(file, err).into_error()).await;
                return;
            }
        };
        tee.start();
        let mut hasher = Sha256::new();
        let mut body = download.body;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    hasher.update(&chunk);
                    tee.pass(chunk).await;
                }
                Err(err) => {
                    tee.fail(KeepError::fetch(file, err).into_error()).await;
                    return;
                }
            }
        }
        let matches = file.sha256.as_ref().is_some_and(|expected| {
            *expected == Digest::from_sha256(hasher.finalize().into()).hex()
        });
        if matches {
            tee.finish().await;
        } else {
            let mismatch = format!(
                "the public index served bytes for `{}` that do not match the sha256 its page gives",
                file.filename
            );
            tee.fail(Error::PublicIndex(mismatch)).await;
        }
    }

    /// The public `.metadata` of a wheel not kept yet, read whole and checked against the
    /// sha256 the public page gave for it.
    pub(crate) async fn public_metadata(&self, file: &PublicFile) -> Result<Response<Body>, Error> {
        let not_offered = || {
            Error::NotFound(format!(
                "no metadata file for `{}`: the public index offers none with a sha256",
                file.filename
            ))
        };
        let metadata = file.metadata_file().ok_or_else(not_offered)?;
        let expected = metadata.sha256.clone().ok_or_else(not_offered)?;
        let download = self
            .public
            .file(&metadata)
            .await
            .map_err(|err| KeepError::fetch(&metadata, err).into_error())?;
        let mut bytes = Vec::new();
        let mut body = download.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| KeepError::fetch(&metadata, err).into_error())?;
            if bytes.len() + chunk.len() > MAX_METADATA_BYTES {
                return Err(Error::PublicIndex(format!(
                    "the public index's `{}` is larger than {MAX_METADATA_BYTES} bytes",
                    metadata.filename
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if Digest::sha256_of(&bytes).hex() != expected {
            return Err(Error::PublicIndex(format!(
                "the public index served `{}` that does not match the sha256 its page gives",
                metadata.filename
            )));
        }
        let mut response = Response::new(Body::new(Full::new(Bytes::from(bytes))));
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        Ok(response)
    }

    /// Fetches `file` from the public index into `writable`, the mirror's repository as the
    /// mirror writes it, passing each chunk on to `tee`'s client as it goes. The blob is
    /// committed under the sha256 the public page gave: bytes that hash otherwise are
    /// refused by the registry and nothing is kept.
    pub(crate) async fn keep(
        &self,
        writable: &Repository,
        file: &PublicFile,
        tee: Option<&Arc<Tee>>,
    ) -> Result<(), KeepError> {
        let filename = DistFilename::parse(&file.filename)
            .ok()
            .filter(|filename| filename.name() == writable.name())
            .ok_or_else(|| {
                KeepError::Fetch(Error::PublicIndex(format!(
                    "the public index lists `{}`, which is not a file name of `{}`",
                    file.filename,
                    writable.name()
                )))
            })?;
        let Some(sha256) = &file.sha256 else {
            return Err(KeepError::Fetch(Error::PublicIndex(format!(
                "the public index gives no sha256 for `{}`: PyOCI keeps only files it can check",
                file.filename
            ))));
        };
        let digest = Digest::from_hex(sha256).map_err(|err| KeepError::Fetch(err.into()))?;
        // Both at once: a first download waits for one round trip, not two.
        let (upload, download) = tokio::join!(writable.start_upload(), self.public.file(file));
        let upload = upload.map_err(KeepError::Store)?;
        let download = match download {
            Ok(download) => download,
            Err(err) => {
                upload.cancel().await;
                return Err(KeepError::fetch(file, err));
            }
        };
        if let Some(tee) = tee {
            tee.start();
        }
        let received = Arc::new(AtomicU64::new(0));
        let counted = received.clone();
        // What broke the public answer, if it broke: then that is the error, not the upload.
        let broke = Arc::new(Mutex::new(None::<PublicError>));
        let noted = broke.clone();
        let to_client = tee.cloned();
        let body = download
            .body
            .inspect_ok(move |chunk| {
                counted.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            })
            .map_err(move |err| {
                if let Ok(mut noted) = noted.lock() {
                    *noted = Some(err.clone());
                }
                Box::new(err) as BoxError
            })
            .then(move |chunk| {
                let to_client = to_client.clone();
                async move {
                    if let (Some(to_client), Ok(bytes)) = (&to_client, &chunk) {
                        to_client.pass(bytes.clone()).await;
                    }
                    chunk
                }
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
            Some(KeepError::fetch(file, failure).into_error())
        };
        let upload = match writable.send_file(upload, body, public_failure).await {
            Ok(upload) => upload,
            Err(err @ Error::PublicIndex(_)) => return Err(KeepError::Fetch(err)),
            Err(err) => return Err(KeepError::Store(err)),
        };
        let fetched = received.load(Ordering::Relaxed);
        self.metrics.count_mirror_bytes(fetched);
        let core = match checked_core_metadata(&metadata, &filename) {
            Ok(core) => core,
            Err(err) => {
                upload.cancel().await;
                return Err(KeepError::Fetch(Error::PublicIndex(format!(
                    "the public index served `{}` that is not a valid distribution: {err}",
                    file.filename
                ))));
            }
        };
        if let Err(refusal) = upload.commit(&digest).await {
            return Err(match refusal.code() {
                Some("DIGEST_INVALID") => KeepError::Fetch(Error::PublicIndex(format!(
                    "the public index served bytes for `{}` that do not match the sha256 its \
                     page gives; nothing was kept",
                    file.filename
                ))),
                _ => KeepError::Store(refusal.into()),
            });
        }
        // The registry found the bytes to be what the page said: the first client gets the
        // last chunk now, and does not wait while the file is made visible.
        if let Some(tee) = tee {
            tee.finish().await;
        }
        let mut labels = BTreeMap::new();
        labels.insert(UPSTREAM_URL_ANNOTATION.to_owned(), file.url.to_string());
        if let Some(uploaded) = file.upload_time {
            labels.insert(
                UPSTREAM_UPLOAD_TIME_ANNOTATION.to_owned(),
                humantime::format_rfc3339_micros(uploaded).to_string(),
            );
        }
        let created = file.upload_time.unwrap_or_else(SystemTime::now);
        let facts = FileFacts {
            sha256: sha256.clone(),
            size: fetched,
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
            .await
            .map_err(KeepError::Store)?;
        self.metrics.count_mirror(MirrorEvent::Fetched);
        tracing::info!(
            repository = %writable.path(),
            file = %file.filename,
            size = fetched,
            "mirrored a public file"
        );
        Ok(())
    }
}

/// Why a file was not kept: the public index's fault (the client cannot have the file), or
/// the registry's (the client may still get it from the public index).
pub(crate) enum KeepError {
    Fetch(Error),
    Store(Error),
}

impl KeepError {
    fn fetch(file: &PublicFile, err: PublicError) -> KeepError {
        KeepError::Fetch(Error::PublicIndex(format!(
            "fetching `{}` from the public index failed: {err}; nothing was kept, try again",
            file.filename
        )))
    }

    fn into_error(self) -> Error {
        match self {
            KeepError::Fetch(err) | KeepError::Store(err) => err,
        }
    }
}

impl From<KeepError> for Error {
    fn from(err: KeepError) -> Error {
        err.into_error()
    }
}

/// The first client of a file being kept: told once whether its answer starts, then given
/// the chunks, all but the last as they come. The last is sent once the file is committed
/// under its sha256, so a file that turns out wrong reaches its client short of its length
/// (a broken transfer, never a whole file with other bytes).
pub(crate) struct Tee {
    /// Taken (and so closed) once the client has the whole file.
    chunks: Mutex<Option<mpsc::Sender<Chunk>>>,
    started: Mutex<Option<oneshot::Sender<Result<(), Error>>>>,
    held: Mutex<Option<Bytes>>,
}

impl Tee {
    /// Passes on the chunk held back before `chunk`, and holds `chunk` back. A client gone
    /// keeps nothing from being kept.
    async fn pass(&self, chunk: Bytes) {
        let previous = self
            .held
            .lock()
            .ok()
            .and_then(|mut held| held.replace(chunk));
        if let (Some(previous), Some(chunks)) = (previous, self.sender()) {
            let _ = chunks.send(Ok(previous)).await;
        }
    }

    /// The bytes are what the page said: the last chunk goes too, and the body ends.
    async fn finish(&self) {
        let last = self.held.lock().ok().and_then(|mut held| held.take());
        let chunks = self.chunks.lock().ok().and_then(|mut chunks| chunks.take());
        if let (Some(last), Some(chunks)) = (last, chunks) {
            let _ = chunks.send(Ok(last)).await;
        }
    }

    fn sender(&self) -> Option<mpsc::Sender<Chunk>> {
        self.chunks.lock().ok()?.clone()
    }

    /// The answer starts: the public index answered and the upload is open.
    fn start(&self) {
        if let Some(started) = self.started.lock().ok().and_then(|mut s| s.take()) {
            let _ = started.send(Ok(()));
        }
    }

    fn was_started(&self) -> bool {
        self.started
            .lock()
            .map_or(true, |started| started.is_none())
    }

    /// Fails the client: its error answer if nothing was sent yet, else its body breaks off.
    async fn fail(&self, err: Error) {
        let unstarted = self.started.lock().ok().and_then(|mut s| s.take());
        match unstarted {
            Some(started) => {
                let _ = started.send(Err(err));
            }
            None => {
                if let Some(chunks) = self.sender() {
                    let _ = chunks.send(Err(err.to_string().into())).await;
                }
            }
        }
    }
}
