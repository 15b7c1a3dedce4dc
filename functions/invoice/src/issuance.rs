//! Issuing invoices for `OrderPaid` events: one invoice per order, however often the event is
//! delivered, dated by the payment it carries.

use mizan::invoicing::invoice::PaymentRecord;
use mizan::invoicing::issuance::{self, IssuanceError};
use mizan::kernel::events::{DomainEvent, Envelope};

use crate::Deps;

/// Fails the invocation, so Lambda retries it and then dead-letters the event.
pub async fn handle(deps: &Deps, events: Vec<Envelope>) -> Result<(), Failed> {
    for envelope in events {
        // The subscription delivers OrderPaid only; anything else is not this function's.
        if let DomainEvent::OrderPaid { order_id, amount, paid_at, ref_id, .. } = envelope.event {
            let payment = PaymentRecord { tracking_number: ref_id, paid_at, amount };
            issuance::issue(&deps.orders, &deps.invoices, &deps.seller, order_id, &payment).await?;
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
