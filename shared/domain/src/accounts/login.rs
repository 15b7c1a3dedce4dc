//! Logging in: email and password for a session token, with guessing slowed down (P12).

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::accounts::contact::Email;
use crate::accounts::login_throttle::Window;
use crate::accounts::password;
use crate::accounts::ports::{AccountStore, LoginAttempts};
use crate::accounts::session::{IssuedSession, SessionKey};
use crate::accounts::verification::CodeHasher;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::kernel::ports::{IpRecorder, RecordedRequest};

pub enum LoginOutcome {
    Session(IssuedSession),
    /// Unknown email or wrong password: deliberately the same outcome.
    InvalidCredentials,
    /// Too many recent failures for this email; try again after this long.
    Locked(Duration),
    /// The right password, for an account whose email is not verified yet: no session until it
    /// is, so an account someone made with another's email is worth nothing to them.
    EmailNotVerified,
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
            if !credentials.email_verified {
                return Ok(LoginOutcome::EmailNotVerified);
            }
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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, signup};
    use crate::kernel::testing::RecordedIps;

    const EMAIL: &str = "maryam@example.com";
    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn sessions() -> SessionKey {
        SessionKey::new(&[9; 32]).unwrap()
    }

    /// An account whose email is verified.
    async fn with_account() -> InMemoryAccounts {
        let accounts = unverified().await;
        let id = accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap().unwrap();
        accounts.verify_contacts(id);
        accounts
    }

    async fn unverified() -> InMemoryAccounts {
        let accounts = InMemoryAccounts::default();
        register(&accounts, &accounts.outbox, &code_hasher(), signup(EMAIL), None, now()).await.unwrap();
        accounts
    }

    async fn attempt(accounts: &InMemoryAccounts, ips: &RecordedIps, email: &str, password: &str) -> LoginOutcome {
        let origin = Origin { ip: Some(IP), records: ips };
        log_in(accounts, &sessions(), &code_hasher(), origin, email, password, now()).await.unwrap()
    }

    #[tokio::test]
    async fn p12_an_unknown_email_and_a_wrong_password_fail_alike() {
        let (accounts, ips) = (with_account().await, RecordedIps::default());
        assert!(matches!(
            attempt(&accounts, &ips, "nobody@example.com", PASSWORD).await,
            LoginOutcome::InvalidCredentials
        ));
        assert!(matches!(attempt(&accounts, &ips, EMAIL, "wrong-password-1").await, LoginOutcome::InvalidCredentials));
        assert!(matches!(attempt(&accounts, &ips, "not an email", PASSWORD).await, LoginOutcome::InvalidCredentials));
        assert!(ips.records().is_empty());
    }

    #[tokio::test]
    async fn the_right_password_of_an_unverified_email_opens_no_session() {
        let (accounts, ips) = (unverified().await, RecordedIps::default());
        assert!(matches!(attempt(&accounts, &ips, EMAIL, PASSWORD).await, LoginOutcome::EmailNotVerified));
        assert!(matches!(attempt(&accounts, &ips, EMAIL, "wrong-password-1").await, LoginOutcome::InvalidCredentials));
        assert!(ips.records().is_empty(), "no login happened");
    }

    #[tokio::test]
    async fn p12_five_failures_lock_the_email_even_against_the_right_password() {
        let (accounts, ips) = (with_account().await, RecordedIps::default());
        for _ in 0..crate::accounts::login_throttle::MAX_ATTEMPTS {
            assert!(matches!(
                attempt(&accounts, &ips, EMAIL, "wrong-password-1").await,
                LoginOutcome::InvalidCredentials
            ));
        }
        assert!(matches!(attempt(&accounts, &ips, EMAIL, PASSWORD).await, LoginOutcome::Locked(_)));
    }

    #[tokio::test]
    async fn p14_a_login_records_its_address_and_successes_do_not_use_up_the_window() {
        let (accounts, ips) = (with_account().await, RecordedIps::default());
        for _ in 0..crate::accounts::login_throttle::MAX_ATTEMPTS + 2 {
            let LoginOutcome::Session(session) = attempt(&accounts, &ips, EMAIL, PASSWORD).await else {
                panic!("the right password was refused");
            };
            let claims = sessions().verify(&session.token, now()).unwrap();
            assert_eq!(claims.role, crate::accounts::account::Role::Customer);
        }
        let records = ips.records();
        assert_eq!(records.len(), usize::try_from(crate::accounts::login_throttle::MAX_ATTEMPTS).unwrap() + 2);
        assert!(records.iter().all(|(_, request, ip, _)| *request == RecordedRequest::Login && *ip == IP));
    }

    #[tokio::test]
    async fn p14_a_login_whose_address_cannot_be_kept_fails() {
        let accounts = with_account().await;
        let origin = Origin { ip: Some(IP), records: &RecordedIps::down() };
        let outcome = log_in(&accounts, &sessions(), &code_hasher(), origin, EMAIL, PASSWORD, now()).await;
        assert!(outcome.is_err());
    }
}
