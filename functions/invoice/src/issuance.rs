//! Issuing invoices for `OrderPlaced` events: one invoice per order, however often the event
//! is delivered.

use mizan::invoicing::issuance::{self, IssuanceError};
use mizan::kernel::clock::now;
use mizan::kernel::events::{DomainEvent, Envelope};

use crate::Deps;

/// Fails the invocation, so Lambda retries it and then dead-letters the event.
pub async fn handle(deps: &Deps, events: Vec<Envelope>) -> Result<(), Failed> {
    for envelope in events {
        // The subscription delivers OrderPlaced only; anything else is not this function's.
        if let DomainEvent::OrderPlaced { order_id, .. } = envelope.event {
            issuance::issue(&deps.orders, &deps.invoices, &deps.seller, order_id, now()).await?;
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Failed(#[from] IssuanceError);

impl From<Failed> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: Failed) -> Self {
        Self { error_type: "IssuanceError".to_owned(), error_message: error.to_string() }
    }
}
