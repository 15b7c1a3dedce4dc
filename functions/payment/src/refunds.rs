//! Cancelled orders' payments go back: each `OrderCancelled` that names a payment is refunded
//! through the gateway, once, however often the event is delivered.

use mizan::kernel::clock::now;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::payments::refunding::{self, RefundError};
use mizan_aws::lambda::triggers::Failed;

use crate::Deps;

/// Fails the invocation when the gateway or the tables cannot be reached, so Lambda delivers the
/// event again (and, after its retries, dead-letters it for the operators' alarm).
pub async fn handle(deps: &Deps, events: Vec<Envelope>) -> Result<(), Failed<RefundError>> {
    for envelope in events {
        // The subscription delivers OrderCancelled only; an unpaid order's has nothing to give.
        if let DomainEvent::OrderCancelled { payment_id: Some(payment_id), .. } = envelope.event {
            refunding::refund_cancelled(&deps.till, &deps.gateway, payment_id, now()).await?;
        }
    }
    Ok(())
}
