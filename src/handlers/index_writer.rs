//! Changing a version's image index without losing concurrent changes.
//!
//! A version's files live in one index that every upload and delete reads, changes and
//! writes back, and the distribution API has no compare-and-swap. Two defences:
//!
//! - Within one PyOCI process, writers of the same (registry, repository, tag) take turns
//!   ([`WriteLocks`]), so their read-modify-write cycles never interleave.
//! - Across replicas sharing a registry, a writer re-reads the index after a settle delay
//!   and, if another replica's write (based on an older read) dropped its change, applies
//!   it again to the fresh index. A change is reported done only once it was seen in place
//!   after the delay.
//!
//! The guarantee: no change is lost as long as every writer's read-to-write window is
//! shorter than the settle delay (`PYOCI_WRITE_SETTLE_MS`). Within one process that always
//! holds. Between replicas it holds for ordinary registry latencies; a writer stalled longer
//! than the delay between its read and its write can still overwrite a newer index.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use pyoci_oci::{Descriptor, Digest};

use super::{read_index, Oci};
use crate::{app::App, error::Error, layout, package::PackageVersion, profile::Profile};

/// How often a change is re-applied before giving up on a registry that keeps changing.
const MAX_ROUNDS: usize = 5;

/// One lock per (registry, repository, tag) being written, kept while anyone holds it.
#[derive(Default)]
pub struct WriteLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl WriteLocks {
    async fn lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.retain(|_, lock| lock.strong_count() > 0);
            // After a burst of writers to many versions, give the table's memory back.
            if locks.capacity() > 4 * locks.len().max(64) {
                locks.shrink_to_fit();
            }
            match locks.get(&key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

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

/// Applies `edit` to the index of `version` in `repo`, safely against concurrent writers.
pub async fn edit_index(
    app: &App,
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
    edit: IndexEdit,
) -> Result<EditOutcome, Error> {
    let key = format!("{}/{repo}:{}", oci.registry(), version.tag());
    let profile = app.profile(oci.registry());
    let mut outcome = None;
    for _ in 0..MAX_ROUNDS {
        {
            let _turn = app.write_locks.lock(key.clone()).await;
            match apply(oci, repo, version, &edit, outcome.as_ref(), profile).await? {
                Applied::Final(result) => return Ok(result),
                Applied::Written(result) => outcome = Some(result),
                Applied::AlreadyInPlace => {}
            }
        }
        // Off the lock: other writers in this process need not wait out our delay.
        tokio::time::sleep(app.write_settle()).await;
        if in_place(oci, repo, version, &edit, outcome.as_ref()).await? {
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

enum Applied {
    /// Decided without writing; report this.
    Final(EditOutcome),
    /// Written; confirm it stays.
    Written(EditOutcome),
    /// A re-check round found the change still (or again) in place.
    AlreadyInPlace,
}

async fn apply(
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
    edit: &IndexEdit,
    earlier: Option<&EditOutcome>,
    profile: Profile,
) -> Result<Applied, Error> {
    let current = read_index(oci, repo, version).await?;
    match edit {
        IndexEdit::AddFile(entry) => {
            let architecture = architecture(entry);
            let mut index = match current {
                Some((index, _)) => index,
                None => layout::version_index(profile),
            };
            if let Some(existing) = layout::find_file(&index, architecture) {
                if existing.digest == entry.digest {
                    return Ok(Applied::AlreadyInPlace);
                }
                let stored_sha256 = layout::stored_sha256(existing);
                return Ok(Applied::Final(EditOutcome::NameTaken { stored_sha256 }));
            }
            index.manifests.push(entry.as_ref().clone());
            if let Some(created) = entry.annotations.get(layout::CREATED_ANNOTATION) {
                index
                    .annotations
                    .insert(layout::CREATED_ANNOTATION.to_owned(), created.clone());
            }
            oci.put_index(repo, &version.tag(), &index).await?;
            Ok(Applied::Written(EditOutcome::Added))
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
                return Ok(if earlier.is_some() {
                    Applied::AlreadyInPlace
                } else {
                    Applied::Final(EditOutcome::NotFound)
                });
            };
            let removed = index.manifests.remove(position);
            write_or_delete(oci, repo, version, &index, &digest).await?;
            Ok(Applied::Written(EditOutcome::Removed(Box::new(removed))))
        }
        IndexEdit::Annotate {
            architecture,
            key,
            value,
        } => {
            let Some((mut index, _)) = current else {
                return Ok(Applied::Final(EditOutcome::NotFound));
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
                return Ok(Applied::Final(EditOutcome::NotFound));
            }
            if !changed {
                return Ok(Applied::Final(EditOutcome::Annotated(touched)));
            }
            oci.put_index(repo, &version.tag(), &index).await?;
            Ok(Applied::Written(EditOutcome::Annotated(touched)))
        }
    }
}

/// An index with no files left is deleted, which removes the tag.
async fn write_or_delete(
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
    index: &pyoci_oci::ImageIndex,
    old_digest: &Digest,
) -> Result<(), Error> {
    if index.manifests.is_empty() {
        oci.delete_manifest(repo, old_digest).await?;
    } else {
        oci.put_index(repo, &version.tag(), index).await?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn write_locks_keep_only_the_locks_held() {
        let locks = WriteLocks::default();
        let held = locks.lock("registry/a:1.0".to_owned()).await;
        // A burst of writers to many versions at once, all done.
        let mut burst = Vec::new();
        for n in 0..1_000 {
            burst.push(locks.lock(format!("registry/b:{n}")).await);
        }
        drop(burst);
        let _again = locks.lock("registry/c:1.0".to_owned()).await;
        let table = locks.0.lock().unwrap();
        assert_eq!(table.len(), 2, "the held lock and the new one");
        assert!(table.capacity() < 1_000, "{}", table.capacity());
        drop(table);
        drop(held);
    }
}
