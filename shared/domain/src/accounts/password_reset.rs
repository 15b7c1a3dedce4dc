//! A forgotten password (P12): a single-use link to the account's verified email, short-lived,
//! that sets a new password under the same policy and ends every session of the account.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::accounts::abuse_limits::{self, AbuseLimits};
use crate::accounts::contact::Email;
use crate::accounts::password::{HashingFailed, Password, PasswordError};
use crate::accounts::ports::{AccountStore, Counters};
use crate::accounts::verification::{Challenge, CodeHasher, EmailToken};
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;

/// A reset link is for now, not for later: it opens the account to whoever holds it.
pub const RESET_LINK_LIFETIME: Duration = Duration::minutes(30);
const PURPOSE: &str = "password-reset";

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hashing(#[from] HashingFailed),
    /// Too many requests from this client address lately; nothing was sent.
    #[error("password resets are limited for now")]
    Limited(Duration),
}

/// What a reset link came to.
#[derive(Debug, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The new password is set; every session of the account has ended.
    Done,
    /// Wrong, used, expired or malformed: deliberately alike.
    LinkFailed,
    /// The new password breaks the policy; the link still works.
    Refused(PasswordError),
}

/// Sends a reset link to the account of `email` if its email is verified. The caller is told the
/// same whatever the email: nothing is sent for an unknown or unverified email or an account past
/// its share of messages, and none of those is said. A new link replaces the one before.
pub async fn request(
    accounts: &(impl AccountStore + Counters),
    codes: &CodeHasher,
    limits: &AbuseLimits,
    email: &Email,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(), ResetError> {
    let limit = limits.resends_per_address;
    if let Err(wait) =
        abuse_limits::take_for_address(accounts, codes, limits, "resend-address", limit, source_ip, now).await?
    {
        return Err(ResetError::Limited(wait));
    }
    let Some(id) = accounts.account_id_for(email).await? else { return Ok(()) };
    // Only to a proven email (P9): an unverified one may be anyone's.
    if !accounts.contacts(id).await?.is_some_and(|contacts| contacts.email_verified) {
        return Ok(());
    }
    let limit = limits.resends_per_account;
    if abuse_limits::take(accounts, codes, "resend-account", limit, &id.to_string(), now).await?.is_err() {
        tracing::info!(account = %id, "password reset refused by an abuse limit");
        return Ok(());
    }
    let token = EmailToken::generate(id);
    let challenge = Challenge::new(token.hash_for(codes, PURPOSE), now, RESET_LINK_LIFETIME);
    let asked = Envelope::new(DomainEvent::PasswordResetRequested { account_id: id, token: token.to_text() }, now);
    if accounts.open_reset(id, &challenge, &asked).await? {
        tracing::info!(account = %id, "password reset link sent");
    }
    Ok(())
}

/// Sets a new password with the link's token, once.
pub async fn confirm(
    accounts: &impl AccountStore,
    codes: &CodeHasher,
    token: &str,
    new_password: &str,
    now: OffsetDateTime,
) -> Result<ResetOutcome, ResetError> {
    let Some(token) = EmailToken::parse(token) else { return Ok(ResetOutcome::LinkFailed) };
    let Some(contacts) = accounts.contacts(token.account).await? else { return Ok(ResetOutcome::LinkFailed) };
    let password = match Password::parse(new_password, Some(&contacts.email)) {
        Ok(password) => password,
        Err(refused) => return Ok(ResetOutcome::Refused(refused)),
    };
    let hash = password.hash()?;
    let told = Envelope::new(DomainEvent::PasswordChanged { account_id: token.account }, now);
    if !accounts.complete_reset(token.account, &token.hash_for(codes, PURPOSE), &hash, now, &told).await? {
        return Ok(ResetOutcome::LinkFailed);
    }
    tracing::info!(account = %token.account, "password reset; every session ended");
    Ok(ResetOutcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, limits, signup};
    use crate::kernel::ids::AccountId;

    const EMAIL: &str = "maryam@example.com";
    const NEW_PASSWORD: &str = "a-brand-new-roast-77";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    async fn account(verified: bool) -> (InMemoryAccounts, AccountId) {
        let accounts = InMemoryAccounts::default();
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup(EMAIL), None, now()).await.unwrap();
        let id = accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap().unwrap();
        if verified {
            accounts.verify_contacts(id);
        }
        (accounts, id)
    }

    async fn ask(accounts: &InMemoryAccounts, email: &str) -> Option<String> {
        let email = Email::parse(email).unwrap();
        request(accounts, &code_hasher(), &limits(), &email, None, now()).await.unwrap();
        accounts.outbox.newest(|event| match event {
            DomainEvent::PasswordResetRequested { token, .. } => Some(token),
            _ => None,
        })
    }

    #[tokio::test]
    async fn p12_a_reset_link_sets_a_new_password_once_and_ends_every_session() {
        let (accounts, id) = account(true).await;
        let old_session =
            crate::accounts::testing::fixtures::session(id, crate::accounts::account::Role::Customer, 0, now());
        let token = ask(&accounts, EMAIL).await.expect("a link was sent");

        let weak = confirm(&accounts, &code_hasher(), &token, "short", now()).await.unwrap();
        assert!(matches!(weak, ResetOutcome::Refused(_)), "the policy holds, and the link still works");
        let done = confirm(&accounts, &code_hasher(), &token, NEW_PASSWORD, now()).await.unwrap();
        assert_eq!(done, ResetOutcome::Done);
        let again = confirm(&accounts, &code_hasher(), &token, "yet-another-password-1", now()).await.unwrap();
        assert_eq!(again, ResetOutcome::LinkFailed, "single use");

        let credentials = accounts.credentials(id).await.unwrap().unwrap();
        assert!(credentials.password_hash.verify(NEW_PASSWORD) && !credentials.password_hash.verify(PASSWORD));
        let standing = accounts.session_standing(id).await.unwrap();
        assert!(!old_session.holds_for(standing.as_ref()), "every older session ended");
    }

    #[tokio::test]
    async fn a_reset_link_expires_and_a_verification_link_is_not_one() {
        let (accounts, _) = account(true).await;
        let token = ask(&accounts, EMAIL).await.unwrap();
        let late = now() + RESET_LINK_LIFETIME;
        assert_eq!(
            confirm(&accounts, &code_hasher(), &token, NEW_PASSWORD, late).await.unwrap(),
            ResetOutcome::LinkFailed
        );
        let verification = accounts.outbox.events().into_iter().find_map(|event| match event {
            DomainEvent::EmailVerificationRequested { token, .. } => Some(token),
            _ => None,
        });
        let other_kind = confirm(&accounts, &code_hasher(), &verification.unwrap(), NEW_PASSWORD, now()).await.unwrap();
        assert_eq!(other_kind, ResetOutcome::LinkFailed);
        for bad in ["", "nonsense", "x.y"] {
            assert_eq!(
                confirm(&accounts, &code_hasher(), bad, NEW_PASSWORD, now()).await.unwrap(),
                ResetOutcome::LinkFailed
            );
        }
    }

    #[tokio::test]
    async fn p9_no_link_goes_to_an_unverified_or_unknown_email() {
        let (accounts, _) = account(false).await;
        assert_eq!(ask(&accounts, EMAIL).await, None, "an unverified email may be anyone's");
        assert_eq!(ask(&accounts, "nobody@example.com").await, None);
    }
}
