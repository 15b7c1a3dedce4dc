//! Slowing down password guessing: each email has a few login attempts per window of time.
//!
//! Attempts are counted per email — known or not — so the lock itself never tells a stranger
//! whether an email has an account. An attempt is taken (atomically, in the store) before the
//! password is checked, so concurrent guesses cannot slip past the limit; a successful login
//! gives its attempt back.

use time::{Duration, OffsetDateTime};

/// Attempts allowed per email and window.
pub const MAX_ATTEMPTS: u32 = 5;
pub const WINDOW: Duration = Duration::minutes(15);

/// The fixed window an instant falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The window's number since the epoch: part of the counter's key.
    pub index: i64,
    pub ends_at: OffsetDateTime,
}

impl Window {
    pub fn at(now: OffsetDateTime) -> Self {
        let length = WINDOW.whole_seconds();
        let index = now.unix_timestamp().div_euclid(length);
        let ends_at = OffsetDateTime::from_unix_timestamp((index + 1) * length).unwrap_or(now + WINDOW);
        Self { index, ends_at }
    }

    /// How long a locked email waits: until the window ends.
    pub fn remaining(&self, now: OffsetDateTime) -> Duration {
        (self.ends_at - now).max(Duration::SECOND)
    }

    /// When the counter can be forgotten (its TTL).
    pub fn forget_at(&self) -> OffsetDateTime {
        self.ends_at + WINDOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_within_fifteen_minutes_share_a_window_aligned_to_the_clock() {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(); // a multiple of 900 s
        let window = Window::at(start);
        assert_eq!(Window::at(start + Duration::seconds(899)), window);
        assert_ne!(Window::at(start + WINDOW), window);
        assert_eq!(window.ends_at, start + WINDOW);
        assert_eq!(window.remaining(start + Duration::minutes(10)), Duration::minutes(5));
        assert!(window.forget_at() > window.ends_at);
    }
}
