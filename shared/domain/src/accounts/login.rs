//! Logging in: email and password for a session token, with guessing slowed down (P12).

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::accounts::contact::Email;
use crate::accounts::login_throttle::Window;
use crate::accounts::password;
use crate::accounts::ports::{AccountStore, LoginAttempts};
use crate::accounts::session::{IssuedSession, SessionKey};
use crate::accounts::verification::CodeHasher;
use crate::kernel::ids::AccountId;
use crate::kernel::ports::{IpRecorder, RecordedRequest};
use crate::kernel::store_error::StoreError;

pub enum LoginOutcome {
    Session(IssuedSession),
    /// Unknown email or wrong password: deliberately the same outcome.
    InvalidCredentials,
    /// Too many recent failures for this email; try again after this long.
    Locked(Duration),
}

/// Where a login attempt comes from, and where its address is recorded once it succeeds (P14).
pub struct Origin<'a, R> {
    pub ip: Option<IpAddr>,
    pub records: &'a R,
}

pub async fn log_in(
    accounts: &(impl AccountStore + LoginAttempts),
    sessions: &SessionKey,
    codes: &CodeHasher,
    origin: Origin<'_, impl IpRecorder>,
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
