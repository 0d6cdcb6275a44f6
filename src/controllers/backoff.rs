//! Per-object retry delays: exponential backoff with full jitter, honouring the server's
//! `Retry-After`, reset once the object reconciles cleanly. The delay grows with time spent
//! failing, not with the number of attempts: an object woken early by an event (a watched VM that
//! changes every few milliseconds) and failing again keeps its schedule instead of being pushed
//! towards the ceiling.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngExt;

/// Delays of consecutive failures of one object.
#[derive(Debug)]
pub struct Backoff<K: Eq + Hash> {
    base: Duration,
    max: Duration,
    attempts: Mutex<HashMap<K, Failing>>,
}

/// One object's failures so far, and when its current delay runs out.
#[derive(Debug, Clone, Copy)]
struct Failing {
    failures: u32,
    due: Instant,
}

impl<K: Eq + Hash> Backoff<K> {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before the next attempt of `key` after one more failure. Full jitter spreads
    /// retries of objects that failed together; `retry_after` is a floor.
    pub fn next(&self, key: K, retry_after: Option<Duration>) -> Duration {
        self.next_at(key, retry_after, Instant::now())
    }

    fn next_at(&self, key: K, retry_after: Option<Duration>, now: Instant) -> Duration {
        let floor = retry_after.unwrap_or_default();
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = map.get(&key)
            && f.due > now
        {
            // Woken before the delay ran out: the schedule stands.
            return (f.due - now).max(floor);
        }
        let failures = map.get(&key).map_or(0, |f| f.failures).saturating_add(1);
        let cap = self.ceiling(failures);
        let delay = cap
            .mul_f64(rand::rng().random_range(0.5..=1.0))
            .max(floor)
            .min(self.max.max(floor));
        map.insert(
            key,
            Failing {
                failures,
                due: now + delay,
            },
        );
        delay
    }

    /// The upper bound of the `n`th delay (before jitter).
    pub fn ceiling(&self, n: u32) -> Duration {
        let exp = n.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }

    /// Forgets `key`'s failures.
    pub fn reset(&self, key: &K) {
        self.attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    pub fn failures(&self, key: &K) -> u32 {
        self.attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .map_or(0, |f| f.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut now = Instant::now();
        let d1 = b.next_at("a", None, now);
        assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
        now += d1;
        let d2 = b.next_at("a", None, now);
        assert!(d2 >= Duration::from_secs(1) && d2 <= Duration::from_secs(2));
        for _ in 0..30 {
            now += Duration::from_secs(61);
            assert!(b.next_at("a", None, now) <= Duration::from_secs(60));
        }
        assert_eq!(b.ceiling(10), Duration::from_secs(60));
        assert_eq!(b.failures(&"a"), 32);
        b.reset(&"a");
        assert_eq!(b.failures(&"a"), 0);
        assert!(b.next("b", Some(Duration::from_secs(120))) >= Duration::from_secs(120));
    }

    #[test]
    fn early_wake_ups_keep_the_schedule() {
        // A regression test: an object woken every 25 ms by a watched VM reached the 300 s
        // ceiling within seconds and then waited minutes once the wake-ups stopped.
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let start = Instant::now();
        let first = b.next_at("a", None, start);
        let mut now = start;
        for _ in 0..200 {
            now += Duration::from_millis(1);
            let d = b.next_at("a", None, now);
            assert!(now + d <= start + first + Duration::from_millis(1));
        }
        assert_eq!(b.failures(&"a"), 1);
        // Once the delay has run out, the next failure grows it.
        let d = b.next_at("a", None, start + first);
        assert_eq!(b.failures(&"a"), 2);
        assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(2));
        // A server's Retry-After still wins over the schedule.
        let d = b.next_at("a", Some(Duration::from_secs(30)), start + first);
        assert_eq!(d, Duration::from_secs(30));
    }
}
