//! Idempotent requests, after the design of AWS Lambda Powertools' idempotency utility (see
//! /work/shared/design/patterns.md): a request carrying an `Idempotency-Key` runs its work once;
//! a retry with the same key and body gets the first answer again, a retry with another body is
//! refused, and a retry while the first is still running waits briefly for it or is told to
//! come back.
//!
//! This module holds the rules: what a key is, how a body is fingerprinted, how an existing
//! record is judged. The workflow is `ordering::idempotent::run_once`; an `IdempotencyStore`
//! (the idempotency table) keeps the records.
//! The scope of a key is the caller's: checkout uses `checkout#<account id>#<key>`, so two
//! customers (or two routes) can never collide on a key.

use std::fmt::{self, Write as _};
use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::kernel::problem::Rejection;

/// How long a completed request is remembered. A storefront retries within seconds or minutes;
/// a day also covers a customer who retries the next morning after losing the connection, and
/// matches what payment APIs (Stripe) promise, so nobody expects longer.
pub const COMPLETED_RECORD_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The largest response body that is stored for replay. A DynamoDB item may be 400 KB,
/// attribute names and the other attributes included; 300 000 bytes leaves ample room for them.
/// A larger response is not stored: [`run_once`] releases the record as after a failure and
/// returns the response to its caller, so a retry runs the work again (at-least-once for that
/// request, logged as a warning). Nothing we answer comes near it (checkout's answer is about a
/// kilobyte); the bound exists so that an oversized answer cannot turn finished work into a
/// failed request.
pub const MAX_STORED_RESPONSE_BYTES: usize = 300_000;
// With the key, its scope, the hash and the other attributes, a record stays well inside
// DynamoDB's 400 KB item limit.
const _: () = assert!(MAX_STORED_RESPONSE_BYTES + MAX_KEY_LENGTH + 64 + 200 < 400 * 1024 * 3 / 4);

/// The longest key accepted: long enough for any UUID, ULID or hash a client makes.
const MAX_KEY_LENGTH: usize = 255;

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("the idempotency key is empty")]
    Missing,
    #[error("the idempotency key is not 1 to 255 visible ASCII characters")]
    Invalid,
}

impl Rejection for IdempotencyKeyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Missing => "idempotency-key-missing",
            Self::Invalid => "idempotency-key-invalid",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Missing => "کلید یکتایی درخواست (Idempotency-Key) را بفرستید.",
            Self::Invalid => {
                "کلید یکتایی درخواست (Idempotency-Key) باید ۱ تا ۲۵۵ نویسهٔ انگلیسی، رقم یا نشانه و بدون فاصله باشد."
            }
        }
    }
}

