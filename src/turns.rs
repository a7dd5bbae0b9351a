//! Turns per key within this process: one reader per cached page (when a page expires under
//! load, the first request reads it again and the others wait for that), one writer per
//! version index (`write_locks.rs`).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, Weak},
};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A lock per key, kept only while someone holds or waits for it.
pub struct Turns<K>(Mutex<HashMap<K, Weak<AsyncMutex<()>>>>);

impl<K> Default for Turns<K> {
    fn default() -> Self {
        Turns(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq> Turns<K> {
    /// Waits for the turn of `key`; the turn passes on when the guard drops.
    pub async fn take(&self, key: K) -> OwnedMutexGuard<()> {
        self.lock_of(key).lock_owned().await
    }

    /// The turn of `key` if it is free now.
    pub fn try_take(&self, key: K) -> Option<OwnedMutexGuard<()>> {
        self.lock_of(key).try_lock_owned().ok()
    }

    fn lock_of(&self, key: K) -> Arc<AsyncMutex<()>> {
        let mut locks = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.retain(|_, lock| lock.strong_count() > 0);
        if locks.capacity() > 4 * locks.len().max(64) {
            locks.shrink_to_fit();
        }
        match locks.get(&key).and_then(Weak::upgrade) {
            Some(lock) => lock,
            None => {
                let lock = Arc::new(AsyncMutex::new(()));
                locks.insert(key, Arc::downgrade(&lock));
                lock
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_free_turn_is_taken_at_once_and_a_held_one_is_not() {
        let turns = Turns::default();
        let held = turns.try_take("a").expect("a free turn");
        assert!(turns.try_take("a").is_none());
        assert!(turns.try_take("b").is_some());
        drop(held);
        assert!(turns.try_take("a").is_some());
    }

    #[tokio::test]
    async fn one_turn_per_key_and_nothing_kept_after() {
        let turns = Turns::default();
        let first = turns.take("a").await;
        // Another key is free; the same key waits.
        drop(turns.take("b").await);
        let waiting = tokio::time::timeout(Duration::from_millis(50), turns.take("a")).await;
        assert!(waiting.is_err(), "the same key waited");
        drop(first);
        drop(turns.take("a").await);
        turns.take("c").await;
        assert!(turns
            .0
            .lock()
            .unwrap()
            .values()
            .all(|lock| lock.strong_count() == 0));
    }

    #[tokio::test]
    async fn a_burst_of_keys_gives_its_memory_back() {
        let turns = Turns::default();
        let held = turns.take("registry/a:1.0".to_owned()).await;
        // A burst of writers to many versions at once, all done.
        let mut burst = Vec::new();
        for n in 0..1_000 {
            burst.push(turns.take(format!("registry/b:{n}")).await);
        }
        drop(burst);
        let _again = turns.take("registry/c:1.0".to_owned()).await;
        let table = turns.0.lock().unwrap();
        assert_eq!(table.len(), 2, "the held lock and the new one");
        assert!(table.capacity() < 1_000, "{}", table.capacity());
        drop(table);
        drop(held);
    }
}
