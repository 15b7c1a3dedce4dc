//! Issuing the official invoice of a paid order (P8): one invoice per order however often the
//! payment's event is delivered, numbered without gaps, dated by the payment, and announced in
//! the same transaction.

use crate::invoicing::invoice::{Invoice, PaymentRecord, Seller};
use crate::invoicing::ports::{InvoiceBook, Issuance, PlacedOrders};
use crate::invoicing::tax_id::TaxIdError;
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::OrderId;

#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    #[error("order {0} does not exist")]
    NoSuchOrder(OrderId),
    /// Only a paid order is a sale; an event that says otherwise is retried, then dead-lettered.
    #[error("order {0} is not paid")]
    NotPaid(OrderId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    TaxId(#[from] TaxIdError),
}

pub async fn issue(
    orders: &impl PlacedOrders,
    invoices: &impl InvoiceBook,
    seller: &Seller,
    order_id: OrderId,
    payment: &PaymentRecord,
) -> Result<Issuance, IssuanceError> {
    let order = orders.order(order_id).await?.ok_or(IssuanceError::NoSuchOrder(order_id))?;
    // Paid, whatever happened since: a sale cancelled later is still a sale, undone by its own
    // return invoice.
    if order.payment.is_none() {
        return Err(IssuanceError::NotPaid(order_id));
    }
    let announced = DomainEvent::InvoiceIssued { order_id, account_id: order.account };
    let announced = Envelope::once_per(&format!("invoice-issued#{order_id}"), announced, payment.paid_at);
    let make = |serial| Invoice::issue(&order, seller, serial, payment);
    let issued = invoices.issue(&order, make, &announced).await??;
    match issued {
        Issuance::Issued(serial) => tracing::info!(order = %order_id, serial, "invoice issued"),
        Issuance::AlreadyIssued => tracing::info!(order = %order_id, "invoice already issued"),
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::testing::fixtures::{natural, order, paid, seller};
    use crate::invoicing::testing::{InMemoryInvoices, PlacedOrderList};
    use crate::kernel::ids::AccountId;
    use crate::ordering::lifecycle::OrderStatus;

    #[tokio::test]
    async fn p8_each_order_gets_one_invoice_under_serials_without_gaps() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed: Vec<_> = (0..3).map(|_| order(AccountId::new(), natural())).collect();
        for order in &placed {
            orders.add(order.clone());
        }
        for order in placed.iter().chain(&placed) {
            issue(&orders, &invoices, &seller(), order.id, &paid(order)).await.unwrap();
        }
        assert_eq!(invoices.serials(), [1, 2, 3], "redelivered events consume no serial");
        let invoice = invoices.get(placed[0].id).await.unwrap().unwrap();
        assert_eq!(invoice.totals.total, placed[0].priced.total, "the invoice carries the order's totals");
    }

    #[tokio::test]
    async fn a_redelivered_order_announces_its_invoice_once() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        assert_eq!(issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap(), Issuance::Issued(1));
        assert_eq!(
            issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap(),
            Issuance::AlreadyIssued
        );
        let announced = DomainEvent::InvoiceIssued { order_id: placed.id, account_id: placed.account };
        assert_eq!(invoices.outbox.events(), vec![announced]);
    }

    #[tokio::test]
    async fn an_invoice_whose_event_cannot_be_kept_takes_no_serial() {
        let (orders, mut invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        invoices.outbox.down = true;
        let outcome = issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await;
        assert!(matches!(outcome, Err(IssuanceError::Store(StoreError::Unavailable(_)))));
        assert!(invoices.serials().is_empty());
        invoices.outbox.down = false;
        assert_eq!(issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap(), Issuance::Issued(1));
    }

    #[tokio::test]
    async fn p8_an_unpaid_order_gets_no_invoice() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let mut placed = order(AccountId::new(), natural());
        placed.status = OrderStatus::AwaitingPayment;
        placed.payment = None;
        orders.add(placed.clone());
        let outcome = issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await;
        assert!(matches!(outcome, Err(IssuanceError::NotPaid(id)) if id == placed.id));
        assert!(invoices.serials().is_empty());
    }

    #[tokio::test]
    async fn p8_an_invoice_is_dated_by_its_payment_and_records_it() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        // Paid a minute before a Tehran midnight; however late the event arrives, the sale
        // belongs to that day.
        let paid_at = time::OffsetDateTime::from_unix_timestamp(1_773_952_140).unwrap(); // 2026-03-19T20:29Z
        let payment = PaymentRecord { paid_at, ..paid(&placed) };
        issue(&orders, &invoices, &seller(), placed.id, &payment).await.unwrap();
        let invoice = invoices.get(placed.id).await.unwrap().unwrap();
        assert_eq!(invoice.issued_at, paid_at);
        assert_eq!(invoice.issued_on().to_string(), "1404/12/28");
        assert_eq!(invoice.payment, payment);
    }

    #[tokio::test]
    async fn an_order_that_is_not_there_issues_nothing() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let missing = order(AccountId::new(), natural()).id;
        let payment = paid(&order(AccountId::new(), natural()));
        let outcome = issue(&orders, &invoices, &seller(), missing, &payment).await;
        assert!(matches!(outcome, Err(IssuanceError::NoSuchOrder(id)) if id == missing));
        assert!(invoices.serials().is_empty() && invoices.outbox.events().is_empty());
    }
}
