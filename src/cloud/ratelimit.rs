//! Client-side rate limiting: a token bucket per API credential (the `governor` crate), handed out
//! by a [`RateLimiters`] registry that its owner (the operator's context) keeps, so that every
//! client of one account shares one bucket and a bucket is freed once no client holds it.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};

/// Sustained request rate and burst allowed per credential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: requests that may go out at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    fn quota(self) -> Quota {
        let per_second = if self.per_second.is_finite() && self.per_second > 0.0 {
            self.per_second
        } else {
            f64::MIN_POSITIVE
        };
        // One token every 1/rate seconds, clamped to [1 ns, 1 day] (governor cannot hold periods
        // beyond ~584 years, and a rate below one per day is no rate limit anyone means).
        const DAY: Duration = Duration::from_secs(86_400);
        let period = Duration::try_from_secs_f64(1.0 / per_second)
            .unwrap_or(DAY)
            .clamp(Duration::from_nanos(1), DAY);
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// One token bucket.
pub struct TokenBucket {
    limit: RateLimit,
    limiter: DefaultDirectRateLimiter,
}

impl std::fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBucket")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl TokenBucket {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            limiter: DefaultDirectRateLimiter::direct(limit.quota()),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a token without waiting; `false` when none is available now.
    pub fn try_acquire(&self) -> bool {
        self.limiter.check().is_ok()
    }

    /// Waits until a token is available.
    pub async fn acquire(&self) {
        self.limiter.until_ready().await;
    }
}

/// Hands out one shared [`TokenBucket`] per (API, credential). The registry is keyed by a hash, so
/// the credential itself is never stored; it holds buckets weakly, so a bucket lives exactly as long
/// as some client uses it. Every bucket gets the registry's limit.
#[derive(Debug)]
pub struct RateLimiters {
    limit: RateLimit,
    buckets: Mutex<HashMap<u64, Weak<TokenBucket>>>,
}

impl RateLimiters {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// The bucket of `credential` on `api`, shared with every other live holder of it.
    pub fn bucket(&self, api: &str, credential: &str) -> Arc<TokenBucket> {
        let mut hasher = DefaultHasher::new();
        api.hash(&mut hasher);
        credential.hash(&mut hasher);
        let key = hasher.finish();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = map.get(&key).and_then(Weak::upgrade) {
            return bucket;
        }
        map.retain(|_, b| b.strong_count() > 0);
        let bucket = Arc::new(TokenBucket::new(self.limit));
        map.insert(key, Arc::downgrade(&bucket));
        bucket
    }

    /// Number of buckets some client still holds.
    pub fn live(&self) -> usize {
        let map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|b| b.strong_count() > 0).count()
    }
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
        assert!(b.try_acquire());
        assert!(b.try_acquire());
        assert!(!b.try_acquire());
    }

    #[test]
    fn shared_by_credential_and_freed_when_unused() {
        let reg = RateLimiters::new(RateLimit {
            per_second: 1.0,
            burst: 1,
        });
        let a = reg.bucket("t", "k-shared-test");
        let b = reg.bucket("t", "k-shared-test");
        let c = reg.bucket("t", "other");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(reg.live(), 2);
        drop((a, b));
        assert_eq!(reg.live(), 1);
        let d = reg.bucket("t", "k-shared-test");
        assert!(d.try_acquire(), "a freed bucket starts full again");
    }

    #[test]
    fn degenerate_limits_do_not_panic() {
        for per_second in [0.0, -1.0, f64::NAN, 1e-12, 1e12] {
            let b = TokenBucket::new(RateLimit {
                per_second,
                burst: 0,
            });
            assert!(b.try_acquire());
        }
    }
}
