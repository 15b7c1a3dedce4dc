//! Logging in: email and password for a session token, with guessing slowed down (P12).

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::dynamodb::accounts::AccountsTable;
use crate::dynamodb::ip_records::{IpRecordsTable, RecordedRequest};
use mizan::accounts::contact::Email;
use mizan::accounts::login_throttle::Window;
use mizan::accounts::password;
use mizan::accounts::session::{IssuedSession, SessionKey};
use mizan::accounts::verification::CodeHasher;
use mizan::kernel::ids::AccountId;
use mizan::kernel::store_error::StoreError;

pub enum LoginOutcome {
    Session(IssuedSession),
    /// Unknown email or wrong password: deliberately the same outcome.
    InvalidCredentials,
    /// Too many recent failures for this email; try again after this long.
    Locked(Duration),
}

/// Where a login attempt comes from, and where its address is recorded once it succeeds (P14).
pub struct Origin<'a> {
    pub ip: Option<IpAddr>,
    pub records: &'a IpRecordsTable,
}

pub async fn log_in(
    accounts: &AccountsTable,
    sessions: &SessionKey,
    codes: &CodeHasher,
    origin: Origin<'_>,
    email: &str,
    candidate_password: &str,
    now: OffsetDateTime,
) -> Result<LoginOutcome, StoreError> {
    let Ok(email) = Email::parse(email) else {
        password::verify_against_dummy(candidate_password);
        return Ok(LoginOutcome::InvalidCredentials);
    };
    // Keyed, so the throttle's items do not store the email itself.
    let throttle_key = codes.hash("login-throttle", email.as_str());
    let window = Window::at(now);
    if !accounts.take_login_attempt(&throttle_key, window).await? {
        return Ok(LoginOutcome::Locked(window.remaining(now)));
    }

    // An unknown email costs the same reads and hashing as a known one: timing tells nothing.
    let account = accounts.account_id_for(&email).await?;
    let credentials = accounts.credentials(account.unwrap_or_else(AccountId::new)).await?;
    let accepted = match &credentials {
        Some(credentials) => credentials.password_hash.verify(candidate_password),
        None => {
            password::verify_against_dummy(candidate_password);
            false
        }
    };
    match credentials {
        Some(credentials) if accepted => {
            accounts.give_back_login_attempt(&throttle_key, window).await?;
            // Recorded before the session is issued: a login whose address cannot be kept fails.
            if let Some(ip) = origin.ip {
                origin.records.record(credentials.id, RecordedRequest::Login, ip, now).await?;
            }
            tracing::info!(account = %credentials.id, "logged in");
            Ok(LoginOutcome::Session(sessions.issue(credentials.id, credentials.role, now)))
        }
        _ => Ok(LoginOutcome::InvalidCredentials),
    }
}
