//! The clock. Use cases never read it: they take `now` as a value, which the edge reads once per
//! request from [`now`], so every rule about time is tested at a fixed instant.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// An instant as every answer and document of this store writes it: RFC 3339, UTC.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// A reading of the clock that moves on with the time a use case spends (pacing, waiting), so a
/// long run stamps each step with its own instant while its tests still fix where it starts.
#[derive(Debug, Clone, Copy)]
pub struct Running {
    from: OffsetDateTime,
    started: tokio::time::Instant,
}

impl Running {
    pub fn from(now: OffsetDateTime) -> Self {
        Self { from: now, started: tokio::time::Instant::now() }
    }

    pub fn now(&self) -> OffsetDateTime {
        let elapsed = time::Duration::try_from(self.started.elapsed()).unwrap_or(time::Duration::ZERO);
        self.from.checked_add(elapsed).unwrap_or(self.from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_running_clock_moves_on_with_the_time_spent() {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let clock = Running::from(start);
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        assert_eq!(clock.now(), start + time::Duration::seconds(20));
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(timestamp(at), "2027-01-15T08:00:00Z");
    }
}
