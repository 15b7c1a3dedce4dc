//! Abuse limits: how often one email, client address, phone number or account may do what costs
//! the store or its customers — guess a password, sign up, have an SMS or an email sent — counted
//! in fixed windows of time that the store keeps (`ports::Counters`).
//!
//! A count is taken atomically before the work it limits, so concurrent requests cannot slip past
//! it. Counters are keyed by a keyed hash of what they count: none holds an email, an address or
//! a number in clear (P4, P14), and counting an unknown email costs the same as a known one, so a
//! limit never tells a stranger whether an account exists.

use std::net::IpAddr;

use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::accounts::contact::Email;
use crate::accounts::password::PasswordHash;
use crate::accounts::ports::Counters;
use crate::accounts::verification::CodeHasher;
use crate::kernel::failures::StoreError;

/// At most `max` in each window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub per: Duration,
}

/// Password guesses per email, known or not: logging in and confirming a closure share them.
pub const PASSWORD_GUESSES: Limit = Limit { max: 5, per: Duration::minutes(15) };

/// The limits an operator sets (ABUSE_LIMITS, a template parameter with documented defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseLimits {
    /// Signups from one client address: each sends an email and an SMS to whatever it names.
    pub signups_per_address: Limit,
    /// Signups naming one mobile number.
    pub signups_per_phone: Limit,
    /// Verification messages asked for again from one client address.
    pub resends_per_address: Limit,
    /// Verification messages asked for again for one account.
    pub resends_per_account: Limit,
    /// SMS sent to one number, whatever asked for them (SMS pumping costs money).
    pub sms_per_phone: Limit,
    /// Failed logins from one client address, beside each email's own `PASSWORD_GUESSES`: one
    /// client cannot lock out many accounts cheaply.
    pub failed_logins_per_address: Limit,
    /// Addresses no per-address limit applies to (ABUSE_LIMITS_EXEMPT): only for the local
    /// stack, whose router reports every caller as 127.0.0.1.
    pub exempt_addresses: Vec<IpAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("ABUSE_LIMITS is not valid: {0}")]
pub struct InvalidLimits(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitSetting {
    max: u32,
    per_seconds: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitSettings {
    signups_per_address: LimitSetting,
    signups_per_phone: LimitSetting,
    resends_per_address: LimitSetting,
    resends_per_account: LimitSetting,
    sms_per_phone: LimitSetting,
    failed_logins_per_address: LimitSetting,
}

impl AbuseLimits {
    /// `{"signups_per_address": {"max": 10, "per_seconds": 3600}, …}`, every limit named, and the
    /// exempt addresses as a comma-separated list (usually empty).
    pub fn parse(json: &str, exempt: &str) -> Result<Self, InvalidLimits> {
        let settings: LimitSettings = serde_json::from_str(json).map_err(|e| InvalidLimits(e.to_string()))?;
        let limit = |name: &str, setting: LimitSetting| {
            if setting.max == 0 || !(1..=7 * 86_400).contains(&setting.per_seconds) {
                return Err(InvalidLimits(format!("{name}: max at least 1, per_seconds from 1 to a week")));
            }
            Ok(Limit { max: setting.max, per: Duration::seconds(setting.per_seconds) })
        };
        let exempt_addresses = exempt
            .split(',')
            .map(str::trim)
            .filter(|address| !address.is_empty())
            .map(|address| address.parse().map_err(|_| InvalidLimits(format!("{address} is not an IP address"))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            signups_per_address: limit("signups_per_address", settings.signups_per_address)?,
            signups_per_phone: limit("signups_per_phone", settings.signups_per_phone)?,
            resends_per_address: limit("resends_per_address", settings.resends_per_address)?,
            resends_per_account: limit("resends_per_account", settings.resends_per_account)?,
            sms_per_phone: limit("sms_per_phone", settings.sms_per_phone)?,
            failed_logins_per_address: limit("failed_logins_per_address", settings.failed_logins_per_address)?,
            exempt_addresses,
        })
    }

    /// The address a per-address limit counts, unless it is unknown or exempt.
    pub fn counted_address(&self, address: Option<IpAddr>) -> Option<IpAddr> {
        address.filter(|address| !self.exempt_addresses.contains(address))
    }
}

/// The fixed window of `length` an instant falls in, aligned to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The window's number since the epoch: part of the counter's key.
    pub index: i64,
    pub ends_at: OffsetDateTime,
    length: Duration,
}

impl Window {
    pub fn at(now: OffsetDateTime, length: Duration) -> Self {
        let seconds = length.whole_seconds().max(1);
        let index = now.unix_timestamp().div_euclid(seconds);
        let ends_at = OffsetDateTime::from_unix_timestamp((index + 1) * seconds).unwrap_or(now + length);
        Self { index, ends_at, length }
    }

    /// How long a request over the limit waits: until the window ends.
    pub fn remaining(&self, now: OffsetDateTime) -> Duration {
        (self.ends_at - now).max(Duration::SECOND)
    }

    /// When the counter can be forgotten (its TTL).
    pub fn forget_at(&self) -> OffsetDateTime {
        self.ends_at + self.length
    }
}

/// One count taken: what gives it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub key: String,
    pub window: Window,
}

/// Counts one against `limit` for `subject` under `name`: the count, or how long to wait when
/// the window's share is used up.
pub async fn take(
    counters: &impl Counters,
    codes: &CodeHasher,
    name: &str,
    limit: Limit,
    subject: &str,
    now: OffsetDateTime,
) -> Result<Result<Counted, Duration>, StoreError> {
    let window = Window::at(now, limit.per);
    let key = format!("{name}#{}", codes.hash(name, subject));
    match counters.take(&key, window, limit.max).await? {
        true => Ok(Ok(Counted { key, window })),
        false => Ok(Err(window.remaining(now))),
    }
}