impl IdempotencyKey {
    /// Accepts the header's value as sent, less surrounding whitespace. Only visible ASCII is
    /// allowed so that a key is the same bytes however a client or proxy re-encodes the header.
    pub fn parse(header_value: &str) -> Result<Self, IdempotencyKeyError> {
        let key = header_value.trim();
        if key.is_empty() {
            return Err(IdempotencyKeyError::Missing);
        }
        if key.len() > MAX_KEY_LENGTH || !key.bytes().all(|byte| (0x21..=0x7e).contains(&byte)) {
            return Err(IdempotencyKeyError::Invalid);
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fingerprint of a request body: SHA-256, lowercase hex, of its canonical JSON (keys
/// sorted, no whitespace), so a retry that re-serialises the same body differently still
/// matches. Bodies are parsed before they are fingerprinted: what is not JSON was refused.
pub fn payload_hash_json(value: &serde_json::Value) -> String {
    let mut canonical = String::from("json:");
    write_canonical(value, &mut canonical);
    hex(&Sha256::digest(canonical.as_bytes()))
}

/// Sorts keys itself rather than trusting `serde_json::Map`'s order, which becomes insertion
/// order if any crate in the build enables serde_json's `preserve_order`.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (position, (key, item)) in entries.into_iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// A response as it is kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// An idempotency record as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyRecord {
    /// A request holds the key; past `in_progress_until` it is presumed crashed.
    InProgress { payload_hash: String, in_progress_until: OffsetDateTime },
    /// The request finished; its response may be replayed until `expires_at`.
    Completed { payload_hash: String, response: StoredResponse, expires_at: OffsetDateTime },
}

/// What a request meeting an existing record must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// The same request finished: answer its response again.
    Replay(StoredResponse),
    /// The key was used for another body: refuse (422).
    Mismatch,
    /// The same request is running: do not run it again.
    StillRunning,
    /// The record no longer counts (TTL deletes late; a crashed run's lock lapses): take it over.
    Expired,
}

/// Judges an existing record for a request with `payload_hash` at `now`. Times are compared at
/// the precision they are stored with (seconds for `expires_at`, milliseconds for
/// `in_progress_until`) and strictly, exactly as the lock's condition does, so a lock refused at
/// `now` is never judged `Expired` at the same `now`.
pub fn judge(existing: &IdempotencyRecord, payload_hash: &str, now: OffsetDateTime) -> Judgement {
    match existing {
        IdempotencyRecord::Completed { expires_at, .. } if expires_at.unix_timestamp() < now.unix_timestamp() => {
            Judgement::Expired
        }
        IdempotencyRecord::InProgress { in_progress_until, .. } if unix_ms(*in_progress_until) < unix_ms(now) => {
            Judgement::Expired
        }
        // A different body is refused whatever the first request's state: telling its client
        // to wait (409) would only lead to a 422 later.
        IdempotencyRecord::Completed { payload_hash: stored, .. }
        | IdempotencyRecord::InProgress { payload_hash: stored, .. }
            if stored != payload_hash =>
        {
            Judgement::Mismatch
        }
        IdempotencyRecord::Completed { response, .. } => Judgement::Replay(response.clone()),
        IdempotencyRecord::InProgress { .. } => Judgement::StillRunning,
    }
}

/// Milliseconds since the Unix epoch, as `in_progress_expiration` is stored.
pub fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `at + by`, saturating instead of overflowing (only absurd durations get near it).
pub fn later(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    time::Duration::try_from(by)
        .ok()
        .and_then(|by| at.checked_add(by))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}

#[cfg(test)]
mod tests {
    /// The fingerprint of a JSON text, as the edge computes it after parsing the body.
    fn hash_of(body: &[u8]) -> String {
        payload_hash_json(&serde_json::from_slice(body).unwrap())
    }
    use super::*;

    /// 2025-03-01 12:00:00 UTC.
    const NOW: OffsetDateTime = match OffsetDateTime::from_unix_timestamp(1_740_830_400) {
        Ok(at) => at,
        Err(_) => panic!("a valid timestamp"),
    };

    fn response() -> StoredResponse {
        StoredResponse { status: 201, body: r#"{"order_id":"o-1"}"#.to_owned() }
    }

    fn completed(hash: &str) -> IdempotencyRecord {
        IdempotencyRecord::Completed {
            payload_hash: hash.to_owned(),
            response: response(),
            expires_at: NOW + time::Duration::hours(23),
        }
    }

    fn running(hash: &str, until: OffsetDateTime) -> IdempotencyRecord {
        IdempotencyRecord::InProgress { payload_hash: hash.to_owned(), in_progress_until: until }
    }

    #[test]
    fn a_completed_record_with_the_same_body_is_replayed() {
        assert_eq!(judge(&completed("h1"), "h1", NOW), Judgement::Replay(response()));
    }

    #[test]
    fn a_completed_record_with_another_body_is_a_mismatch_not_a_replay() {
        assert_eq!(judge(&completed("h1"), "h2", NOW), Judgement::Mismatch);
    }

    #[test]
    fn a_completed_record_past_its_expiration_is_expired_even_before_ttl_deletes_it() {
        let record = IdempotencyRecord::Completed {
            payload_hash: "h1".into(),
            response: response(),
            expires_at: NOW - time::Duration::seconds(1),
        };
        assert_eq!(judge(&record, "h1", NOW), Judgement::Expired);
        assert_eq!(judge(&record, "h2", NOW), Judgement::Expired);
    }

    #[test]
    fn a_completed_record_expiring_within_the_same_second_still_counts() {
        // The lock's condition compares whole seconds strictly; the judgement must agree.
        let record = IdempotencyRecord::Completed { payload_hash: "h1".into(), response: response(), expires_at: NOW };
        assert_eq!(judge(&record, "h1", NOW + time::Duration::milliseconds(900)), Judgement::Replay(response()));
    }

    #[test]
    fn a_running_record_is_still_running_until_its_in_progress_expiry() {
        let record = running("h1", NOW + time::Duration::seconds(10));
        assert_eq!(judge(&record, "h1", NOW), Judgement::StillRunning);
        assert_eq!(judge(&record, "h1", NOW + time::Duration::seconds(10)), Judgement::StillRunning);
        assert_eq!(judge(&record, "h1", NOW + time::Duration::milliseconds(10_001)), Judgement::Expired);
    }

    #[test]
    fn a_running_record_with_another_body_is_a_mismatch() {
        assert_eq!(judge(&running("h1", NOW + time::Duration::seconds(10)), "h2", NOW), Judgement::Mismatch);
    }

    #[test]
    fn a_crashed_run_with_another_body_is_expired_so_the_key_can_be_used() {
        assert_eq!(judge(&running("h1", NOW - time::Duration::seconds(1)), "h2", NOW), Judgement::Expired);
    }

    #[test]
    fn keys_are_visible_ascii_trimmed() {
        let key = IdempotencyKey::parse("  0f8fad5b-d9cb-469f-a165-70867728950e\t").unwrap();
        assert_eq!(key.as_str(), "0f8fad5b-d9cb-469f-a165-70867728950e");
        assert!(IdempotencyKey::parse("!~").is_ok());
    }

    #[test]
    fn an_empty_key_is_missing() {
        for input in ["", "   ", "\t\r\n"] {
            let error = IdempotencyKey::parse(input).unwrap_err();
            assert_eq!(error, IdempotencyKeyError::Missing);
            assert_eq!(error.code(), "idempotency-key-missing");
        }
    }

    #[test]
    fn persian_text_spaces_and_control_characters_are_refused() {
        for input in ["کلید-۱۲۳", "abc def", "abc\u{0}def", "abc\u{7f}", "a\u{1b}b", "caf\u{e9}"] {
            let error = IdempotencyKey::parse(input).unwrap_err();
            assert_eq!(error, IdempotencyKeyError::Invalid, "{input:?}");
            assert_eq!(error.code(), "idempotency-key-invalid");
            assert!(!error.message().is_empty());
        }
    }

    #[test]
    fn keys_may_have_255_characters_but_not_256() {
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)), Err(IdempotencyKeyError::Invalid));
    }

    #[test]
    fn the_payload_hash_ignores_whitespace_and_key_order() {
        let compact = hash_of(br#"{"b":[1,{"y":2,"x":"\u0633"}],"a":true}"#);
        let spaced = hash_of("{ \"a\" : true,\n  \"b\": [ 1, { \"x\": \"س\", \"y\": 2 } ] }".as_bytes());
        assert_eq!(compact, spaced);
        assert_eq!(compact.len(), 64);
        assert!(compact.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(compact, payload_hash_json(&serde_json::json!({"a": true, "b": [1, {"x": "س", "y": 2}]})));
    }

    #[test]
    fn different_bodies_have_different_hashes() {
        let hashes = [
            hash_of(br#"{"a":1}"#),
            hash_of(br#"{"a":2}"#),
            hash_of(br#"{"a":"1"}"#),
            hash_of(br#"{"b":1}"#),
            hash_of(br#"[{"a":1}]"#),
            hash_of(br#"{"a":[1,2]}"#),
            hash_of(br#"{"a":[2,1]}"#),
        ];
        let distinct: std::collections::BTreeSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len());
    }
}
