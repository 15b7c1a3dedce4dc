//! Issuing the official invoice of a placed order (P8): one invoice per order however often the
//! order's event is delivered, numbered without gaps, and announced in the same transaction.

use time::OffsetDateTime;

use crate::invoicing::invoice::{Invoice, Seller};
use crate::invoicing::ports::{InvoiceBook, Issuance, PlacedOrders};
use crate::invoicing::tax_id::TaxIdError;
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::OrderId;

#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    #[error("order {0} does not exist")]
    NoSuchOrder(OrderId),
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
    now: OffsetDateTime,
) -> Result<Issuance, IssuanceError> {
    let order = orders.order(order_id).await?.ok_or(IssuanceError::NoSuchOrder(order_id))?;
    let announced = DomainEvent::InvoiceIssued { order_id, account_id: order.account };
    let announced = Envelope::once_per(&format!("invoice-issued#{order_id}"), announced, now);
    let issued = invoices.issue(&order, |serial| Invoice::issue(&order, seller, serial, now), &announced).await??;
    match issued {
        Issuance::Issued(serial) => tracing::info!(order = %order_id, serial, "invoice issued"),
        Issuance::AlreadyIssued => tracing::info!(order = %order_id, "invoice already issued"),
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::testing::fixtures::{natural, now, order, seller};
    use crate::invoicing::testing::{InMemoryInvoices, PlacedOrderList};
    use crate::kernel::ids::AccountId;

    #[tokio::test]
    async fn p8_each_order_gets_one_invoice_under_serials_without_gaps() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed: Vec<_> = (0..3).map(|_| order(AccountId::new(), natural())).collect();
        for order in &placed {
            orders.add(order.clone());
        }
        for order in placed.iter().chain(&placed) {
            issue(&orders, &invoices, &seller(), order.id, now()).await.unwrap();
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
        assert_eq!(issue(&orders, &invoices, &seller(), placed.id, now()).await.unwrap(), Issuance::Issued(1));
        assert_eq!(issue(&orders, &invoices, &seller(), placed.id, now()).await.unwrap(), Issuance::AlreadyIssued);
        let announced = DomainEvent::InvoiceIssued { order_id: placed.id, account_id: placed.account };
        assert_eq!(invoices.outbox.events(), vec![announced]);
    }

    #[tokio::test]
    async fn an_invoice_whose_event_cannot_be_kept_takes_no_serial() {
        let (orders, mut invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        invoices.outbox.down = true;
        let outcome = issue(&orders, &invoices, &seller(), placed.id, now()).await;
        assert!(matches!(outcome, Err(IssuanceError::Store(StoreError::Unavailable(_)))));
        assert!(invoices.serials().is_empty());
        invoices.outbox.down = false;
        assert_eq!(issue(&orders, &invoices, &seller(), placed.id, now()).await.unwrap(), Issuance::Issued(1));
    }

    #[tokio::test]
    async fn an_order_that_is_not_there_issues_nothing() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let missing = order(AccountId::new(), natural()).id;
        let outcome = issue(&orders, &invoices, &seller(), missing, now()).await;
        assert!(matches!(outcome, Err(IssuanceError::NoSuchOrder(id)) if id == missing));
        assert!(invoices.serials().is_empty() && invoices.outbox.events().is_empty());
    }
}