/// Gives a count back: a success that should not use up the window (a right password).
pub async fn give_back(counters: &impl Counters, counted: &Counted) -> Result<(), StoreError> {
    counters.give_back(&counted.key, counted.window).await
}

/// Counts one against a per-address `limit` for the client at `address`; nothing is counted for
/// an unknown or exempt address (`Ok(None)`).
pub async fn take_for_address(
    counters: &impl Counters,
    codes: &CodeHasher,
    limits: &AbuseLimits,
    name: &str,
    limit: Limit,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<Result<Option<Counted>, Duration>, StoreError> {
    let Some(ip) = limits.counted_address(address) else { return Ok(Ok(None)) };
    Ok(take(counters, codes, name, limit, &ip.to_string(), now).await?.map(Some))
}

/// What re-entering the password to confirm a grave step came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Right,
    Wrong,
    /// The email's `PASSWORD_GUESSES` are used up for now: wait this long.
    Locked(Duration),
}

/// Checks a re-entered password against `hash` under the same budget of guesses as logging in,
/// so that a stolen session does not become a password oracle; a right one uses none up.
pub async fn check_password(
    counters: &impl Counters,
    codes: &CodeHasher,
    email: &Email,
    hash: &PasswordHash,
    candidate: &str,
    now: OffsetDateTime,
) -> Result<PasswordCheck, StoreError> {
    let guess = match take(counters, codes, "password", PASSWORD_GUESSES, email.as_str(), now).await? {
        Ok(guess) => guess,
        Err(wait) => return Ok(PasswordCheck::Locked(wait)),
    };
    if !hash.verify(candidate) {
        return Ok(PasswordCheck::Wrong);
    }
    give_back(counters, &guess).await?;
    Ok(PasswordCheck::Right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::code_hasher;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap() // a multiple of 900 s and 3600 s
    }

    const SETTINGS: &str = r#"{
        "signups_per_address": {"max": 10, "per_seconds": 3600},
        "signups_per_phone": {"max": 3, "per_seconds": 86400},
        "resends_per_address": {"max": 20, "per_seconds": 3600},
        "resends_per_account": {"max": 5, "per_seconds": 3600},
        "sms_per_phone": {"max": 5, "per_seconds": 86400},
        "failed_logins_per_address": {"max": 30, "per_seconds": 900}
    }"#;

    #[test]
    fn instants_within_a_window_share_it_and_windows_align_to_the_clock() {
        let window = Window::at(now(), Duration::minutes(15));
        assert_eq!(Window::at(now() + Duration::seconds(899), Duration::minutes(15)), window);
        assert_ne!(Window::at(now() + Duration::minutes(15), Duration::minutes(15)), window);
        assert_eq!(window.ends_at, now() + Duration::minutes(15));
        assert_eq!(window.remaining(now() + Duration::minutes(10)), Duration::minutes(5));
        assert_eq!(window.forget_at(), now() + Duration::minutes(30));
        assert_eq!(Window::at(now() + Duration::minutes(59), Duration::HOUR).ends_at, now() + Duration::HOUR);
    }

    #[test]
    fn the_limits_are_read_from_their_setting_with_every_limit_named_and_sane() {
        let limits = AbuseLimits::parse(SETTINGS, " 127.0.0.1 , ::1").unwrap();
        assert_eq!(limits.signups_per_address, Limit { max: 10, per: Duration::HOUR });
        assert_eq!(limits.sms_per_phone, Limit { max: 5, per: Duration::DAY });
        assert_eq!(limits.counted_address(Some("127.0.0.1".parse().unwrap())), None, "exempt");
        assert!(limits.counted_address(Some("203.0.113.7".parse().unwrap())).is_some());
        assert!(AbuseLimits::parse(SETTINGS, "").unwrap().exempt_addresses.is_empty());
        for bad in [
            SETTINGS.replace("\"max\": 10", "\"max\": 0"),
            SETTINGS.replace("86400}", "8640000}"),
            SETTINGS.replace("\"signups_per_phone\"", "\"signups_per_fone\""),
            "{}".to_owned(),
        ] {
            assert!(AbuseLimits::parse(&bad, "").is_err(), "{bad}");
        }
        assert!(AbuseLimits::parse(SETTINGS, "localhost").is_err());
    }

    #[tokio::test]
    async fn p4_a_limit_counts_per_subject_and_window_under_a_keyed_hash() {
        let counters = InMemoryAccounts::default();
        let limit = Limit { max: 2, per: Duration::HOUR };
        let codes = code_hasher();
        let take = |subject: &'static str, at| take(&counters, &codes, "signup-address", limit, subject, at);
        let first = take("203.0.113.7", now()).await.unwrap().unwrap();
        assert!(!first.key.contains("203.0.113.7"), "no address in clear: {}", first.key);
        assert!(take("203.0.113.7", now()).await.unwrap().is_ok());
        assert_eq!(take("203.0.113.7", now() + Duration::minutes(20)).await.unwrap(), Err(Duration::minutes(40)));
        assert!(take("203.0.113.8", now()).await.unwrap().is_ok(), "another address has its own share");
        assert!(take("203.0.113.7", now() + Duration::HOUR).await.unwrap().is_ok(), "the next window");
        give_back(&counters, &first).await.unwrap();
        assert!(take("203.0.113.7", now()).await.unwrap().is_ok(), "a count given back is free again");
    }
}
