//! A small map with a fixed maximum capacity `N` (storage inline, no allocation) and a
//! run-time limit at or below `N`: inserting into a full table fails instead of growing.

use heapless::Vec;

/// Key/value pairs, linear search (the tables here hold a handful of entries).
#[derive(Debug, Clone)]
pub(crate) struct Table<K, V, const N: usize> {
    items: Vec<(K, V), N>,
    limit: usize,
}

impl<K: PartialEq, V, const N: usize> Table<K, V, N> {
    /// An empty table holding at most `min(limit, N)` entries.
    pub(crate) fn new(limit: usize) -> Self {
        Table {
            items: Vec::new(),
            limit: limit.min(N),
        }
    }

    fn position(&self, key: &K) -> Option<usize> {
        self.items.iter().position(|(k, _)| k == key)
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.items
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.position(key).is_some()
    }

    /// Inserts or replaces; `Err(())` when the key is new and the table is full.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Result<(), ()> {
        if let Some(v) = self.get_mut(&key) {
            *v = value;
            return Ok(());
        }
        if self.is_full() {
            return Err(());
        }
        self.items.push((key, value)).map_err(|_| ())
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.position(key)?;
        Some(self.items.swap_remove(i).1)
    }

    /// Removes the entry with the smallest `score`.
    pub(crate) fn evict_min_by_key<S: Ord>(&mut self, score: impl Fn(&K, &V) -> S) {
        let i = self
            .items
            .iter()
            .enumerate()
            .min_by_key(|(_, (k, v))| score(k, v))
            .map(|(i, _)| i);
        if let Some(i) = i {
            self.items.swap_remove(i);
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.items.len() >= self.limit
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.items.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_capacity() {
        let mut t: Table<u8, u8, 3> = Table::new(10);
        for i in 0..3 {
            t.insert(i, i).unwrap();
        }
        assert!(t.is_full());
        assert_eq!(t.insert(9, 9), Err(()));
        t.insert(1, 7).unwrap(); // replace works when full
        assert_eq!(t.get(&1), Some(&7));
        assert_eq!(t.remove(&0), Some(0));
        assert!(!t.contains_key(&0));
        t.evict_min_by_key(|_, v| *v);
        assert_eq!(t.iter().count(), 1);
        let mut small: Table<u8, u8, 3> = Table::new(1);
        small.insert(1, 1).unwrap();
        assert_eq!(small.insert(2, 2), Err(()));
    }
}
