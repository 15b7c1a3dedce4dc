//! Correcting an invoice the tax system rejected: finance staff fix what can be fixed — who the
//! buyer is (a person's national code, a company's id, economic code and postal code) — and the
//! invoice goes back on its way to the system, with the correction kept beside it (who, when,
//! what the system had said).
//!
//! A rejected invoice was never registered by the system, so there is nothing for a corrective
//! invoice (`ins` 2, which names an accepted one by its tax id) to correct: the invoice is sent
//! again, corrected, under its own serial and tax id. Lines, totals and payment are the sale's
//! and are not corrected here: a sale that was different is cancelled and sold again.

use time::OffsetDateTime;

use crate::invoicing::invoice::{Invoice, InvoiceKind};
use crate::invoicing::ports::{Correction, InvoiceBook, TaxLedger, TaxState};
use crate::kernel::ids::{AccountId, OrderId};
use crate::kernel::problem::Problem;
use crate::ordering::order::Buyer;

pub async fn correct_rejected(
    invoices: &(impl InvoiceBook + TaxLedger),
    order: OrderId,
    kind: InvoiceKind,
    buyer: Buyer,
    by: AccountId,
    now: OffsetDateTime,
) -> Result<Invoice, Problem> {
    let entry = invoices.entry(order, kind).await?.ok_or_else(Problem::not_found)?;
    let TaxState::Failed { errors, .. } = &entry.state else { return Err(Problem::invoice_not_rejected()) };
    let invoice = invoices.get(order, kind).await?.ok_or_else(Problem::not_found)?;
    let corrected = Invoice { buyer, ..invoice };
    let correction = Correction { by, at: now.replace_nanosecond(0).unwrap_or(now), errors: errors.clone() };
    if !invoices.resubmit(&entry, &corrected, &correction).await? {
        // Corrected, or moved on, by someone else a moment ago.
        return Err(Problem::invoice_not_rejected());
    }
    tracing::info!(%order, serial = corrected.serial, staff = %by, "a rejected invoice was corrected and queued again");
    Ok(corrected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::issuance::issue;
    use crate::invoicing::tax_reporting::{FIRST_INQUIRY, report};
    use crate::invoicing::testing::fixtures::{natural, now, order, paid, seller};
    use crate::invoicing::testing::{InMemoryInvoices, InMemoryTaxSystem, PlacedOrderList};
    use crate::ordering::identity::NationalCode;

    fn corrected_buyer() -> Buyer {
        let Buyer::Natural { full_name, .. } = natural() else { unreachable!() };
        Buyer::Natural { full_name, national_code: NationalCode::parse("0499370899").unwrap() }
    }

    #[tokio::test]
    async fn p8_a_rejected_invoice_corrected_by_finance_is_sent_again_and_accepted() {
        let (orders, invoices, system) =
            (PlacedOrderList::default(), InMemoryInvoices::default(), InMemoryTaxSystem::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap();
        let original = invoices.get(placed.id, InvoiceKind::Sale).await.unwrap().unwrap();
        system.rejects.lock().unwrap().push(original.tax_id.as_str().to_owned());
        report(&invoices, &invoices, &system, now()).await.unwrap();
        report(&invoices, &invoices, &system, now() + FIRST_INQUIRY).await.unwrap();

        let staff = AccountId::new();
        let later = now() + time::Duration::hours(1);
        let corrected =
            correct_rejected(&invoices, placed.id, InvoiceKind::Sale, corrected_buyer(), staff, later).await.unwrap();
        assert_eq!(
            (corrected.serial, &corrected.tax_id, corrected.totals),
            (original.serial, &original.tax_id, original.totals)
        );
        assert_eq!(corrected.buyer, corrected_buyer());
        let [correction] = invoices.corrections(placed.id, InvoiceKind::Sale).try_into().unwrap();
        assert_eq!((correction.by, correction.at, correction.errors[0].code.as_str()), (staff, later, "TAXID"));

        let twice = correct_rejected(&invoices, placed.id, InvoiceKind::Sale, corrected_buyer(), staff, later).await;
        assert_eq!(twice.unwrap_err().code, "invoice-not-rejected", "queued again, not rejected");
        system.rejects.lock().unwrap().clear();
        report(&invoices, &invoices, &system, later).await.unwrap();
        report(&invoices, &invoices, &system, later + FIRST_INQUIRY).await.unwrap();
        let entry = invoices.entry(placed.id, InvoiceKind::Sale).await.unwrap().unwrap();
        assert!(matches!(entry.state, TaxState::Accepted(_)), "{entry:?}");
    }

    #[tokio::test]
    async fn an_invoice_that_was_not_rejected_is_not_corrected_here() {
        let (orders, invoices) = (PlacedOrderList::default(), InMemoryInvoices::default());
        let placed = order(AccountId::new(), natural());
        orders.add(placed.clone());
        issue(&orders, &invoices, &seller(), placed.id, &paid(&placed)).await.unwrap();
        let queued =
            correct_rejected(&invoices, placed.id, InvoiceKind::Sale, corrected_buyer(), AccountId::new(), now());
        assert_eq!(queued.await.unwrap_err().code, "invoice-not-rejected");
        let missing =
            correct_rejected(&invoices, placed.id, InvoiceKind::Return, corrected_buyer(), AccountId::new(), now());
        assert_eq!(missing.await.unwrap_err().code, "not-found");
    }
}
