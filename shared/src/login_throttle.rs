//! Slowing down password guessing: after a few wrong passwords for one email within a window,
//! that email is locked for a while.
//!
//! The count is kept per email — known or not — so the lock itself never tells a stranger
//! whether an email has an account.

use time::{Duration, OffsetDateTime};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::minutes(15);
pub const LOCK: Duration = Duration::minutes(15);

/// Recent failed logins for one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub window_started_at: OffsetDateTime,
    pub locked_until: Option<OffsetDateTime>,
}

impl LoginFailures {
    /// How long until a locked email may try again; `None` when it may try now.
    pub fn lock_remaining(&self, now: OffsetDateTime) -> Option<Duration> {
        self.locked_until.filter(|until| *until > now).map(|until| until - now)
    }

    /// The state after one more wrong password.
    pub fn after_failure(previous: Option<&Self>, now: OffsetDateTime) -> Self {
        let continuing = previous.filter(|p| now - p.window_started_at < WINDOW && p.lock_remaining(now).is_none());
        let (count, window_started_at) = match continuing {
            Some(p) => (p.count + 1, p.window_started_at),
            None => (1, now),
        };
        let locked_until = (count >= MAX_FAILURES).then_some(now + LOCK);
        Self { count: if locked_until.is_some() { 0 } else { count }, window_started_at, locked_until }
    }

    /// When the record can be forgotten (its TTL).
    pub fn forget_at(&self) -> OffsetDateTime {
        self.locked_until.unwrap_or(self.window_started_at + WINDOW).max(self.window_started_at + WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn the_fifth_failure_within_the_window_locks() {
        let mut state: Option<LoginFailures> = None;
        for i in 0..4 {
            let next = LoginFailures::after_failure(state.as_ref(), t0() + Duration::minutes(i));
            assert_eq!(next.lock_remaining(t0() + Duration::minutes(i)), None);
            state = Some(next);
        }
        let locked = LoginFailures::after_failure(state.as_ref(), t0() + Duration::minutes(4));
        assert_eq!(locked.lock_remaining(t0() + Duration::minutes(4)), Some(LOCK));
        assert_eq!(locked.lock_remaining(t0() + Duration::minutes(4) + LOCK), None);
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let mut state: Option<LoginFailures> = None;
        for i in 0..10 {
            let at = t0() + WINDOW * i;
            let next = LoginFailures::after_failure(state.as_ref(), at);
            assert_eq!(next.lock_remaining(at), None);
            state = Some(next);
        }
    }

    #[test]
    fn after_a_lock_ends_counting_starts_again() {
        let locked = LoginFailures { count: 0, window_started_at: t0(), locked_until: Some(t0() + LOCK) };
        let after = LoginFailures::after_failure(Some(&locked), t0() + LOCK);
        assert_eq!(after.count, 1);
        assert_eq!(after.lock_remaining(t0() + LOCK), None);
    }

    #[test]
    fn the_record_outlives_its_lock() {
        let locked = LoginFailures::after_failure(
            Some(&LoginFailures { count: 4, window_started_at: t0(), locked_until: None }),
            t0() + Duration::minutes(14),
        );
        assert!(locked.forget_at() >= t0() + Duration::minutes(14) + LOCK);
    }
}
