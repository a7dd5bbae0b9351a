//! What listings remember between requests, so that a warm project page costs at most one
//! registry request, and none while the rendered page is cached for the caller.
//!
//! Four kinds of entries share one byte budget (`PYOCI_CACHE_BYTES`), least recently used
//! out first:
//!
//! - **documents by digest**: a version's image index, parsed. Content-addressed, so
//!   never stale: kept until evicted.
//! - **manifests by digest**: a file's image manifest (where its blob is), parsed, for
//!   downloads. Content-addressed too.
//! - **tags**: which document a version's tag pointed to, for `PYOCI_CACHE_TTL`.
//! - **listing documents by digest** (`PYOCI_LISTING_DOCUMENT`): a project's listing
//!   document, parsed, by its manifest's digest; content-addressed like documents. The
//!   document's tag is kept like a version's tag.
//! - **pages**: a project page's model and its renderings, per caller, for `PYOCI_CACHE_TTL`. The caller is a
//!   keyed fingerprint of their credentials ([`Fingerprint`]), so a page is only ever
//!   given to the same credentials that the registry accepted for that repository when the
//!   page was read, at most a TTL ago.
//!
//! Documents, manifests and tags are only used when the caller's own credentials are judged
//! by the registry for the repository in the same request (a listing's tag list, a
//! download's blob request), so a cached entry never answers a caller the registry would
//! refuse.
//!
//! A write through this process ([`Caches::invalidate`]) drops the project's tags and pages
//! at once; a listing that started before the write cannot store what it read. Other
//! replicas see the write when their entries expire, within the TTL.
//!
//! A refusal of some credentials by the registry ([`Caches::refused`], told by the
//! [`ForgetRefusedLayer`] of the outgoing stack) drops their pages and acceptances at once:
//! on the whole registry for bad credentials (401), in the project for missing rights (403).

pub(crate) mod bounded;
mod fingerprint;
mod lifetimes;
mod refusals;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use pyoci_basic_auth::Credentials;
use pyoci_index::{ProjectPage, SharedPage};
use pyoci_oci::{Digest, ImageIndex, ImageManifest};

use crate::{layout::listing_document::Listing, turns::Turns};
use bounded::BoundedMap;
pub use fingerprint::{Fingerprint, FingerprintKey};
use lifetimes::Lifetimes;
pub use lifetimes::TokenWindow;
pub use refusals::{ForgetRefusedLayer, RefusalScope};
use refusals::{Refusals, Withdrawn};

/// A repository in a registry: what a write invalidates.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Project {
    registry: String,
    repository: String,
}

impl Project {
    /// `repository` in the registry written as `registry` (its URL form, in any case: one
    /// registry has one key, and events about it find it).
    pub fn new(registry: impl ToString, repository: &str) -> Project {
        Project {
            registry: registry.to_string().to_ascii_lowercase(),
            repository: repository.to_owned(),
        }
    }

    /// The registry, `scheme://authority`, lowercased.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository's path in the registry.
    pub fn repository(&self) -> &str {
        &self.repository
    }
}

/// What a version's tag was found to hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagTarget {
    /// A PyOCI version index, by digest (for the listing document's tag: its manifest).
    Index(Digest),
    /// Nothing a listing shows: absent, or a foreign document.
    Skipped,
}

/// Where a listing started: entries it stores are dated then, and refused when a write to
/// their project completed after that.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    epoch: u64,
    at: Instant,
    rereads_tags: bool,
}

impl Snapshot {
    /// Whether the listing reads every tag from the registry rather than from the tag
    /// cache: a page refreshed ahead of its expiry must not be built from tags as old as
    /// the page it replaces, or it would outlive the TTL.
    pub fn rereads_tags(&self) -> bool {
        self.rereads_tags
    }
}

/// A page found in the cache.
pub struct CachedPage {
    pub page: SharedPage,
    /// Past half its TTL: read it again in the background now, so that a page in steady
    /// use is replaced before it expires and no request waits for the registry.
    pub refresh_due: bool,
}

#[derive(Clone, Hash, PartialEq, Eq)]
enum Key {
    Document(Project, String),
    Manifest(Project, String),
    Listing(Project, String),
    Tag(Project, String),
    /// The last part is the page's own path: its links are built on the URL as the client
    /// wrote it (the registry segment may be spelled several ways).
    Page(Project, Fingerprint, String),
    /// The registry accepted these credentials for this project.
    Accepted(Project, Fingerprint),
    /// A small blob's bytes (a wheel's METADATA), by digest.
    SmallBlob(Project, String),
    /// The registry said it has no such repository (404 `NAME_UNKNOWN`).
    Lacking(Project),
}

impl Key {
    /// The credentials the entry is for: only they may get it, until the registry refuses
    /// them.
    fn credentials(&self) -> Option<&Fingerprint> {
        match self {
            Key::Page(_, fingerprint, _) | Key::Accepted(_, fingerprint) => Some(fingerprint),
            _ => None,
        }
    }
}

enum Value {
    Document(Arc<ImageIndex>),
    Manifest(Arc<ImageManifest>),
    Listing(Arc<Listing>),
    Tag(TagTarget, Snapshot),
    Page(SharedPage, Snapshot),
    Accepted(Snapshot),
    SmallBlob(Bytes),
    Lacking(Snapshot),
}

/// The largest blob kept in memory by [`Caches::store_small_blob`]: METADATA files are a
/// few KiB; wheels are never kept.
pub const SMALL_BLOB_LIMIT: usize = 256 * 1024;

struct Inner {
    entries: BoundedMap<Key, Value>,
    /// The epoch of the last write to each project through this process (or event about
    /// it), and when it was made; a record older than the longest lifetime is dropped,
    /// every entry it could refuse has expired by then.
    writes: HashMap<Project, Snapshot>,
    /// When `writes` would grow past its bound: everything read before this epoch is
    /// refused, as if every project had been written.
    all_written: u64,
    /// The size of `writes` at which expired records are next swept out.
    sweep_writes_at: usize,
    /// The registry's refusals of credentials, less than a TTL ago.
    refusals: Refusals,
}

