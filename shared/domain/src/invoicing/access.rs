//! A customer's own invoices and VAT certificates (P8, P13): another customer's invoice is as
//! absent as one that never existed.

use time::OffsetDateTime;

use crate::invoicing::invoice::{Invoice, InvoiceKind, VatCertificate};
use crate::invoicing::ports::{InvoiceBook, PlacedOrders, TaxLedger, TaxState};
use crate::kernel::ids::{AccountId, OrderId};
use crate::kernel::problem::Problem;
use crate::ordering::lifecycle::OrderStatus;

/// The invoice of `kind` of the customer's order — for a sale, its invoice as it stands (the
/// corrective one once there is one); `order-not-paid` before it is paid, `invoice-pending` in the
/// moments between its payment (or, for a return invoice, its cancellation) and its invoice.
pub async fn own_invoice(
    invoices: &impl InvoiceBook,
    orders: &impl PlacedOrders,
    customer: AccountId,
    order: OrderId,
    kind: InvoiceKind,
) -> Result<Invoice, Problem> {
    let found = match kind {
        InvoiceKind::Sale => invoices.standing_sale(order, Some(customer)).await?,
        other => invoices.owned(order, other, customer).await?,
    };
    match found {
        Some(invoice) => Ok(invoice),
        None => match orders.owned(order, customer).await? {
            // Paid at some point (even if cancelled since): its invoice is on its way.
            Some(placed) => match (placed.payment, kind) {
                (None, _) => Err(Problem::order_not_paid()),
                (Some(_), InvoiceKind::Sale) => Err(Problem::invoice_pending()),
                (Some(_), InvoiceKind::Return) if placed.status == OrderStatus::Cancelled => {
                    Err(Problem::invoice_pending())
                }
                // A sale that stands has no return invoice; one never corrected, no corrective.
                (Some(_), InvoiceKind::Return | InvoiceKind::Correction) => Err(Problem::not_found()),
            },
            None => Err(Problem::not_found()),
        },
    }
}

/// The invoice of `kind` of the customer's order, with where it stands with the tax system (none
/// for an invoice issued before invoices were reported).
pub async fn own_invoice_and_tax_state(
    invoices: &(impl InvoiceBook + TaxLedger),
    orders: &impl PlacedOrders,
    customer: AccountId,
    order: OrderId,
    kind: InvoiceKind,
) -> Result<(Invoice, Option<TaxState>), Problem> {
    let invoice = own_invoice(invoices, orders, customer, order, kind).await?;
    let state = invoices.entry(order, invoice.subject.kind()).await?.map(|entry| entry.state);
    Ok((invoice, state))
}

/// The VAT certificate of a legal-entity buyer's invoice, issued once and the same one after,
/// with the invoice it certifies (whose seller and buyer its printable page names).
pub async fn certify(
    invoices: &impl InvoiceBook,
    orders: &impl PlacedOrders,
    customer: AccountId,
    order: OrderId,
    now: OffsetDateTime,
) -> Result<(VatCertificate, Invoice), Problem> {
    let invoice = own_invoice(invoices, orders, customer, order, InvoiceKind::Sale).await?;
    let certificate = VatCertificate::for_invoice(&invoice, now).map_err(|_| Problem::not_a_legal_entity())?;
    Ok((invoices.certify(&certificate).await?, invoice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::issuance::issue;
    use crate::invoicing::testing::fixtures::{legal, natural, now, order, paid, seller};
    use crate::invoicing::testing::{InMemoryInvoices, PlacedOrderList};
    use crate::ordering::lifecycle::OrderStatus;
    use crate::ordering::order::Buyer;

    async fn issued(buyer: Buyer) -> (PlacedOrderList, InMemoryInvoices, AccountId, OrderId) {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let customer = AccountId::new();
        let placed = order(customer, buyer);
        orders.add(placed.clone());
        issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap();
        (orders, invoices, customer, placed.id)
    }

    #[tokio::test]
    async fn p13_an_invoice_is_its_buyers_alone() {
        let (orders, invoices, customer, id) = issued(natural()).await;
        assert_eq!(own_invoice(&invoices, &orders, customer, id, InvoiceKind::Sale).await.unwrap().order_id, id);
        let stranger = own_invoice(&invoices, &orders, AccountId::new(), id, InvoiceKind::Sale).await.unwrap_err();
        assert_eq!(stranger.code, "not-found");
    }

    #[tokio::test]
    async fn an_order_awaiting_its_invoice_says_so_to_its_owner_only() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let customer = AccountId::new();
        let placed = order(customer, natural());
        orders.add(placed.clone());
        assert_eq!(
            own_invoice(&invoices, &orders, customer, placed.id, InvoiceKind::Sale).await.unwrap_err().code,
            "invoice-pending"
        );
        assert_eq!(
            own_invoice(&invoices, &orders, AccountId::new(), placed.id, InvoiceKind::Sale).await.unwrap_err().code,
            "not-found"
        );
        let mut unpaid = order(customer, natural());
        unpaid.status = OrderStatus::AwaitingPayment;
        unpaid.payment = None;
        orders.add(unpaid.clone());
        assert_eq!(
            own_invoice(&invoices, &orders, customer, unpaid.id, InvoiceKind::Sale).await.unwrap_err().code,
            "order-not-paid"
        );
    }

    #[tokio::test]
    async fn p8_a_vat_certificate_is_for_legal_entities_and_issued_once() {
        let (orders, invoices, customer, id) = issued(legal()).await;
        let (first, invoice) = certify(&invoices, &orders, customer, id, now()).await.unwrap();
        let (later, _) = certify(&invoices, &orders, customer, id, now() + time::Duration::DAY).await.unwrap();
        assert_eq!(first, later);
        assert_eq!((first.tax_id, first.vat), (invoice.tax_id, invoice.totals.vat));
        let (orders, invoices, customer, id) = issued(natural()).await;
        let refused = certify(&invoices, &orders, customer, id, now()).await.unwrap_err();
        assert_eq!(refused.code, "not-a-legal-entity");
    }
}
