//! Client-side rate limiting: one token bucket per API credential, shared process-wide.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Sustained request rate and burst allowed per credential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: requests that may go out at once after a quiet period.
    pub burst: u32,
}

/// A token bucket. Callers reserve a token and sleep until it is theirs, so waiters are served
/// in arrival order and the long-run rate never exceeds `per_second`.
#[derive(Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new((f64::from(limit.burst.max(1)), Instant::now())),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Reserves one token and returns how long the caller must wait before using it.
    pub fn reserve(&self) -> Duration {
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        let burst = f64::from(self.limit.burst.max(1));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.1).as_secs_f64();
        state.0 = (state.0 + elapsed * rate).min(burst);
        state.1 = now;
        state.0 -= 1.0;
        if state.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.0 / rate)
        }
    }

    /// Waits until a token is available.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

type Registry = Mutex<HashMap<u64, Arc<TokenBucket>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The bucket shared by every client of `api` using `credential`. The registry is keyed by a
/// hash, so the credential itself is never stored here. The first caller's limit wins.
pub fn shared_bucket(api: &str, credential: &str, limit: RateLimit) -> Arc<TokenBucket> {
    let mut hasher = DefaultHasher::new();
    api.hash(&mut hasher);
    credential.hash(&mut hasher);
    let key = hasher.finish();
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key)
        .or_insert_with(|| Arc::new(TokenBucket::new(limit)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let b = TokenBucket::new(RateLimit {
            per_second: 10.0,
            burst: 2,
        });
        assert_eq!(b.reserve(), Duration::ZERO);
        assert_eq!(b.reserve(), Duration::ZERO);
        let w = b.reserve();
        assert!(w > Duration::from_millis(50) && w <= Duration::from_millis(100));
        let w2 = b.reserve();
        assert!(w2 > w);
    }

    #[test]
    fn shared_by_credential() {
        let l = RateLimit {
            per_second: 1.0,
            burst: 1,
        };
        let a = shared_bucket("t", "k-shared-test", l);
        let b = shared_bucket("t", "k-shared-test", l);
        let c = shared_bucket("t", "other", l);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
