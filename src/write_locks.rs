//! Turns for the writers of one version index within this process (see
//! `handlers/index_writer.rs`). Kept apart from the handlers so that `App`, which holds the
//! table, does not depend on them.

use tokio::sync::OwnedMutexGuard;

use crate::turns::Turns;

/// One lock per (registry, repository, tag) being written, kept while anyone holds it.
#[derive(Default)]
pub struct WriteLocks(Turns<String>);

impl WriteLocks {
    pub(crate) async fn lock(&self, key: String) -> OwnedMutexGuard<()> {
        self.0.take(key).await
    }
}
