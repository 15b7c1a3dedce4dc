//! Closing an account, at the customer's request with the password re-entered: sessions end,
//! marketing stops at once, profile and contacts are erased. What the store must keep stays:
//! orders and invoices with the buyer data tax law requires (P8), reviews under an anonymous
//! name and still linked to the account id for legal follow-up (P11), until their own retention
//! ends.

use time::{Duration, OffsetDateTime};

use crate::accounts::login_throttle::Window;
use crate::accounts::ports::{AccountStore, LoginAttempts};
use crate::accounts::verification::CodeHasher;
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::SendError;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::kernel::ports::EventPublisher;

/// What a review shows as its author once the account is closed.
pub const ANONYMOUS_DISPLAY_NAME: &str = "کاربر پیشین";

pub enum ClosureOutcome {
    Closed,
    /// The account is already closed (a repeated request, or another session closed it).
    AlreadyClosed,
    WrongPassword,
    /// Too many wrong passwords for this account recently (the login throttle's budget).
    Locked(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum ClosureError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] SendError),
}

pub async fn close(
    accounts: &(impl AccountStore + LoginAttempts),
    events: &impl EventPublisher,
    codes: &CodeHasher,
    account: AccountId,
    candidate_password: &str,
    now: OffsetDateTime,
) -> Result<ClosureOutcome, ClosureError> {
    let (Some(contacts), Some(credentials)) = (accounts.contacts(account).await?, accounts.credentials(account).await?)
    else {
        return Ok(ClosureOutcome::AlreadyClosed);
    };
    // The same budget as logging in: a stolen session must not become a password oracle.
    let throttle_key = codes.hash("login-throttle", contacts.email.as_str());
    let window = Window::at(now);
    if !accounts.take_login_attempt(&throttle_key, window).await? {
        return Ok(ClosureOutcome::Locked(window.remaining(now)));
    }
    if !credentials.password_hash.verify(candidate_password) {
        return Ok(ClosureOutcome::WrongPassword);
    }
    accounts.give_back_login_attempt(&throttle_key, window).await?;
    // Published before the account is deleted, so that no closure goes unannounced: should the
    // deletion fail, the customer's retry publishes the same event (its id is derived from the
    // account) and its consumers act once the account is really gone — they check.
    let closed = Envelope::once_per(
        &format!("account-closed#{account}"),
        DomainEvent::AccountClosed { account_id: account },
        now,
    );
    events.publish(&closed).await?;
    if !accounts.close(account, &contacts.email, now).await? {
        return Ok(ClosureOutcome::AlreadyClosed);
    }
    tracing::info!(%account, "account closed");
    Ok(ClosureOutcome::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::contact::Email;
    use crate::accounts::ports::AccountStore;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, signup};
    use crate::kernel::testing::PublishedEvents;

    const EMAIL: &str = "maryam@example.com";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    async fn with_account() -> (InMemoryAccounts, AccountId) {
        let accounts = InMemoryAccounts::default();
        register(&accounts, &PublishedEvents::default(), &code_hasher(), signup(EMAIL), None, now()).await.unwrap();
        let id = accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap().unwrap();
        (accounts, id)
    }

    #[tokio::test]
    async fn p11_closing_announces_the_closure_erases_the_account_and_frees_its_email() {
        let ((accounts, id), events) = (with_account().await, PublishedEvents::default());
        let outcome = close(&accounts, &events, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        assert!(matches!(outcome, ClosureOutcome::Closed));
        assert_eq!(events.events(), vec![DomainEvent::AccountClosed { account_id: id }]);
        assert!(accounts.contacts(id).await.unwrap().is_none());
        assert_eq!(accounts.closed_at(id), Some(now()));
        let again = signup(EMAIL);
        register(&accounts, &PublishedEvents::default(), &code_hasher(), again, None, now()).await.unwrap();
        let new_owner = accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap();
        assert!(new_owner.is_some_and(|owner| owner != id));
    }

    #[tokio::test]
    async fn a_repeated_closure_publishes_the_same_event_and_closes_nothing_more() {
        let ((accounts, id), events) = (with_account().await, PublishedEvents::default());
        close(&accounts, &events, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        let again = close(&accounts, &events, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        assert!(matches!(again, ClosureOutcome::AlreadyClosed));
        assert_eq!(events.envelopes().len(), 1);
    }

    #[tokio::test]
    async fn a_wrong_password_closes_nothing_and_counts_against_the_login_limit() {
        let ((accounts, id), events) = (with_account().await, PublishedEvents::default());
        for _ in 0..crate::accounts::login_throttle::MAX_ATTEMPTS {
            let outcome = close(&accounts, &events, &code_hasher(), id, "wrong-password-1", now()).await.unwrap();
            assert!(matches!(outcome, ClosureOutcome::WrongPassword));
        }
        let locked = close(&accounts, &events, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        assert!(matches!(locked, ClosureOutcome::Locked(_)));
        assert!(events.events().is_empty());
        assert!(accounts.contacts(id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_unannounced_closure_erases_nothing() {
        let (accounts, id) = with_account().await;
        let outcome = close(&accounts, &PublishedEvents::down(), &code_hasher(), id, PASSWORD, now()).await;
        assert!(matches!(outcome, Err(ClosureError::Publish(_))));
        assert!(accounts.contacts(id).await.unwrap().is_some());
        assert_eq!(accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap(), Some(id));
    }
}
