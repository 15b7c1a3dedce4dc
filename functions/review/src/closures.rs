//! Closed accounts (subscribed to `AccountClosed`): their reviews stay, under an anonymous name,
//! still linked to the account id for legal follow-up (P11).

use aws_lambda_events::sns::SnsEvent;
use mizan::accounts::closure::ANONYMOUS_DISPLAY_NAME;
use mizan::accounts::ports::AccountStore;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::kernel::failures::StoreError;

use crate::Deps;

/// Fails the invocation: SNS and Lambda retry it, and after that it lands in the dead-letter
/// queue with the event, ready to be replayed.
#[derive(Debug, thiserror::Error)]
pub enum AccountClosedError {
    #[error("an SNS message is not a domain event (message id {0})")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("account {0}: its closure was announced but the account is still there")]
    StillOpen(mizan::kernel::ids::AccountId),
}

impl From<AccountClosedError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: AccountClosedError) -> Self {
        Self { error_type: "AccountClosedError".to_owned(), error_message: error.to_string() }
    }
}

pub async fn handle(deps: &Deps, event: SnsEvent) -> Result<(), AccountClosedError> {
    for record in event.records {
        let envelope: Envelope = serde_json::from_str(&record.sns.message)
            .map_err(|_| AccountClosedError::Unreadable(record.sns.message_id.clone()))?;
        // The subscription delivers AccountClosed only; anything else is not this function's.
        if let DomainEvent::AccountClosed { account_id } = envelope.event {
            // Announced before the account is deleted, which may not have landed yet: failing has
            // the event retried later. Should the deletion have failed for good, the event ends in
            // the dead-letter queue and the reviews keep their names, as the account does.
            if deps.accounts.current_role(account_id).await?.is_some() {
                return Err(AccountClosedError::StillOpen(account_id));
            }
            let reviews = deps.reviews.ids_by_author(account_id).await?;
            for review in &reviews {
                deps.reviews.show_under_name(*review, ANONYMOUS_DISPLAY_NAME).await?;
            }
            tracing::info!(account = %account_id, reviews = reviews.len(), "a closed account's reviews are anonymous");
        }
    }
    Ok(())
}
