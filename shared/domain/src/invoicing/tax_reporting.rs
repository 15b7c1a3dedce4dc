//! Reporting issued invoices to the tax system (سامانه مودیان): each invoice is queued in the
//! transaction that issues it; a scheduled run sends the queued ones in batches, signed and
//! encrypted, and inquires about the sent ones until the system accepts or rejects each.
//!
//! Nothing is lost and nothing is sent twice: a state moves on only by a conditional write from
//! the state it was read in; a run first takes each queued invoice for itself (a lease, counted as
//! an attempt), so two runs never send the same one; a failed call pushes the invoice's next turn
//! off (doubling, up to an hour) without losing it; and before an invoice is sent again its trace
//! id (ours, the same on every attempt) is looked up, so that a submission whose answer was lost
//! is found, not repeated.
//! A return invoice waits until the invoice it undoes is accepted: the system checks `irtaxid`.

use time::{Duration, OffsetDateTime};

use crate::invoicing::invoice::{Invoice, InvoiceKind};
use crate::invoicing::ports::{
    FailedInvoice, InvoiceBook, Packet, TaxEntry, TaxError, TaxLedger, TaxReference, TaxState, TaxSystem,
    TaxSystemError, Verdict,
};
use crate::invoicing::tax_invoice::TaxInvoice;
use crate::kernel::failures::StoreError;
use crate::kernel::paging::{Page, PageRequest};
use crate::kernel::problem::Problem;

/// Invoices per run (and so per submission): a run must end well within its function's time.
pub const BATCH: usize = 100;

/// The system validates asynchronously: the first inquiry waits this long after sending.
pub const FIRST_INQUIRY: Duration = Duration::seconds(10);

/// How long a run holds the queued invoices it is sending: another run leaves them alone
/// meanwhile, and if this one dies, they come back after it (and are looked up by trace first).
pub const LEASE: Duration = Duration::minutes(2);

/// When an invoice is tried again after `attempts` failed or undecided turns: 30 s, doubling,
/// at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    let seconds = 30u64.saturating_mul(1u64 << attempts.min(7));
    Duration::seconds(i64::try_from(seconds.min(3_600)).unwrap_or(3_600))
}

