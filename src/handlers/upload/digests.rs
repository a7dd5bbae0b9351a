//! Hashing an uploaded file while it streams to the registry, so the proxy never holds it.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use blake2::{digest::consts::U32, Blake2b};
use bytes::Bytes;
use futures_util::{ready, Stream};
use md5::Md5;
use pin_project::pin_project;
use sha2::{Digest, Sha256};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::PollSender;

use pyoci_body_timeout::is_idle_timeout;
use pyoci_upload::Form;

use crate::error::{body_timed_out, exceeded_body_limit, Error};

/// The digests of the bytes received: sha256 always (it names the blob), md5 and blake2b-256
/// only when the client declared them (see [`WantedDigests`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    pub sha256: String,
    /// The sha256 is the form's, not computed here: the registry checks it when the blob is
    /// committed (see [`Sha256Source::Declared`]).
    pub registry_checks_sha256: bool,
    pub md5: Option<String>,
    pub blake2_256: Option<String>,
    pub size: u64,
}

/// Where an upload's sha256 comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sha256Source {
    /// Hashed here as the bytes pass.
    Hashed,
    /// The client's declared digest (lowercase hex). A blob is committed under its digest and
    /// the registry refuses a commit whose bytes hash otherwise (`DIGEST_INVALID`); it hashes
    /// every byte it stores for that anyway, so hashing here too would only double the work.
    Declared(String),
}

/// Which digests an upload needs computed.
///
/// Hashing is most of an upload's CPU time, so only what will be checked is computed. Clients
/// send the form fields before the file (twine declares all three digests, uv only sha256),
/// so what was declared is known when the file starts. A form that declared no digest before
/// the file may still declare them after it: then all three are computed, so they can still
/// be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedDigests {
    pub sha256: Sha256Source,
    pub md5: bool,
    pub blake2_256: bool,
}

impl WantedDigests {
    /// Every digest, all computed here.
    pub const ALL: WantedDigests = WantedDigests {
        sha256: Sha256Source::Hashed,
        md5: true,
        blake2_256: true,
    };

    /// What the form's fields received so far (those before the file) ask for.
    pub fn declared_in(form: &Form) -> WantedDigests {
        let declared = |field| form.get(field).is_some_and(|value| !value.is_empty());
        let md5 = declared("md5_digest");
        let blake2_256 = declared("blake2_256_digest");
        if !md5 && !blake2_256 && !declared("sha256_digest") {
            return WantedDigests::ALL;
        }
        let sha256 = match form.get("sha256_digest") {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Sha256Source::Declared(hex.to_ascii_lowercase())
            }
            // Not a sha256 at all: hashing the file shows the client what it should be.
            _ => Sha256Source::Hashed,
        };
        WantedDigests {
            sha256,
            md5,
            blake2_256,
        }
    }

    /// The same, with sha256 computed here: for a file that is compared, not committed.
    pub fn hashing_sha256(self) -> WantedDigests {
        WantedDigests {
            sha256: Sha256Source::Hashed,
            ..self
        }
    }
}

/// Chunks waiting for a hasher on another thread: enough to keep it busy while the next
/// chunks arrive, few enough that memory stays bounded (chunks are shared, not copied).
const OFF_THREAD_QUEUE: usize = 16;

/// A hash computed on a blocking thread from the chunks sent to it, so two or three hashes
/// of one upload use more than one core.
struct OffThreadHasher {
    /// Dropped (with any slot it reserved) to tell the hasher the file is complete.
    chunks: Option<PollSender<Bytes>>,
    result: JoinHandle<String>,
    done: Option<String>,
}

