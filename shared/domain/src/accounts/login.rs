//! Logging in: email and password for a session token, with guessing slowed down (P12).

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::accounts::abuse_limits::{self, AbuseLimits, PASSWORD_GUESSES};
use crate::accounts::contact::Email;
use crate::accounts::password;
use crate::accounts::ports::{AccountStore, Counters};
use crate::accounts::session::{IssuedSession, SessionSigner};
use crate::accounts::verification::CodeHasher;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::kernel::ports::{IpRecorder, RecordedRequest};

pub enum LoginOutcome {
    Session(IssuedSession),
    /// Unknown email or wrong password: deliberately the same outcome.
    InvalidCredentials,
    /// Too many recent failures for this email, or from this client address; try again after
    /// this long.
    Locked(Duration),
    /// The right password, for an account whose email is not verified yet: no session until it
    /// is, so an account someone made with another's email is worth nothing to them.
    EmailNotVerified,
}

/// Where a login attempt comes from, where its address is recorded once it succeeds (P14), and
/// the limits on failures from one address.
pub struct Origin<'a, R> {
    pub ip: Option<IpAddr>,
    pub records: &'a R,
    pub limits: &'a AbuseLimits,
}

pub async fn log_in(
    accounts: &(impl AccountStore + Counters),
    sessions: &SessionSigner,
    codes: &CodeHasher,
    origin: Origin<'_, impl IpRecorder>,
    email: &str,
    candidate_password: &str,
    now: OffsetDateTime,
) -> Result<LoginOutcome, StoreError> {
    // First the client's share, so that one client guessing many emails is stopped before it
    // uses up theirs.
    let limits = origin.limits;
    let limit = limits.failed_logins_per_address;
    let from_address =
        match abuse_limits::take_for_address(accounts, codes, limits, "login-address", limit, origin.ip, now).await? {
            Ok(counted) => counted,
            Err(wait) => return Ok(LoginOutcome::Locked(wait)),
        };
    let Ok(email) = Email::parse(email) else {
        password::verify_against_dummy(candidate_password);
        return Ok(LoginOutcome::InvalidCredentials);
    };
    let guess = match abuse_limits::take(accounts, codes, "password", PASSWORD_GUESSES, email.as_str(), now).await? {
        Ok(guess) => guess,
        Err(wait) => return Ok(LoginOutcome::Locked(wait)),
    };

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
            // Only failures use up the windows.
            for counted in [Some(guess), from_address].into_iter().flatten() {
                abuse_limits::give_back(accounts, &counted).await?;
            }
            if !credentials.email_verified {
                return Ok(LoginOutcome::EmailNotVerified);
            }
            // Recorded before the session is issued: a login whose address cannot be kept fails.
            if let Some(ip) = origin.ip {
                origin.records.record(credentials.id, RecordedRequest::Login, ip, now).await?;
            }
            tracing::info!(account = %credentials.id, "logged in");
            Ok(LoginOutcome::Session(sessions.issue(
                credentials.id,
                credentials.role,
                credentials.session_generation,
                now,
            )))
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
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, limits, signup};
    use crate::kernel::testing::RecordedIps;

    const EMAIL: &str = "maryam@example.com";
    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn sessions() -> &'static SessionSigner {
        crate::accounts::testing::fixtures::session_signer()
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
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup(EMAIL), None, now()).await.unwrap();
        accounts
    }

    async fn attempt(accounts: &InMemoryAccounts, ips: &RecordedIps, email: &str, password: &str) -> LoginOutcome {
        let origin = Origin { ip: Some(IP), records: ips, limits: &limits() };
        log_in(accounts, sessions(), &code_hasher(), origin, email, password, now()).await.unwrap()
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
        for _ in 0..PASSWORD_GUESSES.max {
            assert!(matches!(
                attempt(&accounts, &ips, EMAIL, "wrong-password-1").await,
                LoginOutcome::InvalidCredentials
            ));
        }
        assert!(matches!(attempt(&accounts, &ips, EMAIL, PASSWORD).await, LoginOutcome::Locked(_)));
    }

    #[tokio::test]
    async fn one_address_guessing_many_emails_is_stopped_before_it_locks_them_out() {
        let (accounts, ips) = (with_account().await, RecordedIps::default());
        let limits = AbuseLimits {
            failed_logins_per_address: abuse_limits::Limit { max: 3, per: Duration::minutes(15) },
            ..limits()
        };
        let (keys, codes) = (sessions(), code_hasher());
        let from = |ip: IpAddr, email: &'static str| {
            let origin = Origin { ip: Some(ip), records: &ips, limits: &limits };
            log_in(&accounts, keys, &codes, origin, email, "wrong-password-1", now())
        };
        for n in 0..3 {
            let email = ["a@example.com", "b@example.com", "c@example.com"][n];
            assert!(matches!(from(IP, email).await.unwrap(), LoginOutcome::InvalidCredentials));
        }
        assert!(matches!(from(IP, EMAIL).await.unwrap(), LoginOutcome::Locked(_)), "the address is used up");
        // The owner, from elsewhere, still has every one of the email's own guesses.
        let elsewhere = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4));
        let origin = Origin { ip: Some(elsewhere), records: &ips, limits: &limits };
        let owner = log_in(&accounts, sessions(), &code_hasher(), origin, EMAIL, PASSWORD, now()).await.unwrap();
        assert!(matches!(owner, LoginOutcome::Session(_)));
        let exempt = AbuseLimits { exempt_addresses: vec![IP], ..limits.clone() };
        let origin = Origin { ip: Some(IP), records: &ips, limits: &exempt };
        let local = log_in(&accounts, sessions(), &code_hasher(), origin, EMAIL, PASSWORD, now()).await.unwrap();
        assert!(matches!(local, LoginOutcome::Session(_)), "an exempt address is not counted");
    }

    #[tokio::test]
    async fn p14_a_login_records_its_address_and_successes_do_not_use_up_the_window() {
        let (accounts, ips) = (with_account().await, RecordedIps::default());
        for _ in 0..PASSWORD_GUESSES.max + 2 {
            let LoginOutcome::Session(session) = attempt(&accounts, &ips, EMAIL, PASSWORD).await else {
                panic!("the right password was refused");
            };
            let claims = sessions().verifying_keys().verify(&session.token, now()).unwrap();
            assert_eq!(claims.role, crate::accounts::account::Role::Customer);
        }
        let records = ips.records();
        assert_eq!(records.len(), usize::try_from(PASSWORD_GUESSES.max).unwrap() + 2);
        assert!(records.iter().all(|(_, request, ip, _)| *request == RecordedRequest::Login && *ip == IP));
    }

    #[tokio::test]
    async fn p14_a_login_whose_address_cannot_be_kept_fails() {
        let accounts = with_account().await;
        let origin = Origin { ip: Some(IP), records: &RecordedIps::down(), limits: &limits() };
        let outcome = log_in(&accounts, sessions(), &code_hasher(), origin, EMAIL, PASSWORD, now()).await;
        assert!(outcome.is_err());
    }
}
