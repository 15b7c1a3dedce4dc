//! The scheduled sweep: payments the customer made but never came back from are verified, and
//! orders nobody paid in time expire and give their stock back.

use time::OffsetDateTime;

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::payments::paying::{PaymentOutcome, confirm};
use crate::payments::ports::{PaymentBook, PaymentGateway, UnpaidOrders};

/// Orders expired per sweep at most: a sweep runs every few minutes and must end well within its
/// timeout; what is left waits for the next one.
pub const EXPIRED_PER_SWEEP: usize = 200;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Payments found paid without their customer's return, and settled.
    pub settled: usize,
    pub expired: usize,
}

/// Verifies the payments first, so that an order paid without a return is settled before its
/// window is judged.
pub async fn sweep(
    book: &(impl PaymentBook + UnpaidOrders),
    gateway: &impl PaymentGateway,
    now: OffsetDateTime,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    match gateway.unverified().await {
        Ok(authorities) => {
            for authority in authorities {
                let Some(payment) = book.payment_by_authority(&authority).await? else {
                    // The merchant account may serve another shop's payments too; not ours to verify.
                    continue;
                };
                if payment.status.is_open()
                    && matches!(confirm(book, gateway, &payment, now).await?, PaymentOutcome::Paid { .. })
                {
                    report.settled += 1;
                }
            }
        }
        // Expiry does not wait for the gateway: a payment made meanwhile is settled when the
        // gateway is back, reviving or refunding its order.
        Err(error) => tracing::warn!(%error, "the gateway's unverified payments could not be read"),
    }
    for order in book.overdue(now, EXPIRED_PER_SWEEP).await? {
        let expired = DomainEvent::OrderExpired { order_id: order.id, account_id: order.account };
        let announced = Envelope::once_per(&format!("order-expired#{}", order.id), expired, now);
        if book.expire(&order, &announced).await? {
            tracing::info!(order = %order.id, "unpaid order expired");
            report.expired += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::invoicing::testing::fixtures::now;
    use crate::ordering::lifecycle::OrderStatus;
    use crate::payments::paying::start_payment;
    use crate::payments::testing::{InMemoryGateway, InMemoryTill};

    #[tokio::test]
    async fn a_payment_without_its_return_is_settled_by_the_sweep_before_its_order_could_expire() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let started = start_payment(&till, &gateway, order.account, order.id, now()).await.unwrap();
        let authority = till.payment(started.payment).await.unwrap().unwrap().authority.unwrap();
        gateway.pay(&authority);
        let report = sweep(&till, &gateway, order.payment_due + Duration::MINUTE).await.unwrap();
        assert_eq!(report, SweepReport { settled: 1, expired: 0 });
        assert_eq!(till.status(order.id), Some(OrderStatus::Paid));
    }

    #[tokio::test]
    async fn unpaid_orders_past_their_window_expire_once_and_give_their_stock_back() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let product = &order.priced.lines[0].product_id;
        let early = sweep(&till, &gateway, order.payment_due - Duration::SECOND).await.unwrap();
        assert_eq!(early.expired, 0);
        let due = sweep(&till, &gateway, order.payment_due).await.unwrap();
        assert_eq!(due.expired, 1);
        assert_eq!(till.status(order.id), Some(OrderStatus::Expired));
        assert_eq!(till.stock_of(product), Some(5), "its two are back on the shelf");
        assert_eq!(sweep(&till, &gateway, order.payment_due).await.unwrap().expired, 0);
        let expired = DomainEvent::OrderExpired { order_id: order.id, account_id: order.account };
        assert_eq!(till.outbox.events(), vec![expired]);
    }

    #[tokio::test]
    async fn a_gateway_that_is_down_does_not_hold_up_expiry() {
        let till = InMemoryTill::default();
        let gateway = InMemoryGateway::down();
        let order = till.unpaid_order(3);
        assert_eq!(sweep(&till, &gateway, order.payment_due).await.unwrap().expired, 1);
    }
}