impl OffThreadHasher {
    fn start<D: Digest + Send + 'static>() -> OffThreadHasher {
        let (sender, mut receiver) = mpsc::channel::<Bytes>(OFF_THREAD_QUEUE);
        let result = tokio::task::spawn_blocking(move || {
            let mut hasher = D::new();
            while let Some(chunk) = receiver.blocking_recv() {
                hasher.update(&chunk);
            }
            hex(&hasher.finalize())
        });
        OffThreadHasher {
            chunks: Some(PollSender::new(sender)),
            result,
            done: None,
        }
    }

    /// Ready when the hasher can take one more chunk.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // An error means the hasher is gone (it cannot fail but by panicking); the result
        // then reports it.
        if let Some(chunks) = self.chunks.as_mut() {
            let _ = ready!(chunks.poll_reserve(cx));
        }
        Poll::Ready(())
    }

    fn send(&mut self, chunk: Bytes) {
        if let Some(chunks) = self.chunks.as_mut() {
            let _ = chunks.send_item(chunk);
        }
    }

    /// Closes the queue and waits for the digest.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Option<String>> {
        self.chunks = None;
        if self.done.is_none() {
            let joined = ready!(Pin::new(&mut self.result).poll(cx));
            self.done = Some(joined.unwrap_or_default());
        }
        Poll::Ready(self.done.clone().filter(|digest| !digest.is_empty()))
    }
}

/// One of md5 and blake2b: computed in line with the stream, or on a thread of its own.
enum Hasher<D> {
    InLine {
        hasher: Option<D>,
        done: Option<String>,
    },
    OffThread(OffThreadHasher),
}

impl<D: Digest + Send + 'static> Hasher<D> {
    fn start(spread: bool) -> Hasher<D> {
        if spread {
            Hasher::OffThread(OffThreadHasher::start::<D>())
        } else {
            Hasher::InLine {
                hasher: Some(D::new()),
                done: None,
            }
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Hasher::InLine { .. } => Poll::Ready(()),
            Hasher::OffThread(hasher) => hasher.poll_ready(cx),
        }
    }

    /// Hashes the chunk here, or hands it to the other thread (a reference count, not a copy).
    fn update(&mut self, chunk: &Bytes) {
        match self {
            Hasher::InLine { hasher, .. } => {
                if let Some(hasher) = hasher.as_mut() {
                    hasher.update(chunk);
                }
            }
            Hasher::OffThread(hasher) => hasher.send(chunk.clone()),
        }
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Option<String>> {
        match self {
            Hasher::InLine { hasher, done } => {
                if let Some(hasher) = hasher.take() {
                    *done = Some(hex(&hasher.finalize()));
                }
                Poll::Ready(done.clone())
            }
            Hasher::OffThread(hasher) => hasher.poll_finish(cx),
        }
    }
}

/// Whether md5 and blake2b get threads of their own. Only where cores are to spare: on this
/// project's 2-core bench machine, where the client and the registry share the cores, the
/// hand-over of every chunk cost about 10 % more CPU than hashing in line and gave less
/// throughput, not more (docs/performance.md). Decided once: finding the cores reads the
/// process's CPU set and cgroup limits, which need not be read for every upload.
fn spread_over_cores() -> bool {
    static SPREAD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SPREAD.get_or_init(|| std::thread::available_parallelism().is_ok_and(|cores| cores.get() >= 4))
}

struct Hashers {
    sha256: Option<Sha256>,
    declared_sha256: Option<String>,
    md5: Option<Hasher<Md5>>,
    blake2_256: Option<Hasher<Blake2b<U32>>>,
    size: u64,
}