/// The listing caches of one process. See the module docs.
pub struct Caches {
    lifetimes: Lifetimes,
    fingerprints: Option<FingerprintKey>,
    epoch: AtomicU64,
    inner: Mutex<Inner>,
    /// Who reads a missing page: one request per page, the others wait and take its result.
    page_turns: Turns<PageKey>,
    /// Told of every lookup (which cache, whether it hit), for metrics.
    on_lookup: Option<LookupObserver>,
}

/// Told of a cache lookup: the cache (`page`, `tag`, `document`, `manifest`) and whether
/// it hit.
pub type LookupObserver = Arc<dyn Fn(&'static str, bool) + Send + Sync>;

/// The most projects whose last write (or event) is remembered one by one; see
/// `Inner::all_written`.
const MAX_WRITE_RECORDS: usize = 65_536;

/// `writes` is never swept below this size (not worth it).
const MIN_WRITES_SWEEP: usize = 1024;

/// The entries' weights estimate the heap they hold, and undercount it: the scale benchmark
/// (`BENCH_ONLY=scale`, pages churning through the cache under 16 clients) measured resident
/// memory growing by 2.9 times the estimates, counting what the allocator keeps of freed
/// entries. So the estimates are held to a third of `PYOCI_CACHE_BYTES`, and the setting
/// bounds what the caches really hold.
const ESTIMATES_PER_BUDGET: usize = 3;

/// A rough per-entry cost beyond the strings it holds: map slots, keys, allocations.
const ENTRY_OVERHEAD: usize = 128;

impl Caches {
    /// Caches holding at most `bytes`, tags and pages for `ttl`; a zero `ttl` turns every
    /// cache off.
    pub fn new(ttl: Duration, bytes: usize) -> Caches {
        let fingerprints = if ttl.is_zero() {
            None
        } else {
            let key = FingerprintKey::generate();
            if key.is_none() {
                tracing::warn!("no random key for credential fingerprints: page cache off");
            }
            key
        };
        Caches {
            lifetimes: Lifetimes::new(ttl),
            fingerprints,
            epoch: AtomicU64::new(0),
            page_turns: Turns::default(),
            on_lookup: None,
            inner: Mutex::new(Inner {
                entries: BoundedMap::new(if ttl.is_zero() {
                    0
                } else {
                    bytes / ESTIMATES_PER_BUDGET
                }),
                writes: HashMap::new(),
                all_written: 0,
                sweep_writes_at: MIN_WRITES_SWEEP,
                refusals: Refusals::default(),
            }),
        }
    }

    /// The caches `config` asks for (`PYOCI_CACHE_TTL`, `PYOCI_CACHE_BYTES`, the event
    /// settings), telling `on_lookup` of every lookup (metrics).
    pub fn for_config(config: &crate::config::Config, on_lookup: Option<LookupObserver>) -> Caches {
        let caches = Caches {
            on_lookup,
            ..Caches::new(
                Duration::from_secs(config.cache_ttl_secs),
                config.cache_bytes,
            )
        };
        match config.events.registries() {
            Some(registries) => caches.with_events(
                registries.iter().map(ToString::to_string),
                Duration::from_secs(config.events.event_cache_ttl_secs),
            ),
            None => caches,
        }
    }

    /// Keeps what listings read of `registries` for `event_ttl` (halved, see
    /// `Lifetimes::content`): they announce their changes, which drop entries at once
    /// ([`Caches::changed`]).
    pub fn with_events(
        mut self,
        registries: impl IntoIterator<Item = String>,
        event_ttl: Duration,
    ) -> Caches {
        self.lifetimes = self.lifetimes.with_events(registries, event_ttl);
        self
    }

    /// Lets a caller's acceptance by the registry last as long as the registry token held
    /// for them (where it outlasts `PYOCI_CACHE_TTL`), for registries with events.
    pub fn with_token_window(mut self, tokens: TokenWindow) -> Caches {
        self.lifetimes = self.lifetimes.with_tokens(tokens);
        self
    }

    /// Whether anything is cached at all.
    pub fn enabled(&self) -> bool {
        !self.lifetimes.ttl.is_zero()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent maps (each update is whole).
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn observed<T>(&self, cache: &'static str, found: Option<T>) -> Option<T> {
        if let Some(observer) = &self.on_lookup {
            observer(cache, found.is_some());
        }
        found
    }

    /// Taken before a listing reads anything from the registry.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            epoch: self.epoch.load(Ordering::SeqCst),
            at: Instant::now(),
            rereads_tags: false,
        }
    }

    /// Taken before a page of `project` is read again ahead of its expiry: see
    /// [`Snapshot::rereads_tags`]. With events, tags are fresh for half the event TTL and
    /// the page for the other half, so it reads them from the cache.
    pub fn refresh_snapshot(&self, project: &Project) -> Snapshot {
        Snapshot {
            rereads_tags: !self.lifetimes.evented(project),
            ..self.snapshot()
        }
    }

    /// Whether what was read at `read` may still be given out: to anyone, or for an entry
    /// that is a caller's only, to them.
    fn fresh(
        &self,
        inner: &Inner,
        project: &Project,
        caller: Option<(&Fingerprint, &Credentials)>,
        read: &Snapshot,
    ) -> bool {
        let credentials = caller.map(|(_, credentials)| credentials);
        if Instant::now() >= self.lifetimes.until(project, credentials, read) {
            return false;
        }
        let written = read.epoch < inner.all_written
            || inner
                .writes
                .get(project)
                .is_some_and(|write| read.epoch < write.epoch);
        let refused =
            caller.is_some_and(|(fingerprint, _)| inner.refusals.since(project, fingerprint, read));
        !written && !refused
    }

    /// The page cache key of `credentials` for `project`'s page at `path`; `None` when
    /// pages are not cached.
    pub fn page_key(
        &self,
        project: Project,
        path: &str,
        credentials: &Credentials,
    ) -> Option<PageKey> {
        let fingerprint = self.fingerprint(credentials)?;
        Some(PageKey {
            project,
            fingerprint,
            path: path.to_owned(),
            credentials: credentials.clone(),
        })
    }

    /// The keyed fingerprint of `credentials`; `None` when nothing is cached.
    pub fn fingerprint(&self, credentials: &Credentials) -> Option<Fingerprint> {
        Some(self.fingerprints.as_ref()?.fingerprint(credentials))
    }

    /// The page cached for these credentials, if still fresh.
    pub fn page(&self, key: &PageKey) -> Option<CachedPage> {
        self.observed("page", self.fresh_page(key))
    }

    fn fresh_page(&self, key: &PageKey) -> Option<CachedPage> {
        let (page, read) = self.fresh_entry(
            &key.cache_key(),
            &key.project,
            Some(&key.credentials),
            |value| match value {
                Value::Page(page, read) => Some((page.clone(), *read)),
                _ => None,
            },
        )?;
        // Past half of its life: replaced before it ends, under steady use.
        let life = self
            .lifetimes
            .until(&key.project, Some(&key.credentials), &read)
            .saturating_duration_since(read.at);
        Some(CachedPage {
            page,
            refresh_due: read.at.elapsed() >= life / 2,
        })
    }

    /// The dated entry at `key` (a tag, a page, an acceptance) as `pick` takes it, if it is
    /// still fresh for `project` (and for `credentials`, the caller's, when the entry is a
    /// caller's only); a stale one is removed.
    fn fresh_entry<T>(
        &self,
        key: &Key,
        project: &Project,
        credentials: Option<&Credentials>,
        pick: impl FnOnce(&Value) -> Option<(T, Snapshot)>,
    ) -> Option<(T, Snapshot)> {
        let caller = match (key.credentials(), credentials) {
            (None, _) => None,
            (Some(fingerprint), Some(credentials)) => Some((fingerprint, credentials)),
            // A caller's entry, asked for without their credentials: nobody's to take.
            (Some(_), None) => return None,
        };
        let mut inner = self.lock();
        let (value, read) = pick(inner.entries.get(key)?)?;
        if self.fresh(&inner, project, caller, &read) {
            return Some((value, read));
        }
        inner.entries.remove(key);
        None
    }

    /// The content-addressed entry at `key` as `pick` takes it, if kept; the lookup is
    /// told to the metrics as one of `cache`.
    fn kept<T>(
        &self,
        cache: &'static str,
        key: &Key,
        pick: impl FnOnce(&Value) -> Option<T>,
    ) -> Option<T> {
        let found = self.lock().entries.get(key).and_then(pick);
        self.observed(cache, found)
    }

    /// Keeps a content-addressed entry (never stale), unless caching is off.
    fn keep(&self, key: Key, value: Value, weight: usize) {
        if self.enabled() {
            self.lock().entries.insert(key, value, weight);
        }
    }

    /// Forgets the page of `key`: reading it again failed (the credentials may have been
    /// revoked), so it is not given out for the rest of its TTL.
    pub fn drop_page(&self, key: &PageKey) {
        self.lock().entries.remove(&key.cache_key());
    }

    /// The turn to read the page of `key` from the registry. Requests for a page that is
    /// not cached take turns, and look in the cache again once it is theirs: when an entry
    /// expires under load, one request reads the page and the others get its result,
    /// instead of each reading every version again.
    pub async fn page_turn(&self, key: &PageKey) -> tokio::sync::OwnedMutexGuard<()> {
        self.page_turns.take(key.clone()).await
    }

    /// The turn to read the page of `key` if nobody has it now; `None` while another
    /// request reads it (a refresh ahead of expiry then has nothing to do).
    pub fn free_page_turn(&self, key: &PageKey) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.page_turns.try_take(key.clone())
    }

    /// Keeps `page`, read since `read`, for its caller.
    pub fn store_page(&self, key: PageKey, read: Snapshot, page: SharedPage) {
        // Its renderings double it, about (HTML and JSON are each near the model's size).
        let weight = ENTRY_OVERHEAD + key.path.len() + 3 * page_weight(page.page());
        let mut inner = self.lock();
        let caller = Some((&key.fingerprint, &key.credentials));
        if self.fresh(&inner, &key.project, caller, &read) {
            // Reading the page, the registry accepted these credentials for the project.
            inner.entries.insert(
                Key::Accepted(key.project.clone(), key.fingerprint),
                Value::Accepted(read),
                ENTRY_OVERHEAD + project_weight(&key.project),
            );
            inner
                .entries
                .insert(key.cache_key(), Value::Page(page, read), weight);
        }
    }

    /// Whether the registry accepted `credentials` for `project` less than a TTL ago (and
    /// since the last write through this process), when this process read a page of the
    /// project for them. Within that time a page read for them is given out without asking
    /// the registry, and so may what that page leads to: content-addressed entries it
    /// names ([`Caches::small_blob`]).
    pub fn accepted(&self, project: &Project, credentials: &Credentials) -> bool {
        let Some(fingerprint) = self.fingerprint(credentials) else {
            return false;
        };
        let key = Key::Accepted(project.clone(), fingerprint);
        self.fresh_entry(&key, project, Some(credentials), |value| match value {
            Value::Accepted(read) => Some(((), *read)),
            _ => None,
        })
        .is_some()
    }

    /// A small blob of `project` kept by its digest. Give it only to callers the registry
    /// accepted for the project ([`Caches::accepted`], or a registry request in the same
    /// request).
    pub fn small_blob(&self, project: &Project, digest: &Digest) -> Option<Bytes> {
        let key = Key::SmallBlob(project.clone(), digest.as_str().to_owned());
        self.kept("blob", &key, |value| match value {
            Value::SmallBlob(bytes) => Some(bytes.clone()),
            _ => None,
        })
    }

    /// Keeps a blob's bytes by digest, if it is small and the bytes are the digest's.
    pub fn store_small_blob(&self, project: &Project, digest: &Digest, bytes: Bytes) {
        if !self.enabled() || bytes.len() > SMALL_BLOB_LIMIT {
            return;
        }
        if Digest::sha256_of(&bytes) != *digest {
            tracing::warn!(%digest, "a blob's bytes do not match its digest: not kept");
            return;
        }
        let weight = ENTRY_OVERHEAD + project_weight(project) + bytes.len();
        let key = Key::SmallBlob(project.clone(), digest.as_str().to_owned());
        self.keep(key, Value::SmallBlob(bytes), weight);
    }

    /// Whether the registry said, less than a TTL ago (and since the last write to it
    /// through this process or event about it), that it has no repository `project`. Like a
    /// tag, this is what the registry holds, not whom it lets read: who may read what is
    /// served instead (the mirror) is judged there.
    pub fn lacking(&self, project: &Project) -> bool {
        let key = Key::Lacking(project.clone());
        let found = self.fresh_entry(&key, project, None, |value| match value {
            Value::Lacking(read) => Some(((), *read)),
            _ => None,
        });
        self.observed("lacking", found).is_some()
    }

    /// Keeps that the registry, asked since `read`, has no repository `project`.
    pub fn store_lacking(&self, project: &Project, read: Snapshot) {
        let weight = ENTRY_OVERHEAD + project_weight(project);
        let mut inner = self.lock();
        if self.fresh(&inner, project, None, &read) {
            let key = Key::Lacking(project.clone());
            inner.entries.insert(key, Value::Lacking(read), weight);
        }
    }

    /// What `tag` of `project` held, if read less than a TTL ago.
    pub fn tag(&self, project: &Project, tag: &str) -> Option<TagTarget> {
        self.observed("tag", self.fresh_tag(project, tag))
    }

    fn fresh_tag(&self, project: &Project, tag: &str) -> Option<TagTarget> {
        let key = Key::Tag(project.clone(), tag.to_owned());
        let (target, _) = self.fresh_entry(&key, project, None, |value| match value {
            Value::Tag(target, read) => Some((target.clone(), *read)),
            _ => None,
        })?;
        Some(target)
    }

    /// Keeps what `tag` held, read since `read`.
    pub fn store_tag(&self, project: &Project, tag: &str, read: Snapshot, target: TagTarget) {
        let weight = ENTRY_OVERHEAD + project_weight(project) + tag.len();
        let mut inner = self.lock();
        if self.fresh(&inner, project, None, &read) {
            let key = Key::Tag(project.clone(), tag.to_owned());
            inner.entries.insert(key, Value::Tag(target, read), weight);
        }
    }

    /// The document of `project` with this digest, if kept.
    pub fn document(&self, project: &Project, digest: &Digest) -> Option<Arc<ImageIndex>> {
        let key = Key::Document(project.clone(), digest.as_str().to_owned());
        self.kept("document", &key, |value| match value {
            Value::Document(index) => Some(index.clone()),
            _ => None,
        })
    }

    /// Keeps a document by its digest; `bytes` is about what it takes parsed.
    pub fn store_document(
        &self,
        project: &Project,
        digest: &Digest,
        index: Arc<ImageIndex>,
        bytes: usize,
    ) {
        let weight = ENTRY_OVERHEAD + project_weight(project) + bytes;
        let key = Key::Document(project.clone(), digest.as_str().to_owned());
        self.keep(key, Value::Document(index), weight);
    }

    /// Forgets what `tag` of `project` held: a download found the blob it led to gone
    /// (the file was deleted or replaced through another process), so the next request
    /// reads the tag again instead of failing for the rest of the TTL.
    pub fn forget_tag(&self, project: &Project, tag: &str) {
        let key = Key::Tag(project.clone(), tag.to_owned());
        self.lock().entries.remove(&key);
    }

    /// The image manifest of `project` with this digest, if kept.
    pub fn manifest(&self, project: &Project, digest: &Digest) -> Option<Arc<ImageManifest>> {
        let key = Key::Manifest(project.clone(), digest.as_str().to_owned());
        self.kept("manifest", &key, |value| match value {
            Value::Manifest(manifest) => Some(manifest.clone()),
            _ => None,
        })
    }

    /// Keeps an image manifest by its digest (content-addressed: never stale).
    pub fn store_manifest(&self, project: &Project, digest: &Digest, manifest: Arc<ImageManifest>) {
        let weight = ENTRY_OVERHEAD + project_weight(project) + manifest_weight(&manifest);
        let key = Key::Manifest(project.clone(), digest.as_str().to_owned());
        self.keep(key, Value::Manifest(manifest), weight);
    }

    /// The listing document of `project` whose manifest has this digest, if kept.
    pub fn listing(&self, project: &Project, manifest: &Digest) -> Option<Arc<Listing>> {
        let key = Key::Listing(project.clone(), manifest.as_str().to_owned());
        self.kept("listing", &key, |value| match value {
            Value::Listing(listing) => Some(listing.clone()),
            _ => None,
        })
    }

    /// Keeps a listing document by its manifest's digest.
    pub fn store_listing(&self, project: &Project, manifest: &Digest, listing: Arc<Listing>) {
        let weight = ENTRY_OVERHEAD + project_weight(project) + listing.weight;
        let key = Key::Listing(project.clone(), manifest.as_str().to_owned());
        self.keep(key, Value::Listing(listing), weight);
    }

    /// Invalidates `project` because its registry said it changed (an event).
    pub fn changed(&self, project: &Project) {
        tracing::debug!(registry = %project.registry, repository = %project.repository, "registry event: cached listings dropped");
        self.invalidate(project);
    }

    /// A write to `project` through this process completed (or may have): its tags and
    /// pages are not given out any more, and listings already under way store nothing.
    pub fn invalidate(&self, project: &Project) {
        if !self.enabled() {
            return;
        }
        let now = self.next_epoch();
        let mut inner = self.lock();
        if inner.writes.len() >= inner.sweep_writes_at {
            // Swept when the map has doubled since the last sweep: linear work only every
            // so often, so a burst of events stays cheap per event.
            let longest = self.lifetimes.longest();
            inner.writes.retain(|_, write| write.at.elapsed() < longest);
            inner.sweep_writes_at = (2 * inner.writes.len()).max(MIN_WRITES_SWEEP);
        }
        if inner.writes.len() >= MAX_WRITE_RECORDS {
            // More projects changed within a lifetime than are worth remembering one by
            // one (events can name many): forget them all and refuse every earlier read.
            inner.writes.clear();
            inner.all_written = now.epoch;
        }
        inner.writes.insert(project.clone(), now);
    }

    /// The registry `registry` answered `status` to a request made with `credentials`
    /// about `scope`. A refusal ends, at once, what was cached for those credentials
    /// because the registry had accepted them: for bad credentials (401) every page and
    /// acceptance of theirs on the registry, for missing rights (403, or a 401 asking an
    /// anonymous caller for credentials) those of the project. Listings of theirs already
    /// under way store neither. Other statuses change nothing.
    pub fn refused(
        &self,
        registry: &str,
        scope: RefusalScope<'_>,
        credentials: &Credentials,
        status: http::StatusCode,
    ) {
        let Some(fingerprint) = self.fingerprint(credentials) else {
            return;
        };
        let Some(withdrawn) = Withdrawn::by(registry, scope, credentials, status) else {
            return;
        };
        tracing::debug!(
            %registry,
            ?scope,
            status = status.as_u16(),
            user = credentials.log_name(),
            "the registry refused these credentials: nothing cached is given to them for it"
        );
        let now = self.next_epoch();
        self.lock()
            .refusals
            .record(fingerprint, withdrawn, now, self.lifetimes.longest());
    }

    /// A new epoch, now: what was read before it can be told from what is read after.
    fn next_epoch(&self) -> Snapshot {
        Snapshot {
            epoch: self.epoch.fetch_add(1, Ordering::SeqCst) + 1,
            at: Instant::now(),
            rereads_tags: false,
        }
    }

    /// Invalidates `project` when the returned guard drops: when the write it guards is
    /// done, failed, or was cancelled with its client (it may have written something).
    pub fn invalidate_on_drop(&self, project: Project) -> InvalidateOnDrop<'_> {
        InvalidateOnDrop {
            caches: self,
            project,
        }
    }

    /// Bytes held, by the entries' weights.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().entries.bytes()
    }
}

