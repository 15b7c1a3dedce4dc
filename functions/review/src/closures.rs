//! Closed accounts (subscribed to `AccountClosed`): their reviews stay, under an anonymous name,
//! still linked to the account id for legal follow-up (P11).

use aws_lambda_events::sns::SnsEvent;
use mizan::account_closure::ANONYMOUS_DISPLAY_NAME;
use mizan::events::{DomainEvent, Envelope};
use mizan::storage::StoreError;

use crate::Deps;

/// Fails the invocation: SNS and Lambda retry it, and after that it lands in the dead-letter
/// queue with the event, ready to be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ClosureError {
    #[error("an SNS message is not a domain event (message id {0})")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ClosureError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: ClosureError) -> Self {
        Self { error_type: "ClosureError".to_owned(), error_message: error.to_string() }
    }
}

pub async fn handle(deps: &Deps, event: SnsEvent) -> Result<(), ClosureError> {
    for record in event.records {
        let envelope: Envelope = serde_json::from_str(&record.sns.message)
            .map_err(|_| ClosureError::Unreadable(record.sns.message_id.clone()))?;
        // The subscription delivers AccountClosed only; anything else is not this function's.
        if let DomainEvent::AccountClosed { account_id } = envelope.event {
            // Announced before the account is deleted: if it is still there, the deletion failed
            // and nothing changes; the customer's retry announces it again.
            if deps.accounts.current_role(account_id).await?.is_some() {
                tracing::info!(account = %account_id, "closure announced but the account is open: nothing to do");
                continue;
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
