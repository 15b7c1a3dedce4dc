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
use crate::kernel::ids::AccountId;
use crate::kernel::ports::EventPublisher;
use crate::kernel::store_error::SendError;
use crate::kernel::store_error::StoreError;

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
