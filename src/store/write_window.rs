//! Changing a version's image index without losing concurrent changes.
//!
//! A version's files live in one index that every upload and delete reads, changes and
//! writes back. Three defences (docs/concurrency.md states the guarantee):
//!
//! - Within one PyOCI process, writers of the same (registry, repository, tag) take turns
//!   (the store's index writers), so their read-modify-write cycles never interleave.
//! - Every index write is a conditional request: `If-Match` with the digest read, or
//!   `If-None-Match: *` when the tag was absent. A registry that honours them refuses a
//!   write based on a stale read with 412, and the writer reads and merges again at once.
//! - Across replicas sharing a registry that ignores conditions, a writer re-reads the index
//!   after a settle delay and, if another replica's write (based on an older read) dropped
//!   its change, applies it again to the fresh index. A change is reported done only once
//!   it was seen in place after the delay.
//!
//! The settle check holds as long as every writer's read-to-write window is shorter than
//! the settle delay, so PyOCI bounds its own window: the writer takes its registry permit
//! (from a budget of its own, never shared with streamed uploads) and its write token before
//! it reads, reads past every cache, and reads again when more than half the delay passed
//! between starting the read and sending the write.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use pyoci_budget::RequestClass;
use pyoci_oci::{Descriptor, Digest, Precondition};
use pyoci_token_exchange::AuthorizeForWrite;

use super::{
    listing_document,
    reads::read_index,
    repository::Repository,
    shared::{Oci, Store},
};
use crate::{error::Error, layout, package::PackageVersion, profile::Profile};

/// How often a change is re-applied before giving up on a registry that keeps changing.
const MAX_ROUNDS: usize = 5;

/// How often one round reads again (a read grown too old, a write refused with 412) before
/// giving up.
const MAX_REREADS: usize = 10;

/// How many reads in a row may grow too old before the writer stops insisting: when the
/// registry itself answers reads slower than the window allows, reading again cannot help,
/// so the write goes out on the last read (with a warning to raise the settle delay) and
/// is left to the conditional request and the settle check.
const MAX_STALE_READS: usize = 3;

/// The part of the settle delay a read may take, from sending it to sending the write
/// based on it, before it counts as too old to write on. The other half is left for the
/// write's own trip to the registry.
const WINDOW_SHARE_OF_SETTLE: u32 = 2;

/// A change to a version's index.
pub enum IndexEdit {
    /// Add a file's entry (its manifest is already pushed).
    AddFile(Box<Descriptor>),
    /// Remove the entry of the file with this architecture.
    RemoveFile { architecture: String },
    /// Set (`Some`) or remove (`None`) an annotation on the entry of the file with this
    /// architecture, or on every file's entry when `architecture` is `None`.
    Annotate {
        architecture: Option<String>,
        key: &'static str,
        value: Option<String>,
    },
}

/// What an edit found and did.
pub enum EditOutcome {
    /// The entry is in the index.
    Added,
    /// Another entry already holds this file's name; its sha256 annotation is given.
    NameTaken { stored_sha256: String },
    /// The entry was removed; this was its descriptor.
    Removed(Box<Descriptor>),
    /// There was no such file.
    NotFound,
    /// These files' entries carry the annotation as asked.
    Annotated(Vec<String>),
}

impl Repository {
    /// Applies `edit` to the index of `version`, safely against concurrent writers (see
    /// `write_window`), and records the change in the listing document.
    pub async fn edit_index(
        &self,
        version: &PackageVersion,
        edit: IndexEdit,
    ) -> Result<EditOutcome, Error> {
        edit_index(self, version, edit).await
    }
}

/// Applies `edit` to the index of `version` in `repository`, safely against concurrent
/// writers, then records the version's new index in the project's listing document (when
/// `PYOCI_LISTING_DOCUMENT` is on).
async fn edit_index(
    repository: &Repository,
    version: &PackageVersion,
    edit: IndexEdit,
) -> Result<EditOutcome, Error> {
    let store = &repository.store;
    // Listings in this process see the change as soon as this returns (or fails: it may
    // have written something all the same). Dropped after the listing document is
    // updated, so no listing in this process caches a page from the document as it was.
    let _invalidate = store.caches.invalidate_on_drop(repository.key.clone());
    let outcome = confirmed_edit(store, &repository.oci, &repository.path, version, edit).await?;
    if matches!(
        outcome,
        EditOutcome::Added | EditOutcome::Removed(_) | EditOutcome::Annotated(_)
    ) {
        listing_document::record_version(repository, version).await;
    }
    Ok(outcome)
}