impl Hashers {
    fn new(wanted: WantedDigests, spread: bool) -> Hashers {
        let (sha256, declared_sha256) = match wanted.sha256 {
            Sha256Source::Hashed => (Some(Sha256::new()), None),
            Sha256Source::Declared(hex) => (None, Some(hex)),
        };
        Hashers {
            sha256,
            declared_sha256,
            md5: wanted.md5.then(|| Hasher::start(spread)),
            blake2_256: wanted.blake2_256.then(|| Hasher::start(spread)),
            size: 0,
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(md5) = self.md5.as_mut() {
            ready!(md5.poll_ready(cx));
        }
        if let Some(blake2_256) = self.blake2_256.as_mut() {
            ready!(blake2_256.poll_ready(cx));
        }
        Poll::Ready(())
    }

    /// Gives the chunk to md5 and blake2b first, so that those on other threads work while
    /// sha256 is computed here.
    fn update(&mut self, chunk: &Bytes) {
        if let Some(md5) = self.md5.as_mut() {
            md5.update(chunk);
        }
        if let Some(blake2_256) = self.blake2_256.as_mut() {
            blake2_256.update(chunk);
        }
        if let Some(sha256) = self.sha256.as_mut() {
            sha256.update(chunk);
        }
        self.size += chunk.len() as u64;
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<FileDigests> {
        let md5 = match self.md5.as_mut() {
            Some(hasher) => Some(ready!(hasher.poll_finish(cx))),
            None => None,
        };
        let blake2_256 = match self.blake2_256.as_mut() {
            Some(hasher) => Some(ready!(hasher.poll_finish(cx))),
            None => None,
        };
        let (sha256, registry_checks_sha256) = match (&self.sha256, &self.declared_sha256) {
            (Some(hasher), _) => (hex(&hasher.clone().finalize()), false),
            (None, declared) => (declared.clone().unwrap_or_default(), true),
        };
        Poll::Ready(FileDigests {
            sha256,
            registry_checks_sha256,
            md5: md5.flatten(),
            blake2_256: blake2_256.flatten(),
            size: self.size,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How the stream ended.
#[derive(Clone, Debug, Default)]
enum Outcome {
    #[default]
    Running,
    Complete(FileDigests),
    /// The client's body failed; kept so the client is told, not blamed on the registry.
    Failed {
        message: String,
        cause: BodyFailure,
    },
}

/// Why the client's body failed, which decides the status the client gets.
#[derive(Clone, Copy, Debug)]
enum BodyFailure {
    /// It broke off or was malformed (400).
    Broken,
    /// It grew past `PYOCI_MAX_BODY` (413).
    TooLarge,
    /// It stopped arriving for `PYOCI_BODY_IDLE_TIMEOUT_SECS` (408).
    Stalled,
}

/// Where the digests appear once the stream has ended.
#[derive(Clone, Default)]
pub struct DigestsHandle(Arc<Mutex<Outcome>>);

impl DigestsHandle {
    /// The digests of the whole file, or why there are none.
    pub fn result(&self) -> Result<FileDigests, Error> {
        match self.outcome() {
            Outcome::Complete(digests) => Ok(digests),
            Outcome::Failed { message, cause } => Err(client_error(message, cause)),
            Outcome::Running => Err(Error::BadRequest(
                "the upload's file content ended before it was complete".into(),
            )),
        }
    }

    /// The client's failure, when the file stream ended with one.
    pub fn failure(&self) -> Option<Error> {
        match self.outcome() {
            Outcome::Failed { message, cause } => Some(client_error(message, cause)),
            _ => None,
        }
    }

    fn outcome(&self) -> Outcome {
        self.0
            .lock()
            .map(|outcome| outcome.clone())
            .unwrap_or_default()
    }

    fn set(&self, outcome: Outcome) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = outcome;
        }
    }
}

fn client_error(message: String, cause: BodyFailure) -> Error {
    match cause {
        BodyFailure::TooLarge => Error::TooLarge(format!(
            "the upload is larger than this server accepts (PYOCI_MAX_BODY): {message}"
        )),
        BodyFailure::Stalled => Error::BodyTimedOut(body_timed_out(&message)),
        BodyFailure::Broken => Error::BadRequest(format!("reading the upload failed: {message}")),
    }
}

/// Passes a byte stream through unchanged, hashing it on the way.
///
/// When the client's stream fails (it broke off, grew too large or stalled), the failure is
/// kept in the handle, so the client is told why rather than the registry blamed, and the
/// error is passed on; the stream ends after it. (The blob upload it feeds ends its `PATCH`
/// cleanly on that error and cancels the upload where the registry says it now is: see
/// `pyoci_oci::BlobUpload::send_stream`.)
#[pin_project]
pub struct DigestingStream<S> {
    #[pin]
    inner: S,
    hashers: Option<Hashers>,
    handle: DigestsHandle,
}

impl<S> DigestingStream<S> {
    /// Wraps `inner`; the handle yields the `wanted` digests after the last chunk.
    pub fn new(inner: S, wanted: WantedDigests) -> (Self, DigestsHandle) {
        Self::hashing(inner, wanted, spread_over_cores())
    }

    /// The same, with md5 and blake2b on threads of their own or not.
    fn hashing(inner: S, wanted: WantedDigests, spread: bool) -> (Self, DigestsHandle) {
        let handle = DigestsHandle::default();
        let stream = DigestingStream {
            inner,
            hashers: Some(Hashers::new(wanted, spread)),
            handle: handle.clone(),
        };
        (stream, handle)
    }
}

impl<S, E> Stream for DigestingStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + 'static,
{
    type Item = Result<Bytes, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if matches!(this.handle.outcome(), Outcome::Failed { .. }) {
            return Poll::Ready(None);
        }
        // Every hasher must have room for the next chunk before it is read.
        if let Some(hashers) = this.hashers.as_mut() {
            ready!(hashers.poll_ready(cx));
        }
        let item = ready!(this.inner.poll_next(cx));
        match &item {
            Some(Ok(chunk)) => {
                if let Some(hashers) = this.hashers.as_mut() {
                    hashers.update(chunk);
                }
            }
            Some(Err(err)) => {
                *this.hashers = None;
                let cause = if exceeded_body_limit(err) {
                    BodyFailure::TooLarge
                } else if is_idle_timeout(err) {
                    BodyFailure::Stalled
                } else {
                    BodyFailure::Broken
                };
                this.handle.set(Outcome::Failed {
                    message: err.to_string(),
                    cause,
                });
            }
            None => {
                if let Some(hashers) = this.hashers.as_mut() {
                    let digests = ready!(hashers.poll_finish(cx));
                    *this.hashers = None;
                    this.handle.set(Outcome::Complete(digests));
                }
            }
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{stream, StreamExt};

    use super::*;

    #[tokio::test]
    async fn hashes_what_passes_through() {
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from("hello ")),
            Ok(Bytes::from("world")),
        ];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks), WantedDigests::ALL);
        assert!(matches!(handle.result(), Err(Error::BadRequest(_))));
        let passed: Vec<_> = stream.map(|c| c.unwrap()).collect().await;
        assert_eq!(passed.concat(), b"hello world");
        let digests = handle.result().unwrap();
        assert_eq!(
            digests.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(
            digests.md5.as_deref(),
            Some("5eb63bbbe01eeed093cb22bb8f5acdc3")
        );
        assert_eq!(
            digests.blake2_256.as_deref(),
            Some("256c83b297114d201b30179f3f0ef0cace9783622da5974326b436178aeef610")
        );
        assert_eq!(digests.size, 11);
    }

    fn form(fields: &[(&str, &str)]) -> Form {
        let mut form = Form::new();
        for (name, value) in fields {
            form.push(*name, *value);
        }
        form
    }

    const HELLO_SHA256: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

    #[test]
    fn only_the_declared_digests_are_wanted() {
        let uv = form(&[("name", "x"), ("sha256_digest", HELLO_SHA256)]);
        assert_eq!(
            WantedDigests::declared_in(&uv),
            WantedDigests {
                sha256: Sha256Source::Declared(HELLO_SHA256.into()),
                md5: false,
                blake2_256: false
            }
        );
        let twine = form(&[
            ("sha256_digest", &HELLO_SHA256.to_uppercase()),
            ("md5_digest", "cd"),
            ("blake2_256_digest", "ef"),
        ]);
        assert_eq!(
            WantedDigests::declared_in(&twine),
            WantedDigests {
                sha256: Sha256Source::Declared(HELLO_SHA256.into()),
                md5: true,
                blake2_256: true
            }
        );
        let md5_only = form(&[("md5_digest", "cd")]);
        assert_eq!(
            WantedDigests::declared_in(&md5_only),
            WantedDigests {
                sha256: Sha256Source::Hashed,
                md5: true,
                blake2_256: false
            }
        );
        // Something that is no sha256 cannot be handed to the registry: it is computed here.
        let malformed = form(&[("sha256_digest", "ab")]);
        assert_eq!(
            WantedDigests::declared_in(&malformed).sha256,
            Sha256Source::Hashed
        );
        // Nothing declared before the file: it may come after it, so all are computed.
        assert_eq!(
            WantedDigests::declared_in(&form(&[("name", "x"), ("sha256_digest", "")])),
            WantedDigests::ALL
        );
        assert_eq!(
            WantedDigests::declared_in(&twine).hashing_sha256().sha256,
            Sha256Source::Hashed
        );
    }

    #[tokio::test]
    async fn undeclared_digests_are_not_computed() {
        let chunks = vec![Ok::<_, std::io::Error>(Bytes::from("hello world"))];
        let wanted = WantedDigests {
            sha256: Sha256Source::Hashed,
            md5: false,
            blake2_256: true,
        };
        let (stream, handle) = DigestingStream::new(stream::iter(chunks), wanted);
        let _: Vec<_> = stream.collect().await;
        let digests = handle.result().unwrap();
        assert_eq!(digests.md5, None);
        assert_eq!(
            digests.blake2_256.as_deref(),
            Some("256c83b297114d201b30179f3f0ef0cace9783622da5974326b436178aeef610")
        );
        assert_eq!(digests.sha256, HELLO_SHA256);
        assert!(!digests.registry_checks_sha256);
    }

    #[tokio::test]
    async fn a_declared_sha256_is_left_to_the_registry() {
        let chunks = vec![Ok::<_, std::io::Error>(Bytes::from("other bytes"))];
        let wanted = WantedDigests {
            sha256: Sha256Source::Declared(HELLO_SHA256.into()),
            md5: false,
            blake2_256: false,
        };
        let (stream, handle) = DigestingStream::new(stream::iter(chunks), wanted);
        let _: Vec<_> = stream.collect().await;
        let digests = handle.result().unwrap();
        // Not computed: the declared value is what the blob is committed under.
        assert_eq!(digests.sha256, HELLO_SHA256);
        assert!(digests.registry_checks_sha256);
        assert_eq!(digests.size, 11);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_file_is_hashed_without_losing_a_chunk_in_line_or_off_thread() {
        // More chunks than the hashers' queues hold, so the stream waits for room.
        let chunks: Vec<_> = (0..200u32)
            .map(|i| Bytes::from(vec![(i % 251) as u8; 4096]))
            .collect();
        let whole: Vec<u8> = chunks.iter().flat_map(|c| c.to_vec()).collect();
        for spread in [true, false] {
            let items = chunks.iter().cloned().map(Ok::<_, std::io::Error>);
            let (stream, handle) =
                DigestingStream::hashing(stream::iter(items), WantedDigests::ALL, spread);
            let _: Vec<_> = stream.collect().await;
            let digests = handle.result().unwrap();
            assert_eq!(digests.md5, Some(hex(&Md5::digest(&whole))), "{spread}");
            assert_eq!(
                digests.blake2_256,
                Some(hex(&Blake2b::<U32>::digest(&whole))),
                "{spread}"
            );
            assert_eq!(digests.sha256, hex(&Sha256::digest(&whole)), "{spread}");
            assert_eq!(digests.size, whole.len() as u64);
        }
    }

    #[tokio::test]
    async fn a_failed_stream_yields_the_clients_error() {
        let chunks = vec![
            Ok(Bytes::from("partial")),
            Err(std::io::Error::other("client went away")),
        ];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks), WantedDigests::ALL);
        let passed: Vec<_> = stream.collect().await;
        assert_eq!(
            passed.len(),
            2,
            "the good chunk, then the error, then nothing"
        );
        assert!(passed[0].is_ok() && passed[1].is_err());
        let err = handle.result().unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("client went away"));
        assert!(handle.failure().is_some());
    }