/// Invalidates a project when dropped; see [`Caches::invalidate_on_drop`].
pub struct InvalidateOnDrop<'a> {
    caches: &'a Caches,
    project: Project,
}

impl Drop for InvalidateOnDrop<'_> {
    fn drop(&mut self) {
        self.caches.invalidate(&self.project);
    }
}

/// Which cached page a caller may get: the project, the page's path and the caller (their
/// credentials' fingerprint, and the credentials, to ask how long the registry honours
/// them). Compared by fingerprint: equal fingerprints are equal credentials.
#[derive(Clone, Debug)]
pub struct PageKey {
    project: Project,
    fingerprint: Fingerprint,
    path: String,
    credentials: Credentials,
}

impl PageKey {
    /// The project whose page this is.
    pub fn project(&self) -> &Project {
        &self.project
    }

    fn cache_key(&self) -> Key {
        Key::Page(self.project.clone(), self.fingerprint, self.path.clone())
    }
}

impl PartialEq for PageKey {
    fn eq(&self, other: &Self) -> bool {
        (&self.project, &self.fingerprint, &self.path)
            == (&other.project, &other.fingerprint, &other.path)
    }
}

impl Eq for PageKey {}

impl std::hash::Hash for PageKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.project, &self.fingerprint, &self.path).hash(state);
    }
}

