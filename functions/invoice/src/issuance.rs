//! Issuing invoices: for `OrderPaid`, the sale's invoice, dated by the payment the event
//! carries; for `OrderCancelled` of a paid order, the return invoice, dated by the cancellation.
//! One of each per order, however often the events are delivered.

use mizan::invoicing::invoice::PaymentRecord;
use mizan::invoicing::issuance::{self, IssuanceError};
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan_aws::lambda::triggers::Failed;

use crate::Deps;

/// Fails the invocation, so Lambda retries it and then dead-letters the event.
pub async fn handle(deps: &Deps, events: Vec<Envelope>) -> Result<(), Failed<IssuanceError>> {
    for envelope in events {
        // The subscription delivers these two only; an unpaid order's cancellation undoes no sale.
        match envelope.event {
            DomainEvent::OrderPaid { order_id, amount, paid_at, ref_id, .. } => {
                let payment = PaymentRecord { tracking_number: ref_id, paid_at, amount };
                issuance::issue(&deps.orders, &deps.invoices, &deps.seller, order_id, &payment).await?;
            }
            DomainEvent::OrderCancelled { order_id, refund: Some(_), .. } => {
                let at = envelope.occurred_at;
                issuance::issue_return(&deps.orders, &deps.invoices, &deps.seller, order_id, at).await?;
            }
            _ => {}
        }
    }
    Ok(())
}
