//! Correcting an invoice's buyer — a person's national code, a company's id, economic code and
//! postal code — for finance staff, as the tax system allows it:
//!
//! - An invoice the system rejected was never registered by it, so there is nothing for a
//!   corrective invoice to name: it is corrected in place and sent again under its own serial and
//!   tax id, the correction kept beside it (who, when, what the system had said).
//! - A sale's invoice the system accepted is corrected by a corrective invoice (`ins` 2): the
//!   same sale under the next serial and a tax id of its own, naming the accepted one
//!   (`irtaxid`), reported in its turn. From then on it is the sale's invoice as it stands: the
//!   one its customer reads and a later return names. A sale is corrected so once; a return
//!   invoice, and a sale already returned, stand as accepted.
//!
//! Lines, totals and payment are the sale's and are not corrected here: a sale that was
//! different is cancelled and sold again.

use time::OffsetDateTime;

use crate::invoicing::invoice::{Invoice, InvoiceKind, Seller};
use crate::invoicing::ports::{Correction, InvoiceBook, Issuance, TaxLedger, TaxState};
use crate::kernel::ids::{AccountId, OrderId};
use crate::kernel::problem::Problem;
use crate::ordering::order::Buyer;

/// How an invoice was corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corrected {
    /// The rejected invoice, corrected and queued again.
    InPlace(Invoice),
    /// A new corrective invoice, queued, naming the accepted one.
    Corrective(Invoice),
}

/// Corrects the buyer of the order's invoice of `kind` on behalf of finance staff `by`.
pub async fn correct(
    invoices: &(impl InvoiceBook + TaxLedger),
    seller: &Seller,
    order: OrderId,
    kind: InvoiceKind,
    buyer: Buyer,
    by: AccountId,
    now: OffsetDateTime,
) -> Result<Corrected, Problem> {
    let entry = invoices.entry(order, kind).await?.ok_or_else(Problem::not_found)?;
    match &entry.state {
        TaxState::Queued | TaxState::Sent(_) => Err(Problem::invoice_awaiting_verdict()),
        TaxState::Failed { errors, .. } => {
            let invoice = invoices.get(order, kind).await?.ok_or_else(Problem::not_found)?;
            let corrected = Invoice { buyer, ..invoice };
            let correction = Correction { by, at: now.replace_nanosecond(0).unwrap_or(now), errors: errors.clone() };
            if !invoices.resubmit(&entry, &corrected, &correction).await? {
                // Corrected, or moved on, by someone else a moment ago.
                return Err(Problem::invoice_awaiting_verdict());
            }
            tracing::info!(%order, serial = corrected.serial, staff = %by, "a rejected invoice was corrected and queued again");
            Ok(Corrected::InPlace(corrected))
        }
        TaxState::Accepted(_) => match kind {
            InvoiceKind::Sale => issue_corrective(invoices, seller, order, buyer, by, now).await,
            InvoiceKind::Correction => Err(Problem::invoice_already_corrected()),
            InvoiceKind::Return => Err(Problem::invoice_not_correctable()),
        },
    }
}

