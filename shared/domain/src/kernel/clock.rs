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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(timestamp(at), "2027-01-15T08:00:00Z");
    }
}
