//! Logging in: email and password for a session token, with guessing slowed down (P12).

use time::{Duration, OffsetDateTime};

use crate::contact::Email;
use crate::login_throttle::LoginFailures;
use crate::password;
use crate::session::{IssuedSession, SessionKey};
use crate::storage::StoreError;
use crate::storage::accounts::AccountsTable;
use crate::verification::CodeHasher;

pub enum LoginOutcome {
    Session(IssuedSession),
    /// Unknown email or wrong password: deliberately the same outcome.
    InvalidCredentials,
    /// Too many recent failures for this email; try again after this long.
    Locked(Duration),
}

/// How often a failure is recorded again when a concurrent failure got there first.
const RECORD_ATTEMPTS: usize = 3;

pub async fn log_in(
    accounts: &AccountsTable,
    sessions: &SessionKey,
    codes: &CodeHasher,
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
    let mut failures = accounts.login_failures(&throttle_key).await?;
    if let Some(remaining) = failures.as_ref().and_then(|f| f.lock_remaining(now)) {
        return Ok(LoginOutcome::Locked(remaining));
    }

    let credentials = match accounts.account_id_for(&email).await? {
        Some(id) => accounts.credentials(id).await?,
        None => None,
    };
    let accepted = match &credentials {
        Some(credentials) => credentials.password_hash.verify(candidate_password),
        None => {
            password::verify_against_dummy(candidate_password);
            false
        }
    };
    if let (true, Some(credentials)) = (accepted, credentials) {
        if failures.is_some() {
            accounts.clear_login_failures(&throttle_key).await?;
        }
        tracing::info!(account = %credentials.id, "logged in");
        return Ok(LoginOutcome::Session(sessions.issue(credentials.id, credentials.role, now)));
    }

    for _ in 0..RECORD_ATTEMPTS {
        let next = LoginFailures::after_failure(failures.as_ref(), now);
        if accounts.save_login_failures(&throttle_key, failures.as_ref(), &next).await? {
            break;
        }
        failures = accounts.login_failures(&throttle_key).await?;
    }
    Ok(LoginOutcome::InvalidCredentials)
}
