//! What this process knows about listing documents beyond their content: which ones it
//! found wrong, which projects' documents it could not keep right, when each was last
//! checked, and whose turn it is to write or check one.

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use pyoci_oci::Digest;
use tokio::sync::OwnedMutexGuard;

use crate::{
    cache::{Fingerprint, Project},
    turns::Turns,
};

/// How many distrusted documents and untrusted projects are remembered; the oldest go
/// first, so endless projects cannot grow the sets.
const MAX_REMEMBERED: usize = 4096;

/// The trust this process puts in listing documents. See the module docs.
pub struct Trust {
    check_interval: Duration,
    inner: Mutex<Inner>,
    /// One document writer per project in this process.
    writers: Turns<Project>,
    /// One background check per project at a time.
    checkers: Turns<Project>,
}

#[derive(Default)]
struct Inner {
    /// Documents (by manifest digest) found to disagree with the tags: listings read every
    /// version until the document changes.
    distrusted: HashSet<(Project, Digest)>,
    /// Projects whose document this process failed to update and could not delete: their
    /// document is not used until this process writes it again from a full read.
    untrusted: HashSet<Project>,
    /// When a document was last checked for each project and caller.
    checked: HashMap<(Project, Option<Fingerprint>), Instant>,
}

impl Trust {
    /// Checks each project's document at most once per `check_interval` per caller.
    pub fn new(check_interval: Duration) -> Trust {
        Trust {
            check_interval,
            inner: Mutex::new(Inner::default()),
            writers: Turns::default(),
            checkers: Turns::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each update is whole: a panic while holding the lock leaves consistent sets.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether listings may use the document of `project` whose manifest is `digest`.
    pub fn trusts(&self, project: &Project, digest: &Digest) -> bool {
        let inner = self.lock();
        !inner.untrusted.contains(project)
            && !inner
                .distrusted
                .contains(&(project.clone(), digest.clone()))
    }

    /// Whether a writer must build the document of `project` afresh from every version's
    /// tag rather than change the one it read (`digest`, when there is one).
    pub fn needs_rebuild(&self, project: &Project, digest: Option<&Digest>) -> bool {
        digest.map_or(true, |digest| !self.trusts(project, digest))
    }

    /// The document `digest` of `project` disagrees with the registry's tags.
    pub fn distrust(&self, project: &Project, digest: &Digest) {
        let mut inner = self.lock();
        if inner.distrusted.len() >= MAX_REMEMBERED {
            inner.distrusted.clear();
        }
        inner.distrusted.insert((project.clone(), digest.clone()));
    }

    /// This process failed to keep the document of `project` right and could not delete it.
    pub fn untrust(&self, project: &Project) {
        let mut inner = self.lock();
        if inner.untrusted.len() >= MAX_REMEMBERED {
            // Forgetting is safe only while the background check is there to catch it.
            inner.untrusted.clear();
        }
        inner.untrusted.insert(project.clone());
    }

    /// This process wrote the document of `project` from a full read: it is right again.
    pub fn trust_again(&self, project: &Project) {
        self.lock().untrusted.remove(project);
    }

    /// Whether a check of `project`'s document for `caller` is due, and if so, records it
    /// as done now: the first time at once, then at most once per check interval.
    pub fn check_due(&self, project: &Project, caller: Option<Fingerprint>) -> bool {
        let mut inner = self.lock();
        let key = (project.clone(), caller);
        if inner
            .checked
            .get(&key)
            .is_some_and(|at| at.elapsed() < self.check_interval)
        {
            return false;
        }
        if inner.checked.len() >= MAX_REMEMBERED {
            let interval = self.check_interval;
            inner.checked.retain(|_, at| at.elapsed() < interval);
            if inner.checked.len() >= MAX_REMEMBERED {
                // Forgotten callers are checked again sooner, never later.
                inner.checked.clear();
            }
        }
        inner.checked.insert(key, Instant::now());
        true
    }

    /// The turn to write `project`'s document.
    pub async fn writer_turn(&self, project: Project) -> OwnedMutexGuard<()> {
        self.writers.take(project).await
    }

    /// The turn to check `project`'s document, unless a check runs already.
    pub fn checker_turn(&self, project: Project) -> Option<OwnedMutexGuard<()>> {
        self.checkers.try_take(project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distrust_is_per_document_and_untrust_per_project() {
        let trust = Trust::new(Duration::from_secs(60));
        let demo = Project::new("http://registry.test", "acme/demo");
        let (old, new) = (Digest::sha256_of(b"old"), Digest::sha256_of(b"new"));
        assert!(trust.trusts(&demo, &old));
        trust.distrust(&demo, &old);
        assert!(!trust.trusts(&demo, &old));
        assert!(
            trust.trusts(&demo, &new),
            "a changed document is tried again"
        );
        assert!(trust.needs_rebuild(&demo, Some(&old)));
        assert!(trust.needs_rebuild(&demo, None));
        assert!(!trust.needs_rebuild(&demo, Some(&new)));

        trust.untrust(&demo);
        assert!(!trust.trusts(&demo, &new));
        trust.trust_again(&demo);
        assert!(trust.trusts(&demo, &new));
    }

    #[test]
    fn a_check_is_due_at_once_then_once_per_interval() {
        let trust = Trust::new(Duration::from_millis(100));
        let demo = Project::new("http://registry.test", "acme/demo");
        assert!(trust.check_due(&demo, None));
        assert!(!trust.check_due(&demo, None));
        std::thread::sleep(Duration::from_millis(120));
        assert!(trust.check_due(&demo, None));
    }
}
