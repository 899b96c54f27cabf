//! Rate limits as data: one enum of limited actions, each with a quota from config.
//!
//! The limiter is behind a small trait so a shared backend (Redis) can replace the
//! in-process governor one when several replicas run. In-process limits protect
//! each replica against bursts; correctness-critical counters (frequencyPerDay,
//! login failures) live in the database, not here.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::{QuotaConfig, RateLimitsConfig};

/// What a request is doing, for rate limiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitedAction {
    /// TPP API calls on the mTLS listener (`/v1`, `/v2`, …), keyed by client certificate.
    TppApi,
    /// OAuth endpoints on the mTLS listener, keyed by client certificate.
    OAuth,
    /// Anything on the public listener, keyed by source IP.
    Public,
}

impl LimitedAction {
    pub const ALL: [LimitedAction; 3] = [
        LimitedAction::TppApi,
        LimitedAction::OAuth,
        LimitedAction::Public,
    ];

    pub fn quota(self, config: &RateLimitsConfig) -> QuotaConfig {
        match self {
            LimitedAction::TppApi => config.tpp_api,
            LimitedAction::OAuth => config.oauth,
            LimitedAction::Public => config.public,
        }
    }
}

/// How long to wait before the next request of this kind may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, rounded up, at least 1.
    pub fn seconds(&self) -> u64 {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        secs.max(1)
    }
}

pub trait RateLimiter: Send + Sync + std::fmt::Debug + 'static {
    fn check(&self, action: LimitedAction, key: &str) -> Result<(), RetryAfter>;

    /// Forgets idle keys so memory does not grow with every client ever seen.
    fn housekeeping(&self) {}
}

/// Per-process keyed token buckets (governor's GCRA).
pub struct LocalRateLimiter {
    limiters: HashMap<LimitedAction, DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for LocalRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalRateLimiter")
    }
}

impl LocalRateLimiter {
    pub fn new(config: &RateLimitsConfig) -> LocalRateLimiter {
        let limiters = LimitedAction::ALL
            .into_iter()
            .map(|action| {
                let q = action.quota(config);
                let per_second = NonZeroU32::new(q.per_second).unwrap_or(NonZeroU32::MIN);
                let burst = NonZeroU32::new(q.burst).unwrap_or(NonZeroU32::MIN);
                let quota = Quota::per_second(per_second).allow_burst(burst);
                (action, DefaultKeyedRateLimiter::keyed(quota))
            })
            .collect();
        LocalRateLimiter {
            limiters,
            clock: DefaultClock::default(),
        }
    }
}

impl RateLimiter for LocalRateLimiter {
    fn check(&self, action: LimitedAction, key: &str) -> Result<(), RetryAfter> {
        let Some(limiter) = self.limiters.get(&action) else {
            return Ok(());
        };
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| RetryAfter(not_until.wait_time_from(self.clock.now())))
    }

    fn housekeeping(&self) {
        for limiter in self.limiters.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(burst: u32) -> RateLimitsConfig {
        let q = QuotaConfig {
            per_second: 1,
            burst,
        };
        RateLimitsConfig {
            tpp_api: q,
            oauth: q,
            public: q,
        }
    }

    #[test]
    fn the_burst_is_allowed_and_the_next_request_is_told_when_to_retry() {
        let limiter = LocalRateLimiter::new(&config(3));
        for _ in 0..3 {
            assert!(limiter.check(LimitedAction::TppApi, "client-a").is_ok());
        }
        let retry = limiter
            .check(LimitedAction::TppApi, "client-a")
            .unwrap_err();
        assert_eq!(retry.seconds(), 1);
    }

    #[test]
    fn keys_and_actions_have_separate_buckets() {
        let limiter = LocalRateLimiter::new(&config(1));
        assert!(limiter.check(LimitedAction::TppApi, "a").is_ok());
        assert!(limiter.check(LimitedAction::TppApi, "b").is_ok());
        assert!(limiter.check(LimitedAction::OAuth, "a").is_ok());
        assert!(limiter.check(LimitedAction::TppApi, "a").is_err());
    }
}
