//! Issuing the official invoice of a paid order (P8): one invoice per order however often the
//! payment's event is delivered, numbered without gaps, dated by the payment, and announced in
//! the same transaction. A paid order cancelled gets a return invoice too, once, naming the
//! first, so that the books and the tax system see the sale undone.

use time::OffsetDateTime;

use crate::invoicing::invoice::{Invoice, InvoiceKind, PaymentRecord, Seller};
use crate::invoicing::ports::{InvoiceBook, Issuance, PlacedOrders};
use crate::invoicing::tax_id::TaxIdError;
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::OrderId;
use crate::ordering::order::Order;

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
    issue_sale(invoices, seller, &order, payment).await
}

async fn issue_sale(
    invoices: &impl InvoiceBook,
    seller: &Seller,
    order: &Order,
    payment: &PaymentRecord,
) -> Result<Issuance, IssuanceError> {
    let order_id = order.id;
    let announced = DomainEvent::InvoiceIssued { order_id, account_id: order.account };
    let announced = Envelope::once_per(&format!("invoice-issued#{order_id}"), announced, payment.paid_at);
    let make = |serial| Invoice::issue(order, seller, serial, payment);
    let issued = invoices.issue(order_id, InvoiceKind::Sale, make, &[announced]).await??;
    match issued {
        Issuance::Issued(serial) => tracing::info!(order = %order_id, serial, "invoice issued"),
        Issuance::AlreadyIssued => tracing::info!(order = %order_id, "invoice already issued"),
    }
    Ok(issued)
}

/// Issues the return invoice of a paid order cancelled at `cancelled_at`. The sale's own invoice
/// is issued first if it is not yet (the cancellation's event may overtake the payment's): the
/// return names the sale's invoice as it stands (its corrective invoice, if it has one).
pub async fn issue_return(
    orders: &impl PlacedOrders,
    invoices: &impl InvoiceBook,
    seller: &Seller,
    order_id: OrderId,
    cancelled_at: OffsetDateTime,
) -> Result<Issuance, IssuanceError> {
    let order = orders.order(order_id).await?.ok_or(IssuanceError::NoSuchOrder(order_id))?;
    let Some(paid) = &order.payment else { return Err(IssuanceError::NotPaid(order_id)) };
    let sale =
        PaymentRecord { tracking_number: paid.ref_id.clone(), paid_at: paid.paid_at, amount: order.priced.total };
    issue_sale(invoices, seller, &order, &sale).await?;
    let original = invoices.standing_sale(order_id, None).await?.ok_or(StoreError::Corrupt("sale invoice"))?;
    let make = |serial| Invoice::returning(&original, seller, serial, cancelled_at);
    let issued = invoices.issue(order_id, InvoiceKind::Return, make, &[]).await??;
    if let Issuance::Issued(serial) = issued {
        tracing::info!(order = %order_id, serial, "return invoice issued");
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::invoice::InvoiceSubject;
    use crate::invoicing::testing::fixtures::{natural, now, order, paid, seller};
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
        let invoice = invoices.get(placed[0].id, InvoiceKind::Sale).await.unwrap().unwrap();
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
        let invoice = invoices.get(placed.id, InvoiceKind::Sale).await.unwrap().unwrap();
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

    #[tokio::test]
    async fn p8_a_cancelled_sale_gets_one_return_invoice_that_names_the_original() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap();
        let cancelled_at = now() + time::Duration::days(3);
        for _ in 0..2 {
            issue_return(&orders, &invoices, &seller(), placed.id, cancelled_at).await.unwrap();
        }
        assert_eq!(invoices.serials(), [1, 2], "a redelivered cancellation numbers nothing");
        let original = invoices.get(placed.id, InvoiceKind::Sale).await.unwrap().unwrap();
        let returned = invoices.get(placed.id, InvoiceKind::Return).await.unwrap().unwrap();
        assert_eq!(returned.subject, InvoiceSubject::Return { original: original.tax_id.clone() });
        assert_eq!((returned.subject.code(), original.subject.code()), (4, 1));
        assert_eq!((returned.issued_at, returned.serial), (cancelled_at, 2));
        assert_ne!(returned.tax_id, original.tax_id);
        assert_eq!(
            (&returned.lines, returned.totals, &returned.buyer),
            (&original.lines, original.totals, &original.buyer)
        );
        let announced = DomainEvent::InvoiceIssued { order_id: placed.id, account_id: placed.account };
        assert_eq!(invoices.outbox.events(), vec![announced], "the customer is sent the sale's invoice only");
    }

    #[tokio::test]
    async fn a_cancellation_that_overtakes_the_payments_event_issues_the_sale_first() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        issue_return(&orders, &invoices, &seller(), placed.id, now()).await.unwrap();
        let original = invoices.get(placed.id, InvoiceKind::Sale).await.unwrap().unwrap();
        assert_eq!((original.serial, original.issued_at), (1, placed.payment.as_ref().unwrap().paid_at));
        assert_eq!(
            issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap(),
            Issuance::AlreadyIssued
        );
        assert_eq!(invoices.serials(), [1, 2]);
    }

    #[tokio::test]
    async fn an_order_never_paid_has_nothing_to_return() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let mut placed = order(AccountId::new(), natural());
        placed.payment = None;
        orders.add(placed.clone());
        let outcome = issue_return(&orders, &invoices, &seller(), placed.id, now()).await;
        assert!(matches!(outcome, Err(IssuanceError::NotPaid(_))));
        assert!(invoices.serials().is_empty());
    }
}