/// The trace id (`requestTraceId`) of an invoice: derived from its tax id, so every attempt at
/// sending it carries the same one.
pub fn trace_of(invoice: &Invoice) -> uuid::Uuid {
    crate::kernel::ids::derived("tax-trace", &[invoice.tax_id.as_str()])
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReportRun {
    pub sent: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Put off to a later run: the system unavailable or undecided, or a return waiting for its
    /// original.
    pub put_off: usize,
}

/// The invoices the tax system rejected, for the finance staff who correct them: oldest serial
/// first, with the system's errors.
pub async fn failed_invoices(ledger: &impl TaxLedger, page: PageRequest<'_>) -> Result<Page<FailedInvoice>, Problem> {
    Ok(ledger.failed(page).await?)
}

pub async fn report(
    ledger: &impl TaxLedger,
    invoices: &impl InvoiceBook,
    system: &impl TaxSystem,
    now: OffsetDateTime,
) -> Result<ReportRun, StoreError> {
    let mut run = ReportRun::default();
    let due = ledger.due(now, BATCH).await?;
    let (queued, sent): (Vec<_>, Vec<_>) = due.into_iter().partition(|entry| entry.state == TaxState::Queued);
    send_queued(ledger, invoices, system, queued, now, &mut run).await?;
    inquire_sent(ledger, system, sent, now, &mut run).await?;
    Ok(run)
}

/// Sends the queued invoices that may go now; those whose earlier attempt arrived after all are
/// marked sent without sending them again.
async fn send_queued(
    ledger: &impl TaxLedger,
    invoices: &impl InvoiceBook,
    system: &impl TaxSystem,
    queued: Vec<TaxEntry>,
    now: OffsetDateTime,
    run: &mut ReportRun,
) -> Result<(), StoreError> {
    let mut ready = Vec::new();
    for entry in queued {
        if entry.kind != InvoiceKind::Sale && !original_accepted(ledger, &entry).await? {
            // Not an attempt: a return's or a correction's turn comes with its original's.
            ledger.advance(&entry, &TaxState::Queued, entry.attempts, Some(now + FIRST_INQUIRY)).await?;
            run.put_off += 1;
            continue;
        }
        let Some(taken) = take(ledger, entry, now).await? else { continue };
        let invoice = invoices.get(taken.order, taken.kind).await?.ok_or(StoreError::Corrupt("queued invoice"))?;
        match TaxInvoice::of(&invoice) {
            Ok(tax) => ready.push((taken, Packet { trace: trace_of(&invoice), invoice: tax })),
            Err(mismatch) => {
                tracing::error!(order = %taken.order, %mismatch, "an invoice does not add up and was not sent to the tax system");
                let errors = vec![TaxError { code: "sum-mismatch".into(), message: mismatch.to_string() }];
                ledger.advance(&taken, &TaxState::Failed { reference: None, errors }, taken.attempts, None).await?;
                run.rejected += 1;
            }
        }
    }
    // An invoice tried before may have arrived though the answer did not: look before resending.
    let tried: Vec<uuid::Uuid> =
        ready.iter().filter(|(taken, _)| taken.attempts > 1).map(|(_, packet)| packet.trace).collect();
    if !tried.is_empty() {
        let found = match system.find(&tried).await {
            Ok(found) => found,
            Err(error) => {
                let taken = ready.into_iter().map(|(taken, _)| (taken.attempts, taken));
                return put_off_all(ledger, taken, &error, now, run).await;
            }
        };
        let mut waiting = Vec::new();
        for (taken, packet) in ready {
            match found.iter().find(|(trace, _)| *trace == packet.trace) {
                Some((_, reference)) => {
                    let sent = TaxState::Sent(reference.clone());
                    ledger.advance(&taken, &sent, taken.attempts, Some(now + FIRST_INQUIRY)).await?;
                    run.sent += 1;
                }
                None => waiting.push((taken, packet)),
            }
        }
        ready = waiting;
    }
    if ready.is_empty() {
        return Ok(());
    }
    let packets: Vec<Packet> = ready.iter().map(|(_, packet)| packet.clone()).collect();
    let receipts = match system.send(&packets).await {
        Ok(receipts) => receipts,
        Err(error) => {
            let taken = ready.into_iter().map(|(taken, _)| (taken.attempts, taken));
            return put_off_all(ledger, taken, &error, now, run).await;
        }
    };
    for (taken, packet) in ready {
        match receipts.iter().find(|(trace, _)| *trace == packet.trace) {
            Some((_, reference)) => {
                let sent = TaxState::Sent(reference.clone());
                ledger.advance(&taken, &sent, taken.attempts, Some(now + FIRST_INQUIRY)).await?;
                run.sent += 1;
            }
            None => {
                tracing::warn!(order = %taken.order, "the tax system gave no reference for an invoice it was sent");
                ledger
                    .advance(&taken, &TaxState::Queued, taken.attempts, Some(now + backoff(taken.attempts - 1)))
                    .await?;
                run.put_off += 1;
            }
        }
    }
    Ok(())
}

/// Takes a queued invoice for this run: one attempt more, held for `LEASE`. `None` when another
/// run took it first.
async fn take(ledger: &impl TaxLedger, entry: TaxEntry, now: OffsetDateTime) -> Result<Option<TaxEntry>, StoreError> {
    let taken = TaxEntry { attempts: entry.attempts + 1, due_at: now + LEASE, ..entry.clone() };
    Ok(ledger.advance(&entry, &TaxState::Queued, taken.attempts, Some(taken.due_at)).await?.then_some(taken))
}

/// Whether the invoice a return or a correction names is accepted: a correction names the sale's
/// invoice; a return, the sale's invoice as it stood when it was issued (a sale returned is not
/// corrected after).
async fn original_accepted(ledger: &impl TaxLedger, entry: &TaxEntry) -> Result<bool, StoreError> {
    let original = match entry.kind {
        InvoiceKind::Return => match ledger.entry(entry.order, InvoiceKind::Correction).await? {
            Some(corrective) => Some(corrective),
            None => ledger.entry(entry.order, InvoiceKind::Sale).await?,
        },
        _ => ledger.entry(entry.order, InvoiceKind::Sale).await?,
    };
    Ok(original.is_some_and(|original| matches!(original.state, TaxState::Accepted(_))))
}

/// Asks about the sent invoices and records each verdict.
async fn inquire_sent(
    ledger: &impl TaxLedger,
    system: &impl TaxSystem,
    sent: Vec<TaxEntry>,
    now: OffsetDateTime,
    run: &mut ReportRun,
) -> Result<(), StoreError> {
    let references: Vec<TaxReference> = sent
        .iter()
        .filter_map(|entry| if let TaxState::Sent(reference) = &entry.state { Some(reference.clone()) } else { None })
        .collect();
    if references.is_empty() {
        return Ok(());
    }
    let verdicts = match system.inquire(&references).await {
        Ok(verdicts) => verdicts,
        Err(error) => {
            let counted = sent.into_iter().map(|entry| (entry.attempts + 1, entry));
            return put_off_all(ledger, counted, &error, now, run).await;
        }
    };
    for entry in sent {
        let TaxState::Sent(reference) = &entry.state else { continue };
        let verdict = verdicts.iter().find(|(known, _)| known == reference).map(|(_, verdict)| verdict.clone());
        match verdict.unwrap_or(Verdict::Pending) {
            Verdict::Accepted => {
                ledger.advance(&entry, &TaxState::Accepted(reference.clone()), entry.attempts, None).await?;
                tracing::info!(order = %entry.order, "the tax system accepted an invoice");
                run.accepted += 1;
            }
            Verdict::Rejected(errors) => {
                let codes: Vec<&str> = errors.iter().map(|error| error.code.as_str()).collect();
                tracing::error!(order = %entry.order, ?codes, "the tax system rejected an invoice");
                let failed = TaxState::Failed { reference: Some(reference.clone()), errors };
                ledger.advance(&entry, &failed, entry.attempts, None).await?;
                run.rejected += 1;
            }
            Verdict::Pending => {
                let next = now + backoff(entry.attempts);
                ledger.advance(&entry, &entry.state, entry.attempts + 1, Some(next)).await?;
                run.put_off += 1;
            }
            // Lost on the system's side: sent again (its trace finds nothing, so it goes).
            Verdict::Unknown => {
                ledger.advance(&entry, &TaxState::Queued, entry.attempts + 1, Some(now)).await?;
                run.put_off += 1;
            }
        }
    }
    Ok(())
}

/// The system could not be asked: every entry keeps its state and comes back later, with its
/// attempts counted as given (this one included).
async fn put_off_all(
    ledger: &impl TaxLedger,
    entries: impl Iterator<Item = (u32, TaxEntry)>,
    error: &TaxSystemError,
    now: OffsetDateTime,
    run: &mut ReportRun,
) -> Result<(), StoreError> {
    match error {
        TaxSystemError::Unavailable(reason) => tracing::warn!(%reason, "the tax system is unavailable"),
        TaxSystemError::Refused(reason) => tracing::error!(%reason, "the tax system refused a request"),
    }
    for (attempts, entry) in entries {
        let next = now + backoff(attempts.saturating_sub(1));
        ledger.advance(&entry, &entry.state, attempts, Some(next)).await?;
        run.put_off += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::invoicing::issuance::{issue, issue_return};
    use crate::invoicing::testing::fixtures::{natural, now, order, paid, seller};
    use crate::invoicing::testing::{InMemoryInvoices, InMemoryTaxSystem, PlacedOrderList};
    use crate::kernel::ids::{AccountId, OrderId};
    use crate::ordering::order::Order;

    struct World {
        orders: PlacedOrderList,
        invoices: InMemoryInvoices,
        system: InMemoryTaxSystem,
    }

    impl World {
        fn new() -> Self {
            Self {
                orders: PlacedOrderList::default(),
                invoices: InMemoryInvoices::default(),
                system: InMemoryTaxSystem::default(),
            }
        }

        async fn sale(&self) -> Order {
            let placed = order(AccountId::new(), natural());
            self.orders.add(placed.clone());
            issue(&self.orders, &self.invoices, &seller(), placed.id, &paid(&placed)).await.unwrap();
            placed
        }

        async fn run(&self, at: OffsetDateTime) -> ReportRun {
            report(&self.invoices, &self.invoices, &self.system, at).await.unwrap()
        }

        async fn state(&self, order: OrderId, kind: InvoiceKind) -> TaxState {
            self.invoices.entry(order, kind).await.unwrap().unwrap().state
        }

        async fn taxid(&self, order: OrderId, kind: InvoiceKind) -> String {
            self.invoices.get(order, kind).await.unwrap().unwrap().tax_id.as_str().to_owned()
        }
    }

    #[tokio::test]
    async fn p8_an_issued_invoice_is_sent_once_and_accepted() {
        let world = World::new();
        let sale = world.sale().await;
        assert_eq!(world.run(now()).await, ReportRun { sent: 1, ..ReportRun::default() });
        assert!(matches!(world.state(sale.id, InvoiceKind::Sale).await, TaxState::Sent(_)));
        assert_eq!(world.run(now()).await, ReportRun::default(), "nothing is due before the first inquiry");
        assert_eq!(world.run(now() + FIRST_INQUIRY).await, ReportRun { accepted: 1, ..ReportRun::default() });
        assert!(matches!(world.state(sale.id, InvoiceKind::Sale).await, TaxState::Accepted(_)));
        assert_eq!(world.run(now() + Duration::hours(2)).await, ReportRun::default(), "accepted is done");
        assert_eq!(world.system.received(&world.taxid(sale.id, InvoiceKind::Sale).await), 1);
    }

    #[tokio::test]
    async fn a_rejected_invoice_is_failed_with_the_systems_errors_and_not_sent_again() {
        let world = World::new();
        let sale = world.sale().await;
        let taxid = world.taxid(sale.id, InvoiceKind::Sale).await;
        world.system.rejects.lock().unwrap().push(taxid.clone());
        world.run(now()).await;
        assert_eq!(world.run(now() + FIRST_INQUIRY).await.rejected, 1);
        let TaxState::Failed { reference: Some(_), errors } = world.state(sale.id, InvoiceKind::Sale).await else {
            panic!("failed with its reference")
        };
        assert_eq!(errors[0].code, "TAXID");
        world.run(now() + Duration::days(1)).await;
        assert_eq!(world.system.received(&taxid), 1);
    }

    #[tokio::test]
    async fn a_system_that_is_down_loses_nothing_and_is_tried_later() {
        let world = World::new();
        let sale = world.sale().await;
        world.system.down.store(true, Ordering::SeqCst);
        assert_eq!(world.run(now()).await.put_off, 1);
        let entry = world.invoices.entry(sale.id, InvoiceKind::Sale).await.unwrap().unwrap();
        assert_eq!((entry.state.clone(), entry.attempts, entry.due_at), (TaxState::Queued, 1, now() + backoff(0)));
        world.system.down.store(false, Ordering::SeqCst);
        assert_eq!(world.run(now() + Duration::seconds(5)).await, ReportRun::default(), "not before its turn");
        assert_eq!(world.run(entry.due_at).await.sent, 1);
        assert_eq!(world.run(entry.due_at + FIRST_INQUIRY).await.accepted, 1);
    }

    #[tokio::test]
    async fn a_submission_whose_answer_was_lost_is_found_not_repeated() {
        let world = World::new();
        let sale = world.sale().await;
        world.system.loses_answers.store(true, Ordering::SeqCst);
        assert_eq!(world.run(now()).await.put_off, 1);
        world.system.loses_answers.store(false, Ordering::SeqCst);
        assert_eq!(world.run(now() + Duration::hours(1)).await.sent, 1);
        world.run(now() + Duration::hours(2)).await;
        assert!(matches!(world.state(sale.id, InvoiceKind::Sale).await, TaxState::Accepted(_)));
        assert_eq!(world.system.received(&world.taxid(sale.id, InvoiceKind::Sale).await), 1, "sent once");
    }

    #[tokio::test]
    async fn an_inquiry_the_system_cannot_answer_is_put_off() {
        let world = World::new();
        let sale = world.sale().await;
        world.run(now()).await;
        world.system.down.store(true, Ordering::SeqCst);
        let later = now() + FIRST_INQUIRY;
        assert_eq!(world.run(later).await.put_off, 1);
        let entry = world.invoices.entry(sale.id, InvoiceKind::Sale).await.unwrap().unwrap();
        assert_eq!((entry.attempts, entry.due_at), (2, later + backoff(1)), "counted and put off");
        world.system.down.store(false, Ordering::SeqCst);
        assert_eq!(world.run(entry.due_at).await.accepted, 1);
    }

    #[tokio::test]
    async fn a_run_leaves_alone_what_another_run_is_sending() {
        let world = World::new();
        let sale = world.sale().await;
        let queued = world.invoices.entry(sale.id, InvoiceKind::Sale).await.unwrap().unwrap();
        // Another run took it a moment ago and is still sending it.
        assert!(take(&world.invoices, queued, now()).await.unwrap().is_some());
        assert_eq!(world.run(now() + Duration::seconds(1)).await, ReportRun::default());
        assert_eq!(world.system.received(&world.taxid(sale.id, InvoiceKind::Sale).await), 0);
        // That run died: after its lease the invoice is looked up by trace, then sent.
        assert_eq!(world.run(now() + LEASE).await.sent, 1);
    }

    #[tokio::test]
    async fn an_undecided_invoice_is_asked_about_again_later() {
        let world = World::new();
        let sale = world.sale().await;
        world.run(now()).await;
        world.system.undecided.store(2, Ordering::SeqCst);
        let later = now() + FIRST_INQUIRY;
        assert_eq!(world.run(later).await.put_off, 1);
        assert_eq!(world.run(later + Duration::hours(1)).await.put_off, 1);
        assert_eq!(world.run(later + Duration::hours(2)).await.accepted, 1);
        assert_eq!(world.system.received(&world.taxid(sale.id, InvoiceKind::Sale).await), 1);
    }

    #[tokio::test]
    async fn a_return_waits_for_its_original_to_be_accepted_then_follows_it() {
        let world = World::new();
        let sale = world.sale().await;
        issue_return(&world.orders, &world.invoices, &seller(), sale.id, now()).await.unwrap();
        let first = world.run(now()).await;
        assert_eq!((first.sent, first.put_off), (1, 1), "the original goes, its return waits");
        world.run(now() + FIRST_INQUIRY).await;
        assert!(matches!(world.state(sale.id, InvoiceKind::Sale).await, TaxState::Accepted(_)));
        assert_eq!(world.run(now() + FIRST_INQUIRY * 2).await.sent, 1);
        world.run(now() + FIRST_INQUIRY * 3).await;
        assert!(matches!(world.state(sale.id, InvoiceKind::Return).await, TaxState::Accepted(_)));
    }

    #[tokio::test]
    async fn the_rejected_invoices_are_listed_oldest_first_a_page_at_a_time() {
        let world = World::new();
        let (first, _accepted, third) = (world.sale().await, world.sale().await, world.sale().await);
        for rejected in [&first, &third] {
            let taxid = world.taxid(rejected.id, InvoiceKind::Sale).await;
            world.system.rejects.lock().unwrap().push(taxid);
        }
        world.run(now()).await;
        world.run(now() + FIRST_INQUIRY).await;
        let page = failed_invoices(&world.invoices, PageRequest { limit: 1, cursor: None }).await.unwrap();
        assert_eq!((page.items.len(), page.items[0].order, page.items[0].serial), (1, first.id, 1));
        assert_eq!(page.items[0].errors[0].code, "TAXID");
        let cursor = page.next.expect("a second page");
        let rest = failed_invoices(&world.invoices, PageRequest { limit: 10, cursor: Some(&cursor) }).await.unwrap();
        assert_eq!((rest.items.len(), rest.items[0].order, rest.next), (1, third.id, None));
        let bad = failed_invoices(&world.invoices, PageRequest { limit: 10, cursor: Some("x") }).await.unwrap_err();
        assert_eq!(bad.code, "validation-failed");
    }

    #[tokio::test]
    async fn an_invoice_that_does_not_add_up_is_never_sent() {
        let world = World::new();
        let sale = world.sale().await;
        let mut invoice = world.invoices.get(sale.id, InvoiceKind::Sale).await.unwrap().unwrap();
        invoice.totals.vat = crate::kernel::money::Rial::new(invoice.totals.vat.value() + 1);
        world.invoices.tamper(invoice.clone());
        assert_eq!(world.run(now()).await.rejected, 1);
        let TaxState::Failed { reference: None, errors } = world.state(sale.id, InvoiceKind::Sale).await else {
            panic!("failed here, never sent")
        };
        assert_eq!(errors[0].code, "sum-mismatch");
        assert_eq!(world.system.received(invoice.tax_id.as_str()), 0);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!([0, 1, 2, 7, 30].map(backoff), [30, 60, 120, 3_600, 3_600].map(Duration::seconds));
    }
}