/// Applies `edit` and returns once the change was seen in place (see the module docs).
async fn confirmed_edit(
    store: &Store,
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
    edit: IndexEdit,
) -> Result<EditOutcome, Error> {
    let key = writer_key(oci, repo, version);
    let profile = store.rules.profile(oci.registry());
    let settle = store.write_settle;
    // Reads a write depends on come from the registry itself, never from a cache.
    let oci = oci.clone().bypassing_caches();
    let mut outcome = None;
    for _ in 0..MAX_ROUNDS {
        {
            let _turn = store.index_writers.take(key.clone()).await;
            // What the write needs is taken before the read, so the write never waits for it
            // between reading and writing: its registry slot, and its token (the read fetches
            // the token with the write's scope when none is cached).
            let permit = store
                .budgets
                .acquire(RequestClass::IndexWrite, oci.credentials())
                .await;
            let writer = oci
                .clone()
                .with_extension(permit)
                .with_extension(AuthorizeForWrite);
            let cycle = Cycle {
                oci: &writer,
                repo,
                version,
                edit: &edit,
                profile,
                window: (!settle.is_zero()).then(|| settle / WINDOW_SHARE_OF_SETTLE),
                stale_reads: AtomicUsize::new(0),
            };
            match cycle.run(outcome.as_ref()).await? {
                Applied::Final(result) => return Ok(result),
                Applied::Written(result) => outcome = Some(result),
                Applied::AlreadyInPlace => {}
            }
        }
        if settle.is_zero() {
            // The re-check is off: a single replica's writers already took turns.
            return Ok(outcome.unwrap_or(EditOutcome::Added));
        }
        // Off the lock: other writers in this process need not wait out our delay.
        tokio::time::sleep(settle).await;
        if in_place(&oci, repo, version, &edit, outcome.as_ref()).await? {
            return Ok(outcome.unwrap_or(EditOutcome::Added));
        }
        tracing::info!(%repo, tag = %version.tag(), "a concurrent write undid this change; applying it again");
    }
    Err(Error::Busy(format!(
        "the index of {repo}:{} kept changing under concurrent writers; nothing was lost, \
         but this change is not confirmed: try again",
        version.tag()
    )))
}

/// One read-modify-write of a version's index, under the writer's turn and permit.
struct Cycle<'a> {
    oci: &'a Oci,
    repo: &'a str,
    version: &'a PackageVersion,
    edit: &'a IndexEdit,
    profile: Profile,
    /// How old a read may be when its write is sent; `None` when there is no settle check
    /// to stay within.
    window: Option<Duration>,
    /// Reads that grew too old so far.
    stale_reads: AtomicUsize,
}

