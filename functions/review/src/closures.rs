//! Closed accounts (subscribed to `AccountClosed`): their reviews stay, under an anonymous name,
//! still linked to the account id for legal follow-up (P11).

use aws_lambda_events::sns::SnsEvent;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::reviewing::closed_authors::{self, AnonymiseError};

use crate::Deps;

/// Fails the invocation: SNS and Lambda retry it, and after that it lands in the dead-letter
/// queue with the event, ready to be replayed.
#[derive(Debug, thiserror::Error)]
pub enum AccountClosedError {
    #[error("an SNS message is not a domain event (message id {0})")]
    Unreadable(String),
    #[error(transparent)]
    Anonymise(#[from] AnonymiseError),
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
        // Should the account's deletion have failed for good, the event ends in the dead-letter
        // queue and the reviews keep their names, as the account does.
        if let DomainEvent::AccountClosed { account_id } = envelope.event {
            closed_authors::anonymise(&deps.reviews, &deps.accounts, account_id).await?;
        }
    }
    Ok(())
}