fn project_weight(project: &Project) -> usize {
    project.registry.len() + project.repository.len()
}

/// About the bytes a parsed image manifest holds: its descriptors' strings plus a fixed
/// share per descriptor (digest, size, map nodes).
fn manifest_weight(manifest: &ImageManifest) -> usize {
    const PER_DESCRIPTOR: usize = 192;
    let strings = |map: &std::collections::BTreeMap<String, String>| -> usize {
        map.iter().map(|(key, value)| key.len() + value.len()).sum()
    };
    let descriptor = |descriptor: &pyoci_oci::Descriptor| {
        PER_DESCRIPTOR
            + descriptor.media_type.len()
            + strings(&descriptor.annotations)
            + descriptor.artifact_type.as_ref().map_or(0, String::len)
    };
    manifest.media_type.len()
        + manifest.artifact_type.as_ref().map_or(0, String::len)
        + strings(&manifest.annotations)
        + descriptor(&manifest.config)
        + manifest.layers.iter().map(descriptor).sum::<usize>()
}

/// About the bytes a page model holds.
fn page_weight(page: &ProjectPage) -> usize {
    // File entries carry a name, a URL, hashes and a few small fields.
    const PER_FILE: usize = 256;
    page.name.len()
        + page
            .files
            .iter()
            .map(|file| PER_FILE + file.filename.len() + file.url.len())
            .sum::<usize>()
        + page.versions.iter().map(|v| 32 + v.len()).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use pyoci_index::DistributionFile;

    use super::*;

    fn project(repository: &str) -> Project {
        Project::new("http://registry.test", repository)
    }

    fn alice() -> Credentials {
        Credentials::Basic {
            username: "alice".into(),
            password: pyoci_basic_auth::Secret::new("right"),
        }
    }

    fn page() -> SharedPage {
        SharedPage::new(ProjectPage::new(
            "demo",
            vec![DistributionFile::new("demo-1.0.tar.gz", "demo-1.0.tar.gz")],
        ))
    }

    #[test]
    fn pages_are_given_only_to_the_same_credentials() {
        let caches = Caches::new(Duration::from_secs(60), 1 << 20);
        let key = caches
            .page_key(project("acme/demo"), "/p/", &alice())
            .unwrap();
        caches.store_page(key.clone(), caches.snapshot(), page());
        assert!(caches.page(&key).is_some());
        let wrong = Credentials::Basic {
            username: "alice".into(),
            password: pyoci_basic_auth::Secret::new("wrong"),
        };
        for other in [wrong, Credentials::Anonymous] {
            let other = caches
                .page_key(project("acme/demo"), "/p/", &other)
                .unwrap();
            assert!(caches.page(&other).is_none());
        }
        let elsewhere = caches
            .page_key(project("acme/other"), "/p/", &alice())
            .unwrap();
        assert!(caches.page(&elsewhere).is_none());
        let spelled_otherwise = caches
            .page_key(project("acme/demo"), "/q/", &alice())
            .unwrap();
        assert!(caches.page(&spelled_otherwise).is_none());
    }

    #[test]
    fn a_write_refuses_entries_read_before_it() {
        let caches = Caches::new(Duration::from_secs(60), 1 << 20);
        let demo = project("acme/demo");
        let key = caches.page_key(demo.clone(), "/p/", &alice()).unwrap();
        let before = caches.snapshot();
        caches.store_page(key.clone(), before, page());
        caches.store_tag(&demo, "1.0", before, TagTarget::Skipped);
        caches.invalidate(&demo);
        assert!(caches.page(&key).is_none());
        assert!(caches.tag(&demo, "1.0").is_none());
        // A listing that read before the write and stores after it stores nothing.
        caches.store_page(key.clone(), before, page());
        assert!(caches.page(&key).is_none());
        // Other projects keep theirs; listings after the write are cached again.
        let after = caches.snapshot();
        caches.store_page(key.clone(), after, page());
        assert!(caches.page(&key).is_some());
    }

    #[test]
    fn a_repository_found_lacking_is_remembered_until_the_ttl_or_a_write() {
        let caches = Caches::new(Duration::from_millis(200), 1 << 20);
        let demo = project("acme/demo");
        assert!(!caches.lacking(&demo));
        caches.store_lacking(&demo, caches.snapshot());
        assert!(caches.lacking(&demo));
        assert!(!caches.lacking(&project("acme/other")));
        caches.invalidate(&demo);
        assert!(!caches.lacking(&demo), "a write (or an event) ends it");
        caches.store_lacking(&demo, caches.snapshot());
        std::thread::sleep(Duration::from_millis(210));
        assert!(!caches.lacking(&demo), "the TTL ends it");
    }

    #[test]
    fn changes_to_more_projects_than_are_remembered_refuse_every_earlier_read() {
        let caches = Caches::new(Duration::from_secs(60), 1 << 20);
        let quiet = project("acme/quiet");
        caches.store_tag(&quiet, "1.0", caches.snapshot(), TagTarget::Skipped);
        for index in 0..MAX_WRITE_RECORDS {
            caches.changed(&project(&format!("acme/p{index}")));
        }
        assert!(
            caches.tag(&quiet, "1.0").is_some(),
            "not named, not over the bound"
        );
        assert_eq!(caches.lock().writes.len(), MAX_WRITE_RECORDS);
        caches.changed(&project("acme/one-more"));
        assert!(
            caches.lock().writes.len() <= 1,
            "the records were folded into one epoch"
        );
        assert!(
            caches.tag(&quiet, "1.0").is_none(),
            "everything read before is refused"
        );
        caches.store_tag(&quiet, "1.0", caches.snapshot(), TagTarget::Skipped);
        assert!(
            caches.tag(&quiet, "1.0").is_some(),
            "reads after it are kept again"
        );
    }

    #[test]
    fn entries_expire_after_the_ttl_and_zero_turns_caching_off() {
        let caches = Caches::new(Duration::from_millis(30), 1 << 20);
        let demo = project("acme/demo");
        caches.store_tag(&demo, "1.0", caches.snapshot(), TagTarget::Skipped);
        assert_eq!(caches.tag(&demo, "1.0"), Some(TagTarget::Skipped));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(caches.tag(&demo, "1.0"), None);

        let off = Caches::new(Duration::ZERO, 1 << 20);
        assert!(off.page_key(demo.clone(), "/p/", &alice()).is_none());
        off.store_tag(&demo, "1.0", off.snapshot(), TagTarget::Skipped);
        let digest = Digest::sha256_of(b"x");
        off.store_document(&demo, &digest, Arc::new(ImageIndex::new(vec![])), 10);
        assert_eq!(off.tag(&demo, "1.0"), None);
        assert!(off.document(&demo, &digest).is_none());
    }

    #[test]
    fn a_page_past_half_its_ttl_is_due_for_a_refresh_and_a_dropped_one_is_gone() {
        let caches = Caches::new(Duration::from_millis(200), 1 << 20);
        let key = caches
            .page_key(project("acme/demo"), "/p/", &alice())
            .unwrap();
        caches.store_page(key.clone(), caches.snapshot(), page());
        assert!(!caches.page(&key).unwrap().refresh_due);
        std::thread::sleep(Duration::from_millis(110));
        assert!(caches.page(&key).unwrap().refresh_due);
        // A refresh stores the page read again; it is not due any more.
        let refresh = caches.refresh_snapshot(&project("acme/demo"));
        assert!(refresh.rereads_tags() && !caches.snapshot().rereads_tags());
        caches.store_page(key.clone(), refresh, page());
        assert!(!caches.page(&key).unwrap().refresh_due);
        caches.drop_page(&key);
        assert!(caches.page(&key).is_none());
    }

    #[test]
    fn a_page_read_marks_its_credentials_accepted_until_the_ttl_or_a_write() {
        let caches = Caches::new(Duration::from_millis(200), 1 << 20);
        let demo = project("acme/demo");
        assert!(!caches.accepted(&demo, &alice()));
        let key = caches.page_key(demo.clone(), "/p/", &alice()).unwrap();
        caches.store_page(key, caches.snapshot(), page());
        assert!(caches.accepted(&demo, &alice()));
        assert!(!caches.accepted(&demo, &Credentials::Anonymous));
        assert!(!caches.accepted(&project("acme/other"), &alice()));
        caches.invalidate(&demo);
        assert!(!caches.accepted(&demo, &alice()));
        let key = caches.page_key(demo.clone(), "/p/", &alice()).unwrap();
        caches.store_page(key, caches.snapshot(), page());
        std::thread::sleep(Duration::from_millis(210));
        assert!(!caches.accepted(&demo, &alice()));
    }

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: pyoci_basic_auth::Secret::new(password),
        }
    }

    /// Reads a page of `project` for `credentials` now, as a listing does.
    fn read_page(caches: &Caches, project: &Project, credentials: &Credentials) {
        let key = caches
            .page_key(project.clone(), "/p/", credentials)
            .unwrap();
        caches.store_page(key, caches.snapshot(), page());
    }

    fn has_page(caches: &Caches, project: &Project, credentials: &Credentials) -> bool {
        let key = caches
            .page_key(project.clone(), "/p/", credentials)
            .unwrap();
        caches.page(&key).is_some()
    }

    #[test]
    fn a_refusal_ends_what_was_cached_for_the_refused_credentials_at_once() {
        use http::StatusCode;
        let caches = Caches::new(Duration::from_secs(60), 1 << 20);
        let registry = "http://registry.test";
        let (demo, other) = (project("acme/demo"), project("acme/other"));
        let elsewhere = Project::new("http://elsewhere.test", "acme/demo");
        let bob = basic("bob", "pw");
        for (project, credentials) in [
            (&demo, alice()),
            (&other, alice()),
            (&elsewhere, alice()),
            (&demo, bob.clone()),
            (&demo, Credentials::Anonymous),
            (&other, Credentials::Anonymous),
        ] {
            read_page(&caches, project, &credentials);
            assert!(caches.accepted(project, &credentials));
        }

        // Answers that refuse nobody, and a refusal of the catalog, withdraw nothing.
        for (scope, status) in [
            (RefusalScope::Repository("acme/demo"), StatusCode::NOT_FOUND),
            (
                RefusalScope::Repository("acme/demo"),
                StatusCode::BAD_GATEWAY,
            ),
            (RefusalScope::Registry, StatusCode::FORBIDDEN),
        ] {
            caches.refused(registry, scope, &alice(), status);
        }
        assert!(caches.accepted(&demo, &alice()) && has_page(&caches, &demo, &alice()));
        assert_eq!(caches.lock().refusals.records(), 0);

        // 403: no rights on that repository. That project's page and acceptance go.
        let demo_scope = RefusalScope::Repository("acme/demo");
        caches.refused(registry, demo_scope, &alice(), StatusCode::FORBIDDEN);
        assert!(!caches.accepted(&demo, &alice()));
        assert!(!has_page(&caches, &demo, &alice()));
        assert!(caches.accepted(&other, &alice()) && has_page(&caches, &other, &alice()));
        assert!(caches.accepted(&demo, &bob) && has_page(&caches, &demo, &bob));

        // A listing that read before the refusal stores nothing; one after it does.
        let key = caches.page_key(demo.clone(), "/p/", &alice()).unwrap();
        let before = caches.snapshot();
        caches.refused(registry, demo_scope, &alice(), StatusCode::FORBIDDEN);
        caches.store_page(key.clone(), before, page());
        assert!(!caches.accepted(&demo, &alice()) && caches.page(&key).is_none());
        read_page(&caches, &demo, &alice());
        assert!(caches.accepted(&demo, &alice()) && caches.page(&key).is_some());

        // 401 with credentials: they are bad on the whole registry, whatever the request was
        // about. Other registries and other credentials keep theirs.
        let other_scope = RefusalScope::Repository("acme/other");
        caches.refused(registry, other_scope, &alice(), StatusCode::UNAUTHORIZED);
        for project in [&demo, &other] {
            assert!(!caches.accepted(project, &alice()));
            assert!(!has_page(&caches, project, &alice()));
        }
        assert!(caches.accepted(&elsewhere, &alice()) && has_page(&caches, &elsewhere, &alice()));
        assert!(caches.accepted(&demo, &bob));

        // 401 without credentials asks for some: only that project's anonymous entries go.
        let anonymous = Credentials::Anonymous;
        caches.refused(registry, other_scope, &anonymous, StatusCode::UNAUTHORIZED);
        assert!(!caches.accepted(&other, &anonymous));
        assert!(caches.accepted(&demo, &anonymous) && has_page(&caches, &demo, &anonymous));

        // A path PyOCI cannot place is taken as the whole registry.
        caches.refused(registry, RefusalScope::Unknown, &bob, StatusCode::FORBIDDEN);
        assert!(!caches.accepted(&demo, &bob));
    }

    #[test]
    fn refusals_past_the_bound_are_forgotten_and_refuse_every_earlier_read() {
        use http::StatusCode;
        let caches = Caches::new(Duration::from_secs(60), 1 << 20);
        let demo = project("acme/demo");
        read_page(&caches, &demo, &alice());
        let scope = RefusalScope::Repository("acme/demo");
        for i in 0..refusals::MAX_REFUSALS {
            let stranger = basic(&format!("stranger-{i}"), "wrong");
            caches.refused(
                "http://registry.test",
                scope,
                &stranger,
                StatusCode::UNAUTHORIZED,
            );
            assert!(caches.lock().refusals.records() <= refusals::MAX_REFUSALS);
        }
        // All still within the TTL: each could refuse something, none is dropped yet.
        assert!(caches.accepted(&demo, &alice()));
        let one_more = basic("stranger", "wrong");
        caches.refused(
            "http://registry.test",
            scope,
            &one_more,
            StatusCode::UNAUTHORIZED,
        );
        assert_eq!(caches.lock().refusals.records(), 0);
        // Which credentials the forgotten refusals were for is not known any more: every
        // page and acceptance read before is refused, and read again.
        assert!(!caches.accepted(&demo, &alice()) && !has_page(&caches, &demo, &alice()));
        read_page(&caches, &demo, &alice());
        assert!(caches.accepted(&demo, &alice()) && has_page(&caches, &demo, &alice()));
    }

    #[test]
    fn small_blobs_are_kept_only_when_small_and_true_to_their_digest() {
        let caches = Caches::new(Duration::from_secs(60), 1 << 20);
        let demo = project("acme/demo");
        let bytes = Bytes::from_static(b"Metadata-Version: 2.1\n");
        let digest = Digest::sha256_of(&bytes);
        caches.store_small_blob(&demo, &digest, Bytes::from_static(b"other bytes"));
        assert!(caches.small_blob(&demo, &digest).is_none());
        caches.store_small_blob(&demo, &digest, bytes.clone());
        assert_eq!(caches.small_blob(&demo, &digest), Some(bytes));
        let large = Bytes::from(vec![b'x'; SMALL_BLOB_LIMIT + 1]);
        let large_digest = Digest::sha256_of(&large);
        caches.store_small_blob(&demo, &large_digest, large);
        assert!(caches.small_blob(&demo, &large_digest).is_none());
    }

    #[test]
    fn documents_stay_within_the_byte_bound() {
        let bound = 10_000;
        let caches = Caches::new(Duration::from_secs(60), bound);
        let demo = project("acme/demo");
        let digests: Vec<Digest> = (0..100)
            .map(|i| Digest::sha256_of(format!("{i}").as_bytes()))
            .collect();
        for digest in &digests {
            let index = Arc::new(ImageIndex::new(vec![]));
            caches.store_document(&demo, digest, index, 1_000);
            assert!(caches.bytes() <= bound, "{} bytes", caches.bytes());
        }
        // The newest are kept, the oldest evicted.
        assert!(caches.document(&demo, &digests[99]).is_some());
        assert!(caches.document(&demo, &digests[0]).is_none());
    }

    fn file_manifest(annotation_bytes: usize) -> ImageManifest {
        let mut layer =
            pyoci_oci::Descriptor::new("application/octet-stream", Digest::sha256_of(b"wheel"), 5);
        layer
            .annotations
            .insert("note".into(), "x".repeat(annotation_bytes));
        ImageManifest::new(pyoci_oci::Descriptor::empty_config(), vec![layer])
    }

    #[test]
    fn manifests_are_kept_by_digest_per_project_and_weighed_for_the_bound() {
        let caches = Caches::new(Duration::from_millis(30), 1 << 20);
        let demo = project("acme/demo");
        let manifest = file_manifest(10);
        let digest = Digest::sha256_of(b"manifest");
        caches.store_manifest(&demo, &digest, Arc::new(manifest.clone()));
        assert_eq!(caches.manifest(&demo, &digest).as_deref(), Some(&manifest));
        assert!(caches.manifest(&project("acme/other"), &digest).is_none());
        assert!(caches
            .manifest(&demo, &Digest::sha256_of(b"other"))
            .is_none());
        // Content-addressed: neither the TTL nor a write drops them (only eviction does).
        caches.invalidate(&demo);
        std::thread::sleep(Duration::from_millis(40));
        assert!(caches.manifest(&demo, &digest).is_some());

        // A large annotation weighs what it holds: few such manifests fit the bound.
        let bound = 60_000;
        let caches = Caches::new(Duration::from_secs(60), bound);
        let digests: Vec<Digest> = (0..10)
            .map(|i| Digest::sha256_of(format!("{i}").as_bytes()))
            .collect();
        // Estimates are held to a share of the budget (ESTIMATES_PER_BUDGET).
        let held = bound / ESTIMATES_PER_BUDGET;
        for digest in &digests {
            caches.store_manifest(&demo, digest, Arc::new(file_manifest(5_000)));
            assert!(caches.bytes() <= held, "{} bytes", caches.bytes());
        }
        assert!(
            caches.bytes() > 15_000,
            "weighed by content: {}",
            caches.bytes()
        );
        assert!(caches.manifest(&demo, &digests[9]).is_some());
        assert!(caches.manifest(&demo, &digests[0]).is_none());

        let off = Caches::new(Duration::ZERO, 1 << 20);
        off.store_manifest(&demo, &digest, Arc::new(manifest));
        assert!(off.manifest(&demo, &digest).is_none());
    }

    #[test]
    fn a_forgotten_tag_is_read_again() {
        let caches = Caches::new(Duration::from_secs(60), 1 << 20);
        let demo = project("acme/demo");
        let digest = Digest::sha256_of(b"index");
        caches.store_tag(
            &demo,
            "1.0",
            caches.snapshot(),
            TagTarget::Index(digest.clone()),
        );
        caches.store_tag(
            &demo,
            "1.1",
            caches.snapshot(),
            TagTarget::Index(digest.clone()),
        );
        caches.forget_tag(&demo, "1.0");
        assert_eq!(caches.tag(&demo, "1.0"), None);
        assert_eq!(caches.tag(&demo, "1.1"), Some(TagTarget::Index(digest)));
    }
}