async fn issue_corrective(
    invoices: &impl InvoiceBook,
    seller: &Seller,
    order: OrderId,
    buyer: Buyer,
    by: AccountId,
    now: OffsetDateTime,
) -> Result<Corrected, Problem> {
    if invoices.get(order, InvoiceKind::Return).await?.is_some() {
        return Err(Problem::invoice_not_correctable());
    }
    let accepted = invoices.get(order, InvoiceKind::Sale).await?.ok_or_else(Problem::not_found)?;
    let make = |serial| Invoice::correcting(&accepted, buyer.clone(), seller, serial, now);
    let issued = invoices.issue(order, InvoiceKind::Correction, make, &[]).await?.map_err(|error| {
        tracing::error!(%error, %order, "a corrective invoice could not be numbered");
        Problem::internal()
    })?;
    let Issuance::Issued(serial) = issued else { return Err(Problem::invoice_already_corrected()) };
    tracing::info!(%order, serial, staff = %by, "a corrective invoice was issued");
    let corrective = invoices.get(order, InvoiceKind::Correction).await?.ok_or_else(Problem::internal)?;
    Ok(Corrected::Corrective(corrective))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::invoice::InvoiceSubject;
    use crate::invoicing::issuance::{issue, issue_return};
    use crate::invoicing::tax_reporting::{FIRST_INQUIRY, report};
    use crate::invoicing::testing::fixtures::{natural, now, order, paid, seller};
    use crate::invoicing::testing::{InMemoryInvoices, InMemoryTaxSystem, PlacedOrderList};
    use crate::ordering::identity::NationalCode;
    use crate::ordering::order::Order;

    fn corrected_buyer() -> Buyer {
        let Buyer::Natural { full_name, .. } = natural() else { unreachable!() };
        Buyer::Natural { full_name, national_code: NationalCode::parse("0499370899").unwrap() }
    }

    struct World {
        orders: PlacedOrderList,
        invoices: InMemoryInvoices,
        system: InMemoryTaxSystem,
        placed: Order,
    }

    /// An order paid and invoiced.
    async fn invoiced() -> World {
        let world = World {
            orders: PlacedOrderList::default(),
            invoices: InMemoryInvoices::default(),
            system: InMemoryTaxSystem::default(),
            placed: order(AccountId::new(), natural()),
        };
        world.orders.add(world.placed.clone());
        issue(&world.orders, &world.invoices, &seller(), world.placed.id, &paid(&world.placed)).await.unwrap();
        world
    }

    impl World {
        /// Two runs of the tax function: everything due is sent, then its verdict is read.
        async fn report_at(&self, at: OffsetDateTime) {
            report(&self.invoices, &self.invoices, &self.system, at).await.unwrap();
            report(&self.invoices, &self.invoices, &self.system, at + FIRST_INQUIRY).await.unwrap();
        }

        async fn state(&self, kind: InvoiceKind) -> TaxState {
            self.invoices.entry(self.placed.id, kind).await.unwrap().unwrap().state
        }

        async fn correct(&self, kind: InvoiceKind, at: OffsetDateTime) -> Result<Corrected, Problem> {
            correct(&self.invoices, &seller(), self.placed.id, kind, corrected_buyer(), AccountId::new(), at).await
        }
    }

    #[tokio::test]
    async fn p8_a_rejected_invoice_corrected_by_finance_is_sent_again_and_accepted() {
        let world = invoiced().await;
        let original = world.invoices.get(world.placed.id, InvoiceKind::Sale).await.unwrap().unwrap();
        world.system.rejects.lock().unwrap().push(original.tax_id.as_str().to_owned());
        world.report_at(now()).await;

        let staff = AccountId::new();
        let later = now() + time::Duration::hours(1);
        let seller = seller();
        let corrected =
            correct(&world.invoices, &seller, world.placed.id, InvoiceKind::Sale, corrected_buyer(), staff, later);
        let Corrected::InPlace(corrected) = corrected.await.unwrap() else { panic!("corrected in place") };
        assert_eq!(
            (corrected.serial, &corrected.tax_id, corrected.totals, &corrected.subject),
            (original.serial, &original.tax_id, original.totals, &InvoiceSubject::Original)
        );
        assert_eq!(corrected.buyer, corrected_buyer());
        let [correction] = world.invoices.corrections(world.placed.id, InvoiceKind::Sale).try_into().unwrap();
        assert_eq!((correction.by, correction.at, correction.errors[0].code.as_str()), (staff, later, "TAXID"));

        let twice = world.correct(InvoiceKind::Sale, later).await;
        assert_eq!(twice.unwrap_err().code, "invoice-awaiting-verdict", "queued again, not rejected");
        world.system.rejects.lock().unwrap().clear();
        world.report_at(later).await;
        assert!(matches!(world.state(InvoiceKind::Sale).await, TaxState::Accepted(_)));
        assert_eq!(world.system.received(original.tax_id.as_str()), 2, "sent again under its own tax id");
    }

    #[tokio::test]
    async fn an_invoice_awaiting_its_verdict_is_not_corrected_yet() {
        let world = invoiced().await;
        assert_eq!(world.correct(InvoiceKind::Sale, now()).await.unwrap_err().code, "invoice-awaiting-verdict");
        report(&world.invoices, &world.invoices, &world.system, now()).await.unwrap();
        assert!(matches!(world.state(InvoiceKind::Sale).await, TaxState::Sent(_)));
        assert_eq!(world.correct(InvoiceKind::Sale, now()).await.unwrap_err().code, "invoice-awaiting-verdict");
        assert_eq!(world.correct(InvoiceKind::Return, now()).await.unwrap_err().code, "not-found");
    }

    #[tokio::test]
    async fn p8_an_accepted_invoice_is_corrected_by_a_corrective_invoice_that_names_it() {
        let world = invoiced().await;
        world.report_at(now()).await;
        let accepted = world.invoices.get(world.placed.id, InvoiceKind::Sale).await.unwrap().unwrap();

        let later = now() + time::Duration::days(3);
        let Corrected::Corrective(corrective) = world.correct(InvoiceKind::Sale, later).await.unwrap() else {
            panic!("a corrective invoice")
        };
        assert_eq!(corrective.subject, InvoiceSubject::Correction { original: accepted.tax_id.clone() });
        assert_eq!(
            (corrective.subject.code(), corrective.serial, corrective.issued_at),
            (2, accepted.serial + 1, later)
        );
        assert_ne!(corrective.tax_id, accepted.tax_id);
        assert_eq!(
            (corrective.totals, &corrective.lines, &corrective.payment),
            (accepted.totals, &accepted.lines, &accepted.payment)
        );
        assert_eq!(corrective.buyer, corrected_buyer());
        assert_eq!(
            world.invoices.get(world.placed.id, InvoiceKind::Sale).await.unwrap(),
            Some(accepted.clone()),
            "kept"
        );
        assert_eq!(world.invoices.standing_sale(world.placed.id, None).await.unwrap(), Some(corrective.clone()));

        world.report_at(later).await;
        assert!(matches!(world.state(InvoiceKind::Correction).await, TaxState::Accepted(_)));
        let header = world.system.header(corrective.tax_id.as_str()).unwrap();
        assert_eq!((header.ins, header.irtaxid.as_deref()), (2, Some(accepted.tax_id.as_str())));
        assert_eq!(world.system.received(accepted.tax_id.as_str()), 1, "the accepted one is not sent again");

        assert_eq!(world.correct(InvoiceKind::Sale, later).await.unwrap_err().code, "invoice-already-corrected");
        assert_eq!(world.correct(InvoiceKind::Correction, later).await.unwrap_err().code, "invoice-already-corrected");
    }

    #[tokio::test]
    async fn a_return_after_a_correction_names_the_corrective_invoice_and_waits_for_it() {
        let world = invoiced().await;
        world.report_at(now()).await;
        let later = now() + time::Duration::days(1);
        let Corrected::Corrective(corrective) = world.correct(InvoiceKind::Sale, later).await.unwrap() else {
            panic!("a corrective invoice")
        };
        issue_return(&world.orders, &world.invoices, &seller(), world.placed.id, later).await.unwrap();
        let returned = world.invoices.get(world.placed.id, InvoiceKind::Return).await.unwrap().unwrap();
        assert_eq!(returned.subject, InvoiceSubject::Return { original: corrective.tax_id.clone() });
        assert_eq!(returned.buyer, corrected_buyer());

        world.system.down.store(true, std::sync::atomic::Ordering::SeqCst);
        world.report_at(later).await;
        world.system.down.store(false, std::sync::atomic::Ordering::SeqCst);
        report(&world.invoices, &world.invoices, &world.system, later + time::Duration::hours(2)).await.unwrap();
        assert_eq!(world.system.received(returned.tax_id.as_str()), 0, "not before the invoice it names is accepted");
        world.report_at(later + time::Duration::hours(3)).await;
        world.report_at(later + time::Duration::hours(4)).await;
        assert!(matches!(world.state(InvoiceKind::Return).await, TaxState::Accepted(_)));
    }

    #[tokio::test]
    async fn a_returned_sale_and_its_return_invoice_stand_as_accepted() {
        let world = invoiced().await;
        issue_return(&world.orders, &world.invoices, &seller(), world.placed.id, now()).await.unwrap();
        for hour in 0..3 {
            world.report_at(now() + time::Duration::hours(hour)).await;
        }
        assert!(matches!(world.state(InvoiceKind::Return).await, TaxState::Accepted(_)));
        assert_eq!(world.correct(InvoiceKind::Sale, now()).await.unwrap_err().code, "invoice-not-correctable");
        assert_eq!(world.correct(InvoiceKind::Return, now()).await.unwrap_err().code, "invoice-not-correctable");
        assert_eq!(world.invoices.get(world.placed.id, InvoiceKind::Correction).await.unwrap(), None);
    }
}
