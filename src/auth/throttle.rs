//! Failure throttling for login, the password grant, client authentication and token-info
//! (oauth2.md §7, security.md D4): each key counts failures in a fixed window; over budget, the
//! request is answered 429 with `Retry-After` before any credential check.
//!
//! Counters live in the instance's memory: with several instances each keeps its own budget, so
//! the effective limit is the budget times the number of instances (documented in the README).

use dashmap::DashMap;

/// How many keys may be tracked before stale windows are swept.
const SWEEP_AT: usize = 100_000;

/// A sharded map, so requests on different cores rarely wait for each other (token-info checks
/// it on every request).
#[derive(Debug, Default)]
pub struct Throttle {
    windows: DashMap<String, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    failures: u32,
}

impl Throttle {
    /// `Some(retry_after_secs)` when `key` has used up `budget` failures in the current window.
    pub fn check(&self, key: &str, budget: u32, window_secs: i64, now: i64) -> Option<i64> {
        let w = *self.windows.get(key)?;
        let ends = w.started + window_secs;
        (now < ends && w.failures >= budget).then(|| (ends - now).max(1))
    }

    /// Counts one failure against `key`.
    pub fn fail(&self, key: &str, window_secs: i64, now: i64) {
        let fresh = Window {
            started: now,
            failures: 0,
        };
        // The common case (a key already counting) neither allocates nor takes every shard.
        let mut w = match self.windows.get_mut(key) {
            Some(w) => w,
            None => {
                if self.windows.len() >= SWEEP_AT {
                    self.windows.retain(|_, w| w.started + window_secs > now);
                }
                self.windows.entry(key.to_owned()).or_insert(fresh)
            }
        };
        if w.started + window_secs <= now {
            *w = fresh;
        }
        w.failures = w.failures.saturating_add(1);
    }

    /// Forgets the failures of `key` (after a successful login, say).
    pub fn clear(&self, key: &str) {
        self.windows.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_spent_by_failures_and_restored_by_the_next_window() {
        let t = Throttle::default();
        for _ in 0..5 {
            assert_eq!(t.check("acct:alice", 5, 900, 1000), None);
            t.fail("acct:alice", 900, 1000);
        }
        assert_eq!(t.check("acct:alice", 5, 900, 1000), Some(900));
        assert_eq!(t.check("acct:alice", 5, 900, 1899), Some(1));
        assert_eq!(t.check("acct:alice", 5, 900, 1900), None);
        assert_eq!(t.check("acct:bob", 5, 900, 1000), None);
    }

    #[test]
    fn clearing_a_key_forgets_its_failures() {
        let t = Throttle::default();
        t.fail("ip:1", 60, 0);
        t.clear("ip:1");
        assert_eq!(t.check("ip:1", 1, 60, 0), None);
    }
}
