//! Turns for the writers of one version index within this process (see
//! `handlers/index_writer.rs`). Kept apart from the handlers so that `App`, which holds the
//! table, does not depend on them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

/// One lock per (registry, repository, tag) being written, kept while anyone holds it.
#[derive(Default)]
pub struct WriteLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl WriteLocks {
    pub(crate) async fn lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
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
