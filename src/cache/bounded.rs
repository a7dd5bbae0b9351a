//! A map bounded by the bytes its values hold, evicting the least recently used entries.

use std::{
    borrow::Borrow,
    collections::{BTreeMap, HashMap},
    hash::Hash,
};

/// Entries with their weight (an estimate of the bytes they hold), at most `limit` bytes in
/// all. A lookup marks an entry used; an insert evicts the least recently used entries
/// until the new one fits. An entry heavier than the whole limit is not kept at all.
pub struct BoundedMap<K, V> {
    entries: HashMap<K, Slot<V>>,
    /// Use order: the tick of each entry's last use, oldest first.
    order: BTreeMap<u64, K>,
    tick: u64,
    bytes: usize,
    limit: usize,
}

struct Slot<V> {
    value: V,
    weight: usize,
    used: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map holding at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BoundedMap {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            limit,
        }
    }

    /// The value under `key`, marked as just used.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.tick += 1;
        let tick = self.tick;
        let slot = self.entries.get_mut(key)?;
        if let Some(owner) = self.order.remove(&slot.used) {
            self.order.insert(tick, owner);
        }
        slot.used = tick;
        Some(&slot.value)
    }

    /// Stores `value` under `key` (replacing what was there), evicting least recently used
    /// entries until the bytes fit. Returns whether the value was kept.
    pub fn insert(&mut self, key: K, value: V, weight: usize) -> bool {
        self.remove(&key);
        if weight > self.limit {
            return false;
        }
        while self.bytes + weight > self.limit {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(slot) = self.entries.remove(&oldest) {
                self.bytes -= slot.weight;
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.bytes += weight;
        self.entries.insert(
            key,
            Slot {
                value,
                weight,
                used: self.tick,
            },
        );
        true
    }

    /// Takes the entry under `key` out.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.entries.remove(key)?;
        self.order.remove(&slot.used);
        self.bytes -= slot.weight;
        Some(slot.value)
    }

    /// The bytes the entries hold, by their weights.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many entries there are.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_bytes_evicting_the_least_recently_used() {
        let mut map = BoundedMap::new(100);
        assert!(map.insert("a", 1, 40));
        assert!(map.insert("b", 2, 40));
        // `a` is used, so `b` is now the least recently used.
        assert_eq!(map.get("a"), Some(&1));
        assert!(map.insert("c", 3, 40));
        assert_eq!(map.bytes(), 80);
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("b"), None, "the least recently used entry went");
        assert_eq!(map.get("a"), Some(&1));
        assert_eq!(map.get("c"), Some(&3));
    }

    #[test]
    fn an_entry_larger_than_the_limit_is_not_kept_and_evicts_nothing() {
        let mut map = BoundedMap::new(100);
        assert!(map.insert("a", 1, 60));
        assert!(!map.insert("huge", 2, 101));
        assert_eq!(map.get("a"), Some(&1));
        assert_eq!(map.get("huge"), None);
        assert_eq!(map.bytes(), 60);
    }

    #[test]
    fn replacing_and_removing_keep_the_byte_count() {
        let mut map = BoundedMap::new(100);
        map.insert("a", 1, 30);
        map.insert("a", 2, 50);
        assert_eq!((map.bytes(), map.len()), (50, 1));
        assert_eq!(map.get("a"), Some(&2));
        assert_eq!(map.remove("a"), Some(2));
        assert_eq!((map.bytes(), map.len()), (0, 0));
        // Many inserts into a small map: the bound holds throughout.
        for i in 0..1000 {
            map.insert(if i % 2 == 0 { "x" } else { "y" }, i, 7 + i % 40);
            assert!(map.bytes() <= 100);
        }
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let mut map = BoundedMap::new(0);
        assert!(!map.insert("a", 1, 1));
        assert_eq!(map.len(), 0);
    }
}
