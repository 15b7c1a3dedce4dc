//! The till: payments as the payment function sees them — the payments table, the orders they
//! pay, the stock an expired order gives back or a revived one takes again, and the outbox. A
//! payment settling its order, the order's event and any stock it moves are one transaction
//! across those tables.

use mizan::kernel::events::Envelope;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::{OrderId, PaymentId};
use mizan::payments::payment::{Authority, Payment, PaymentStatus, Refund, Verified};
use mizan::payments::ports::{PayableOrder, PaymentBook, Settlement, UnpaidOrders};
use time::OffsetDateTime;

use super::orders::PayableOrders;
use super::outbox::OutboxTable;
use super::payments::PaymentsTable;
use super::products::ProductsTable;
use super::{Transaction, failed_at, transact, update};

#[derive(Debug, Clone)]
pub struct Till {
    pub payments: PaymentsTable,
    pub orders: PayableOrders,
    pub products: ProductsTable,
    pub outbox: OutboxTable,
}

impl PaymentBook for Till {
    async fn order(&self, id: OrderId) -> Result<Option<PayableOrder>, StoreError> {
        self.orders.payable(id).await
    }

    async fn open(&self, payment: &Payment) -> Result<(), StoreError> {
        self.payments.open(payment).await
    }

    async fn attach(&self, id: PaymentId, authority: &Authority) -> Result<(), StoreError> {
        self.payments.attach(id, authority).await
    }

    async fn payment(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        self.payments.get(id).await
    }

    async fn payment_by_authority(&self, authority: &Authority) -> Result<Option<Payment>, StoreError> {
        self.payments.by_authority(authority).await
    }

    async fn fail(&self, id: PaymentId) -> Result<(), StoreError> {
        self.payments.fail(id).await
    }

    /// One transaction: the payment closed as paid (if open), the order paid (if awaiting
    /// payment, or expired when its stock is taken again), each line's stock (only then), and
    /// the event. Reasons are read by position: payment, order, then the lines.
    async fn settle(
        &self,
        payment: &Payment,
        verified: &Verified,
        order: &PayableOrder,
        reserve_again: bool,
        announced: &Envelope,
    ) -> Result<Settlement, StoreError> {
        let mut items = vec![
            update(self.payments.close(payment.id, PaymentStatus::Paid, verified)?),
            update(self.orders.pay(order.id, payment.id, verified.ref_id.as_ref(), verified.at, reserve_again)?),
        ];
        if reserve_again {
            for line in &order.lines {
                items.push(update(self.products.reserve_stock(&line.product_id, line.quantity)?));
            }
        }
        items.push(self.outbox.put(announced)?);
        let reasons = match transact(self.orders.client(), items).await? {
            Transaction::Committed => return Ok(Settlement::Settled),
            Transaction::Cancelled(reasons) => reasons,
        };
        if failed_at(&reasons, 0) {
            return Ok(Settlement::AlreadySettled);
        }
        if failed_at(&reasons, 1) {
            let now = self.orders.payable(order.id).await?.ok_or(StoreError::Corrupt("order"))?;
            return Ok(Settlement::OrderNotAwaiting(now.status));
        }
        Ok(Settlement::SoldOut)
    }

    async fn record_return(
        &self,
        payment: &Payment,
        verified: &Verified,
        reversed: bool,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let to = if reversed { PaymentStatus::Reversed } else { PaymentStatus::RefundDue };
        let items = vec![update(self.payments.close(payment.id, to, verified)?), self.outbox.put(announced)?];
        Ok(transact(self.orders.client(), items).await? == Transaction::Committed)
    }

    async fn record_refund(
        &self,
        payment: &Payment,
        refund: &Refund,
        at: OffsetDateTime,
        announced: Option<&Envelope>,
    ) -> Result<bool, StoreError> {
        let mut items = vec![update(self.payments.refund(payment.id, refund, at)?)];
        if let Some(announced) = announced {
            items.push(self.outbox.put(announced)?);
        }
        Ok(transact(self.orders.client(), items).await? == Transaction::Committed)
    }
}

impl UnpaidOrders for Till {
    async fn overdue(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<PayableOrder>, StoreError> {
        let mut overdue = Vec::new();
        for id in self.orders.overdue(now, limit).await? {
            // The index lags the table: an order paid a moment ago is read as it is now.
            if let Some(order) = self.orders.payable(id).await? {
                overdue.push(order);
            }
        }
        Ok(overdue)
    }

    /// One transaction: the order expired (if it still awaits payment), each line's stock back,
    /// and the event.
    async fn expire(&self, order: &PayableOrder, announced: &Envelope) -> Result<bool, StoreError> {
        let mut items = vec![update(self.orders.expire(order.id, announced.occurred_at)?)];
        for line in &order.lines {
            items.push(update(self.products.release_stock(&line.product_id, line.quantity)?));
        }
        items.push(self.outbox.put(announced)?);
        match transact(self.orders.client(), items).await? {
            Transaction::Committed => Ok(true),
            Transaction::Cancelled(reasons) if failed_at(&reasons, 0) => Ok(false),
            Transaction::Cancelled(reasons) => Err(StoreError::Failed(reasons.join(","))),
        }
    }
}
