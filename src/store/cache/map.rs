//! The map under the validation cache (issue 17): shards of a plain hash map behind read-write
//! locks, each entry with its birth time (the TTL, checked on read) and a "used" bit for a
//! clock-style (second chance) eviction when a shard is full. A hit is one uncontended read lock,
//! one probe and one `Arc` clone; unlike moka, it records nothing per read beyond that bit (set
//! only when clear, so a hot entry's cache line stays shared), which keeps 100,000 hot tokens about
//! as cheap as 1,000. Revocations scan (`retain`); they are rare next to reads.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Shards per map: enough that two cores rarely meet on one lock.
const SHARDS: usize = 64;
/// How many entries an eviction looks at before it takes one even if used.
const SCAN: usize = 32;

struct Slot<V> {
    value: Arc<V>,
    born: Instant,
    used: AtomicBool,
}

type Shard<K, V> = HashMap<K, Slot<V>, RandomState>;

/// A bounded map with a TTL; see the module docs.
pub(crate) struct ClockMap<K, V> {
    shards: Box<[RwLock<Shard<K, V>>]>,
    hasher: RandomState,
    per_shard: usize,
    ttl: Duration,
}

impl<K: Hash + Eq + Clone, V> ClockMap<K, V> {
    pub(crate) fn new(capacity: u64, ttl: Duration) -> Self {
        let per_shard = (usize::try_from(capacity).unwrap_or(usize::MAX) / SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
            per_shard,
            ttl,
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<Shard<K, V>> {
        // The high bits: the shard's own map uses the low ones of its own hash.
        let hash = self.hasher.hash_one(key);
        &self.shards[(hash >> 58) as usize % SHARDS]
    }

    fn read(shard: &RwLock<Shard<K, V>>) -> RwLockReadGuard<'_, Shard<K, V>> {
        shard.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(shard: &RwLock<Shard<K, V>>) -> RwLockWriteGuard<'_, Shard<K, V>> {
        shard.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The live entry under `key`.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = Self::read(self.shard(key));
        let slot = shard.get(key)?;
        if slot.born.elapsed() >= self.ttl {
            return None;
        }
        if !slot.used.load(Ordering::Relaxed) {
            slot.used.store(true, Ordering::Relaxed);
        }
        Some(Arc::clone(&slot.value))
    }

    /// Inserts (or replaces) `key`; a full shard first evicts an expired or unused entry.
    pub(crate) fn insert(&self, key: K, value: Arc<V>) {
        let mut shard = Self::write(self.shard(&key));
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            self.evict(&mut shard);
        }
        let slot = Slot {
            value,
            born: Instant::now(),
            used: AtomicBool::new(false),
        };
        shard.insert(key, slot);
    }

    /// Second chance: the first expired or unused entry of a short scan goes, clearing the used
    /// bits it passes; if all were used, the last one scanned goes.
    fn evict(&self, shard: &mut Shard<K, V>) {
        let mut victim = None;
        for (i, (key, slot)) in shard.iter().enumerate() {
            let idle = !slot.used.swap(false, Ordering::Relaxed);
            if idle || slot.born.elapsed() >= self.ttl || i + 1 == SCAN {
                victim = Some(key.clone());
                break;
            }
        }
        if let Some(victim) = victim {
            shard.remove(&victim);
        }
    }

    /// Drops `key`.
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        Self::write(self.shard(key)).remove(key);
    }

    /// Drops every entry for which `drop` holds (and the expired ones, while it is there).
    pub(crate) fn drop_if(&self, drop: impl Fn(&K, &V) -> bool) {
        for shard in &self.shards {
            Self::write(shard)
                .retain(|k, slot| !drop(k, &slot.value) && slot.born.elapsed() < self.ttl);
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            Self::write(shard).clear();
        }
    }

    /// Entries held (expired ones not yet dropped included).
    pub(crate) fn len(&self) -> u64 {
        self.shards.iter().map(|s| Self::read(s).len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_until_their_ttl_and_a_full_shard_evicts_an_unused_one_first() {
        let map: ClockMap<u64, u64> = ClockMap::new(SHARDS as u64 * 4, Duration::from_secs(60));
        for k in 0..10_000u64 {
            map.insert(k, Arc::new(k));
        }
        assert!(map.len() <= SHARDS as u64 * 4, "bounded: {}", map.len());
        // A used entry survives the next evictions of its shard; an unused one goes first.
        let map: ClockMap<u64, u64> = ClockMap::new(SHARDS as u64 * 2, Duration::from_secs(60));
        let shard_of = |k: u64| (map.hasher.hash_one(k) >> 58) as usize % SHARDS;
        let same: Vec<u64> = (0..).filter(|k| shard_of(*k) == 0).take(3).collect();
        map.insert(same[0], Arc::new(0));
        map.insert(same[1], Arc::new(1));
        assert!(map.get(&same[0]).is_some());
        map.insert(same[2], Arc::new(2));
        assert!(map.get(&same[0]).is_some(), "the used entry stays");
        assert!(map.get(&same[1]).is_none(), "the unused one went");
        map.drop_if(|k, _| *k == same[0]);
        assert!(map.get(&same[0]).is_none());
        map.remove(&same[2]);
        assert!(map.get(&same[2]).is_none());
        let expired: ClockMap<u64, u64> = ClockMap::new(100, Duration::ZERO);
        expired.insert(1, Arc::new(1));
        assert!(expired.get(&1).is_none());
    }
}