    #[tokio::test]
    async fn a_stalled_body_is_408() {
        let stalled = pyoci_body_timeout::IdleTimeout {
            idle: std::time::Duration::from_secs(60),
        };
        let chunks = vec![
            Ok(Bytes::from("partial")),
            Err(pyoci_upload::UploadError::BodyRead(Box::new(stalled))),
            Ok(Bytes::from("never read")),
        ];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks), WantedDigests::ALL);
        let passed: Vec<_> = stream.collect().await;
        assert_eq!(passed.len(), 2, "nothing after the error");
        let err = handle.result().unwrap_err();
        assert_eq!(err.status(), http::StatusCode::REQUEST_TIMEOUT);
        assert!(
            err.to_string().contains("PYOCI_BODY_IDLE_TIMEOUT_SECS"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413() {
        use http_body_util::{BodyExt, Full, Limited};
        let limit_error = Limited::new(Full::new(Bytes::from("too long")), 2)
            .frame()
            .await
            .unwrap()
            .unwrap_err();
        let chunks = vec![Err(pyoci_upload::UploadError::BodyRead(limit_error))];
        let (stream, handle) = DigestingStream::new(stream::iter(chunks), WantedDigests::ALL);
        let _: Vec<_> = stream.collect().await;
        assert_eq!(
            handle.result().unwrap_err().status(),
            http::StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
