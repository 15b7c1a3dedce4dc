//! Closing an account, at the customer's request with the password re-entered: sessions end,
//! marketing stops at once, profile and contacts are erased. What the store must keep stays:
//! orders and invoices with the buyer data tax law requires (P8), reviews under an anonymous
//! name and still linked to the account id for legal follow-up (P11), until their own retention
//! ends.

use time::{Duration, OffsetDateTime};

use crate::accounts::abuse_limits::{self, PasswordCheck};
use crate::accounts::ports::{AccountStore, Counters};
use crate::accounts::verification::CodeHasher;
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;

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

pub async fn close(
    accounts: &(impl AccountStore + Counters),
    codes: &CodeHasher,
    account: AccountId,
    candidate_password: &str,
    now: OffsetDateTime,
) -> Result<ClosureOutcome, StoreError> {
    let (Some(contacts), Some(credentials)) = (accounts.contacts(account).await?, accounts.credentials(account).await?)
    else {
        return Ok(ClosureOutcome::AlreadyClosed);
    };
    let check = abuse_limits::check_password(
        accounts,
        codes,
        &contacts.email,
        &credentials.password_hash,
        candidate_password,
        now,
    );
    match check.await? {
        PasswordCheck::Right => {}
        PasswordCheck::Wrong => return Ok(ClosureOutcome::WrongPassword),
        PasswordCheck::Locked(wait) => return Ok(ClosureOutcome::Locked(wait)),
    }
    // Announced in the closure's own transaction: no closure goes unannounced, and none is
    // announced that did not happen.
    let closed = Envelope::once_per(
        &format!("account-closed#{account}"),
        DomainEvent::AccountClosed { account_id: account },
        now,
    );
    if !accounts.close(account, &contacts.email, now, &closed).await? {
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
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, limits, signup};

    const EMAIL: &str = "maryam@example.com";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    async fn with_account() -> (InMemoryAccounts, AccountId) {
        let accounts = InMemoryAccounts::default();
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup(EMAIL), None, now()).await.unwrap();
        let id = accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap().unwrap();
        (accounts, id)
    }

    #[tokio::test]
    async fn p11_closing_announces_the_closure_erases_the_account_and_frees_its_email() {
        let (accounts, id) = with_account().await;
        let outcome = close(&accounts, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        assert!(matches!(outcome, ClosureOutcome::Closed));
        assert_eq!(accounts.outbox.events().last(), Some(&DomainEvent::AccountClosed { account_id: id }));
        assert!(accounts.contacts(id).await.unwrap().is_none());
        assert_eq!(accounts.closed_at(id), Some(now()));
        let again = signup(EMAIL);
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), again, None, now()).await.unwrap();
        let new_owner = accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap();
        assert!(new_owner.is_some_and(|owner| owner != id));
    }

    #[tokio::test]
    async fn a_repeated_closure_announces_nothing_more() {
        let (accounts, id) = with_account().await;
        close(&accounts, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        let again = close(&accounts, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        assert!(matches!(again, ClosureOutcome::AlreadyClosed));
        let closures =
            accounts.outbox.events().into_iter().filter(|event| matches!(event, DomainEvent::AccountClosed { .. }));
        assert_eq!(closures.count(), 1);
    }

    #[tokio::test]
    async fn a_wrong_password_closes_nothing_and_counts_against_the_login_limit() {
        let (accounts, id) = with_account().await;
        for _ in 0..crate::accounts::abuse_limits::PASSWORD_GUESSES.max {
            let outcome = close(&accounts, &code_hasher(), id, "wrong-password-1", now()).await.unwrap();
            assert!(matches!(outcome, ClosureOutcome::WrongPassword));
        }
        let locked = close(&accounts, &code_hasher(), id, PASSWORD, now()).await.unwrap();
        assert!(matches!(locked, ClosureOutcome::Locked(_)));
        assert!(!accounts.outbox.events().iter().any(|event| matches!(event, DomainEvent::AccountClosed { .. })));
        assert!(accounts.contacts(id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_closure_that_cannot_be_announced_erases_nothing() {
        let (mut accounts, id) = with_account().await;
        accounts.outbox.down = true;
        let outcome = close(&accounts, &code_hasher(), id, PASSWORD, now()).await;
        assert!(matches!(outcome, Err(StoreError::Unavailable(_))));
        assert!(accounts.contacts(id).await.unwrap().is_some());
        assert_eq!(accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap(), Some(id));
    }
}