impl Cycle<'_> {
    /// Reads, merges and writes, reading again at once when the read grew too old before
    /// its write could go out or the registry refused the write as based on a stale read.
    async fn run(&self, earlier: Option<&EditOutcome>) -> Result<Applied, Error> {
        for _ in 0..MAX_REREADS {
            match apply(self, earlier).await? {
                Attempt::Done(applied) => return Ok(applied),
                Attempt::Stale => {
                    self.stale_reads.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        repo = %self.repo,
                        tag = %self.version.tag(),
                        "the index read is older than the write window allows; reading it again"
                    )
                }
                Attempt::Refused => tracing::info!(
                    repo = %self.repo,
                    tag = %self.version.tag(),
                    "the registry refused the index write: it changed since it was read \
                     (412); reading it again"
                ),
            }
        }
        Err(Error::Busy(format!(
            "the index of {}:{} kept changing between reading and writing it; nothing was \
             lost: try again",
            self.repo,
            self.version.tag()
        )))
    }

    /// Whether a read started at `read_at` is still young enough to write on.
    fn fresh(&self, read_at: Instant) -> bool {
        let Some(window) = self.window else {
            return true;
        };
        let age = read_at.elapsed();
        if age <= window {
            return true;
        }
        if self.stale_reads.load(Ordering::Relaxed) + 1 < MAX_STALE_READS {
            return false;
        }
        tracing::warn!(
            repo = %self.repo,
            tag = %self.version.tag(),
            read_to_write_ms = age.as_millis() as u64,
            "index reads keep taking longer than half of PYOCI_WRITE_SETTLE_MS; writing on \
             this read. Raise PYOCI_WRITE_SETTLE_MS for this registry, or concurrent writes \
             through other replicas may be lost"
        );
        true
    }

    /// Writes `index` under the tag if it is still as read (`read` is its digest then, or
    /// `None` when the tag was absent).
    async fn write(
        &self,
        index: &pyoci_oci::ImageIndex,
        read: Option<&Digest>,
        read_at: Instant,
    ) -> Result<Option<Attempt>, Error> {
        if !self.fresh(read_at) {
            return Ok(Some(Attempt::Stale));
        }
        let precondition = match read {
            Some(digest) => Precondition::Matches(digest.clone()),
            None => Precondition::Absent,
        };
        match self
            .oci
            .put_index_if(self.repo, &self.version.tag(), index, precondition)
            .await
        {
            Ok(_) => Ok(None),
            Err(error) if error.is_precondition_failed() => Ok(Some(Attempt::Refused)),
            Err(error) => Err(error.into()),
        }
    }
}

enum Applied {
    /// Decided without writing; report this.
    Final(EditOutcome),
    /// Written; confirm it stays.
    Written(EditOutcome),
    /// A re-check round found the change still (or again) in place.
    AlreadyInPlace,
}

/// One read, merge and write.
enum Attempt {
    Done(Applied),
    /// Not written: the read grew older than the write window before the write could go.
    Stale,
    /// Not written: the registry answered 412, the index changed since it was read.
    Refused,
}

async fn apply(cycle: &Cycle<'_>, earlier: Option<&EditOutcome>) -> Result<Attempt, Error> {
    let Cycle {
        oci,
        repo,
        version,
        edit,
        profile,
        ..
    } = *cycle;
    let read_at = Instant::now();
    let current = read_index(oci, repo, version).await?;
    let read_digest = current.as_ref().map(|(_, digest)| digest.clone());
    match edit {
        IndexEdit::AddFile(entry) => {
            let architecture = architecture(entry);
            let mut index = match current {
                Some((index, _)) => index,
                None => layout::version_index(profile),
            };
            if let Some(existing) = layout::find_file(&index, architecture) {
                if existing.digest == entry.digest {
                    return Ok(Attempt::Done(Applied::AlreadyInPlace));
                }
                let stored_sha256 = layout::stored_sha256(existing);
                return Ok(Attempt::Done(Applied::Final(EditOutcome::NameTaken {
                    stored_sha256,
                })));
            }
            layout::add_file(&mut index, entry.as_ref().clone());
            // Checked when the upload began too; this catches concurrent uploads.
            layout::limits::check_index(&index, repo, version)?;
            if let Some(not_written) = cycle.write(&index, read_digest.as_ref(), read_at).await? {
                return Ok(not_written);
            }
            Ok(Attempt::Done(Applied::Written(EditOutcome::Added)))
        }
        IndexEdit::RemoveFile { architecture } => {
            // Once removed, only that very entry is removed again: a file uploaded under the
            // same name after the delete is a new file, not ours to remove.
            let removed_digest = match earlier {
                Some(EditOutcome::Removed(removed)) => Some(&removed.digest),
                _ => None,
            };
            let position = current.as_ref().and_then(|(index, _)| {
                index.manifests.iter().position(|entry| {
                    entry
                        .platform
                        .as_ref()
                        .is_some_and(|p| &p.architecture == architecture)
                        && removed_digest.map_or(true, |digest| digest == &entry.digest)
                })
            });
            let (Some((mut index, digest)), Some(position)) = (current, position) else {
                return Ok(Attempt::Done(if earlier.is_some() {
                    Applied::AlreadyInPlace
                } else {
                    Applied::Final(EditOutcome::NotFound)
                }));
            };
            let removed = index.manifests.remove(position);
            if index.manifests.is_empty() {
                // Deleting by digest removes the tag only if it still points to what was
                // read: a delete is conditional by construction.
                if !cycle.fresh(read_at) {
                    return Ok(Attempt::Stale);
                }
                oci.delete_manifest(repo, &digest).await?;
            } else if let Some(not_written) = cycle.write(&index, Some(&digest), read_at).await? {
                return Ok(not_written);
            }
            Ok(Attempt::Done(Applied::Written(EditOutcome::Removed(
                Box::new(removed),
            ))))
        }
        IndexEdit::Annotate {
            architecture,
            key,
            value,
        } => {
            let Some((mut index, _)) = current else {
                return Ok(Attempt::Done(Applied::Final(EditOutcome::NotFound)));
            };
            let mut touched = Vec::new();
            let mut changed = false;
            for entry in index.manifests.iter_mut() {
                let Some(platform) = &entry.platform else {
                    continue;
                };
                if architecture
                    .as_ref()
                    .is_some_and(|wanted| wanted != &platform.architecture)
                {
                    continue;
                }
                touched.push(platform.architecture.clone());
                let old = match value {
                    Some(value) => entry.annotations.insert(key.to_string(), value.clone()),
                    None => entry.annotations.remove(*key),
                };
                changed |= old != *value;
            }
            if touched.is_empty() {
                return Ok(Attempt::Done(Applied::Final(EditOutcome::NotFound)));
            }
            if !changed {
                return Ok(Attempt::Done(Applied::Final(EditOutcome::Annotated(
                    touched,
                ))));
            }
            if value.is_some() {
                layout::limits::check_index(&index, repo, version)?;
            }
            if let Some(not_written) = cycle.write(&index, read_digest.as_ref(), read_at).await? {
                return Ok(not_written);
            }
            Ok(Attempt::Done(Applied::Written(EditOutcome::Annotated(
                touched,
            ))))
        }
    }
}

