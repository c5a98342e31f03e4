//! The set of claimed items this process is still working on.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Items this process claimed and whose results are not stored yet.
///
/// When a lease runs out while its item is still in progress (a slow
/// transaction, a slow result write), the next poll claims the item again.
/// Checking [`Held::hold`] turns that claim into a lease extension, so the
/// item is not started a second time by this process.
#[derive(Debug)]
pub struct Held<K> {
    keys: Arc<Mutex<HashSet<K>>>,
}

impl<K> Clone for Held<K> {
    fn clone(&self) -> Held<K> {
        Held {
            keys: self.keys.clone(),
        }
    }
}

impl<K> Default for Held<K> {
    fn default() -> Held<K> {
        Held {
            keys: Arc::default(),
        }
    }
}

impl<K: Eq + Hash> Held<K> {
    /// Marks `key` as in progress and returns `true`, or returns `false`
    /// when it already was.
    pub fn hold(&self, key: K) -> bool {
        self.lock().insert(key)
    }

    /// Returns a guard that removes `keys` from the set when dropped,
    /// however the task that owns it ends.
    pub fn release_on_drop(&self, keys: Vec<K>) -> Release<K> {
        Release {
            held: self.clone(),
            keys,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<K>> {
        // The set stays consistent even if a holder panicked.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Removes its keys from a [`Held`] set when dropped.
#[derive(Debug)]
pub struct Release<K: Eq + Hash> {
    held: Held<K>,
    keys: Vec<K>,
}

impl<K: Eq + Hash> Drop for Release<K> {
    fn drop(&mut self) {
        let mut held = self.held.lock();
        for key in &self.keys {
            held.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_until_released() {
        let held = Held::default();
        assert!(held.hold(1));
        assert!(!held.hold(1), "a second claim only extends the lease");
        let release = held.release_on_drop(vec![1]);
        assert!(!held.hold(1));
        drop(release);
        assert!(held.hold(1), "released once the task ends");
    }
}
