//! Issuing invoices for `OrderPlaced` events: one invoice per order, however often the event
//! is delivered.

use aws_lambda_events::sns::SnsEvent;
use mizan::invoicing::issuance::{self, IssuanceError};
use mizan::kernel::clock::now;
use mizan::kernel::events::{DomainEvent, Envelope};

use crate::Deps;

/// Fails the invocation, so Lambda retries it and then dead-letters the event.
#[derive(Debug, thiserror::Error)]
pub enum OrderPlacedError {
    #[error("an SNS message is not a domain event (message id {0})")]
    Unreadable(String),
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
}

impl From<OrderPlacedError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: OrderPlacedError) -> Self {
        Self { error_type: "IssuanceError".to_owned(), error_message: error.to_string() }
    }
}

pub async fn handle(deps: &Deps, event: SnsEvent) -> Result<(), OrderPlacedError> {
    for record in event.records {
        let envelope: Envelope = serde_json::from_str(&record.sns.message)
            .map_err(|_| OrderPlacedError::Unreadable(record.sns.message_id.clone()))?;
        // The subscription delivers OrderPlaced only; anything else is not this function's.
        if let DomainEvent::OrderPlaced { order_id, .. } = envelope.event {
            issuance::issue(&deps.orders, &deps.invoices, &deps.events, &deps.seller, order_id, now()).await?;
        }
    }
    Ok(())
}