async fn in_place(
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
    edit: &IndexEdit,
    outcome: Option<&EditOutcome>,
) -> Result<bool, Error> {
    let index = read_index(oci, repo, version).await?;
    let holds = |architecture: &str, digest: &Digest| {
        index.as_ref().is_some_and(|(index, _)| {
            layout::find_file(index, architecture).is_some_and(|found| &found.digest == digest)
        })
    };
    Ok(match (edit, outcome) {
        (IndexEdit::AddFile(entry), _) => holds(architecture(entry), &entry.digest),
        (IndexEdit::RemoveFile { architecture }, Some(EditOutcome::Removed(removed))) => {
            !holds(architecture, &removed.digest)
        }
        (IndexEdit::RemoveFile { .. }, _) => true,
        (IndexEdit::Annotate { key, value, .. }, Some(EditOutcome::Annotated(architectures))) => {
            index.as_ref().is_some_and(|(index, _)| {
                architectures.iter().all(|architecture| {
                    layout::find_file(index, architecture)
                        .is_some_and(|entry| entry.annotations.get(*key) == value.as_ref())
                })
            })
        }
        (IndexEdit::Annotate { .. }, _) => true,
    })
}

fn architecture(entry: &Descriptor) -> &str {
    entry
        .platform
        .as_ref()
        .map(|platform| platform.architecture.as_str())
        .unwrap_or_default()
}

/// This process's turn at writing the index of `version`, for a change made outside
/// [`edit_index`]: deleting the whole version. The key is the one `edit_index` takes.
pub(super) async fn version_turn(
    repository: &Repository,
    version: &PackageVersion,
) -> tokio::sync::OwnedMutexGuard<()> {
    let key = writer_key(&repository.oci, &repository.path, version);
    repository.store.index_writers.take(key).await
}

/// Whose turn it is to write a version's index: one writer per registry, repository and
/// tag in this process.
fn writer_key(oci: &Oci, repo: &str, version: &PackageVersion) -> String {
    format!("{}/{repo}:{}", oci.registry(), version.tag())
}
