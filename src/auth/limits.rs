//! Rate limits (governor's GCRA buckets) and the login lockout.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A keyed limiter that answers how long to wait.
pub struct Limiter<K: Hash + Eq + Clone> {
    inner: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `per_period` requests per `period`, bursts up to `burst`.
    pub fn new(per_period: u32, period: Duration, burst: u32) -> Self {
        let n = NonZeroU32::new(per_period.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let replenish = period / n.get();
        let quota = Quota::with_period(replenish.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(n))
            .allow_burst(burst);
        Self {
            inner: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` or how long until the next request would be admitted.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.inner
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets keys whose buckets are full again.
    pub fn prune(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

/// Failed logins per username: after `max_failures` in a row, each further failure locks
/// the name for twice as long as the one before (`base`, `2 × base`, … up to `max`).
pub struct LoginGuard {
    max_failures: u32,
    base: Duration,
    max: Duration,
    names: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// Names kept at most; beyond it the oldest unlocked entries are forgotten.
const MAX_TRACKED_NAMES: usize = 100_000;

impl LoginGuard {
    pub fn new(max_failures: u32, base: Duration, max: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            base,
            max,
            names: Mutex::new(HashMap::new()),
        }
    }

    fn key(name: &str) -> String {
        name.trim().to_lowercase()
    }

    /// `Err(wait)` while the name is locked.
    pub fn check(&self, name: &str, now: Instant) -> Result<(), Duration> {
        let names = self.names.lock().map_err(|_poisoned| self.max)?;
        match names.get(&Self::key(name)).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failure; returns the lock it started, if any.
    pub fn failed(&self, name: &str, now: Instant) -> Option<Duration> {
        let mut names = self.names.lock().ok()?;
        if names.len() >= MAX_TRACKED_NAMES {
            names.retain(|_, f| f.locked_until.is_some_and(|u| u > now));
        }
        let f = names.entry(Self::key(name)).or_insert(Failures {
            count: 0,
            locked_until: None,
            last: now,
        });
        // A quiet hour forgives earlier failures.
        if now.duration_since(f.last) > Duration::from_secs(3600) {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count < self.max_failures {
            return None;
        }
        let doublings = (f.count - self.max_failures).min(20);
        let lock = self.base.saturating_mul(1 << doublings).min(self.max);
        f.locked_until = Some(now + lock);
        Some(lock)
    }

    pub fn succeeded(&self, name: &str) {
        if let Ok(mut names) = self.names.lock() {
            names.remove(&Self::key(name));
        }
    }
}

/// The limiters one node keeps.
pub struct Limits {
    pub per_principal: Limiter<String>,
    pub per_ip: Limiter<IpAddr>,
    pub login_per_ip: Limiter<IpAddr>,
    pub login: LoginGuard,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_admits_the_burst_then_says_how_long_to_wait() {
        let l = Limiter::new(10, Duration::from_secs(1), 3);
        for _ in 0..3 {
            assert!(l.check(&"a").is_ok());
        }
        let wait = l.check(&"a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert!(l.check(&"b").is_ok(), "keys are independent");
    }

    #[test]
    fn lockout_starts_after_max_failures_and_doubles() {
        let g = LoginGuard::new(3, Duration::from_secs(1), Duration::from_secs(5));
        let t = Instant::now();
        assert_eq!(g.failed("Ann", t), None);
        assert_eq!(g.failed("ann", t), None);
        assert_eq!(g.failed("ANN", t), Some(Duration::from_secs(1)));
        assert!(g.check("ann", t).is_err());
        assert!(g.check("ann", t + Duration::from_secs(2)).is_ok());
        assert_eq!(g.failed("ann", t), Some(Duration::from_secs(2)));
        assert_eq!(g.failed("ann", t), Some(Duration::from_secs(4)));
        assert_eq!(g.failed("ann", t), Some(Duration::from_secs(5)), "capped");
        assert!(g.check("bob", t).is_ok());
        g.succeeded("ann");
        assert!(g.check("ann", t).is_ok());
    }
}
