//! The invoices table and the orders it reads, in memory: serials without gaps, one invoice and
//! one certificate per order.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::invoicing::invoice::{Invoice, InvoiceKind, VatCertificate};
use crate::invoicing::ports::{
    Correction, FailedInvoice, InvoiceBook, Issuance, Packet, PlacedOrders, TaxEntry, TaxError, TaxLedger,
    TaxReference, TaxState, TaxSystem, TaxSystemError, Verdict,
};
use crate::invoicing::tax_invoice::Header;
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId};
use crate::kernel::paging::{ListError, Page, PageRequest};
use crate::kernel::testing::OutboxEvents;
use crate::ordering::order::Order;

#[derive(Default)]
pub struct InMemoryInvoices {
    invoices: Mutex<HashMap<(OrderId, InvoiceKind), Invoice>>,
    certificates: Mutex<HashMap<OrderId, VatCertificate>>,
    tax: Mutex<HashMap<(OrderId, InvoiceKind), TaxEntry>>,
    corrections: Mutex<Vec<((OrderId, InvoiceKind), Correction)>>,
    pub outbox: OutboxEvents,
}

impl InMemoryInvoices {
    /// The corrections recorded for an invoice.
    pub fn corrections(&self, order: OrderId, kind: InvoiceKind) -> Vec<Correction> {
        let corrections = self.corrections.lock().unwrap_or_else(PoisonError::into_inner);
        corrections.iter().filter(|(key, _)| *key == (order, kind)).map(|(_, correction)| correction.clone()).collect()
    }

    /// Replaces a stored invoice as it is (a manual edit, a bug).
    pub fn tamper(&self, invoice: Invoice) {
        let key = (invoice.order_id, invoice.subject.kind());
        self.invoices.lock().unwrap_or_else(PoisonError::into_inner).insert(key, invoice);
    }

    pub fn serials(&self) -> Vec<u64> {
        let mut serials: Vec<u64> =
            self.invoices.lock().unwrap_or_else(PoisonError::into_inner).values().map(|i| i.serial).collect();
        serials.sort_unstable();
        serials
    }
}

impl InvoiceBook for InMemoryInvoices {
    async fn issue<E>(
        &self,
        order: OrderId,
        kind: InvoiceKind,
        make: impl Fn(u64) -> Result<Invoice, E>,
        announced: &[Envelope],
    ) -> Result<Result<Issuance, E>, StoreError> {
        let mut invoices = self.invoices.lock().unwrap_or_else(PoisonError::into_inner);
        if invoices.contains_key(&(order, kind)) {
            return Ok(Ok(Issuance::AlreadyIssued));
        }
        let serial = invoices.values().map(|invoice| invoice.serial).max().unwrap_or(0) + 1;
        let invoice = match make(serial) {
            Ok(invoice) => invoice,
            Err(error) => return Ok(Err(error)),
        };
        self.outbox.writable()?;
        self.outbox.add(announced);
        let queued = TaxEntry { order, kind, state: TaxState::Queued, attempts: 0, due_at: invoice.issued_at };
        self.tax.lock().unwrap_or_else(PoisonError::into_inner).insert((order, kind), queued);
        invoices.insert((order, kind), invoice);
        Ok(Ok(Issuance::Issued(serial)))
    }

    async fn get(&self, order: OrderId, kind: InvoiceKind) -> Result<Option<Invoice>, StoreError> {
        Ok(self.invoices.lock().unwrap_or_else(PoisonError::into_inner).get(&(order, kind)).cloned())
    }

    async fn owned(&self, order: OrderId, kind: InvoiceKind, owner: AccountId) -> Result<Option<Invoice>, StoreError> {
        Ok(self.get(order, kind).await?.filter(|invoice| invoice.account == owner))
    }

    async fn certify(&self, certificate: &VatCertificate) -> Result<VatCertificate, StoreError> {
        let mut certificates = self.certificates.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(certificates.entry(certificate.order_id).or_insert_with(|| certificate.clone()).clone())
    }
}

impl TaxLedger for InMemoryInvoices {
    async fn due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<TaxEntry>, StoreError> {
        let entries = self.tax.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due: Vec<TaxEntry> = entries
            .values()
            .filter(|entry| matches!(entry.state, TaxState::Queued | TaxState::Sent(_)) && entry.due_at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|entry| entry.due_at);
        due.truncate(limit);
        Ok(due)
    }

    async fn entry(&self, order: OrderId, kind: InvoiceKind) -> Result<Option<TaxEntry>, StoreError> {
        Ok(self.tax.lock().unwrap_or_else(PoisonError::into_inner).get(&(order, kind)).cloned())
    }

    async fn failed(&self, page: PageRequest<'_>) -> Result<Page<FailedInvoice>, ListError> {
        let after: u64 = match page.cursor {
            Some(cursor) => cursor.parse().map_err(|_| ListError::BadCursor)?,
            None => 0,
        };
        let (entries, invoices) = (
            self.tax.lock().unwrap_or_else(PoisonError::into_inner),
            self.invoices.lock().unwrap_or_else(PoisonError::into_inner),
        );
        let mut failed: Vec<FailedInvoice> = entries
            .values()
            .filter_map(|entry| {
                let TaxState::Failed { reference, errors } = &entry.state else { return None };
                let invoice = invoices.get(&(entry.order, entry.kind))?;
                Some(FailedInvoice {
                    order: entry.order,
                    kind: entry.kind,
                    serial: invoice.serial,
                    tax_id: invoice.tax_id.as_str().to_owned(),
                    reference: reference.clone(),
                    errors: errors.clone(),
                })
            })
            .filter(|failed| failed.serial > after)
            .collect();
        failed.sort_by_key(|failed| failed.serial);
        let more = failed.len() > page.limit as usize;
        failed.truncate(page.limit as usize);
        let next = more.then(|| failed.last().map(|last| last.serial.to_string())).flatten();
        Ok(Page { items: failed, next })
    }

    async fn resubmit(
        &self,
        entry: &TaxEntry,
        corrected: &Invoice,
        correction: &Correction,
    ) -> Result<bool, StoreError> {
        self.outbox.writable()?;
        let mut entries = self.tax.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = entries.get_mut(&(entry.order, entry.kind)).filter(|stored| *stored == entry) else {
            return Ok(false);
        };
        *stored = TaxEntry { state: TaxState::Queued, attempts: 0, due_at: correction.at, ..entry.clone() };
        let key = (entry.order, entry.kind);
        self.invoices.lock().unwrap_or_else(PoisonError::into_inner).insert(key, corrected.clone());
        self.corrections.lock().unwrap_or_else(PoisonError::into_inner).push((key, correction.clone()));
        Ok(true)
    }

    async fn advance(
        &self,
        entry: &TaxEntry,
        state: &TaxState,
        attempts: u32,
        due_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        self.outbox.writable()?;
        let mut entries = self.tax.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = entries.get_mut(&(entry.order, entry.kind)).filter(|stored| *stored == entry) else {
            return Ok(false);
        };
        stored.state = state.clone();
        stored.attempts = attempts;
        stored.due_at = due_at.unwrap_or(stored.due_at);
        Ok(true)
    }
}

/// The tax system: accepts what it is sent unless told otherwise. `down` answers nothing;
/// `loses_answers` takes a submission but loses its answer; `undecided` inquiries answer pending
/// that many times.
#[derive(Default)]
pub struct InMemoryTaxSystem {
    /// By trace: the reference given, and the tax id sent.
    received: Mutex<Vec<(uuid::Uuid, TaxReference, String)>>,
    /// Every header sent, in order.
    headers: Mutex<Vec<Header>>,
    pub rejects: Mutex<Vec<String>>,
    pub down: std::sync::atomic::AtomicBool,
    pub loses_answers: std::sync::atomic::AtomicBool,
    pub undecided: std::sync::atomic::AtomicU32,
}

impl InMemoryTaxSystem {
    /// How often each tax id was received.
    pub fn received(&self, taxid: &str) -> usize {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).iter().filter(|(_, _, id)| id == taxid).count()
    }

    /// The header last sent under `taxid`.
    pub fn header(&self, taxid: &str) -> Option<Header> {
        let headers = self.headers.lock().unwrap_or_else(PoisonError::into_inner);
        headers.iter().rev().find(|header| header.taxid == taxid).cloned()
    }

    fn reachable(&self) -> Result<(), TaxSystemError> {
        match self.down.load(std::sync::atomic::Ordering::SeqCst) {
            true => Err(TaxSystemError::Unavailable("timeout".into())),
            false => Ok(()),
        }
    }
}

impl TaxSystem for InMemoryTaxSystem {
    async fn send(&self, packets: &[Packet]) -> Result<Vec<(uuid::Uuid, TaxReference)>, TaxSystemError> {
        self.reachable()?;
        let mut received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        let mut receipts = Vec::new();
        for packet in packets {
            let reference = TaxReference(format!("ref-{}", received.len() + 1));
            received.push((packet.trace, reference.clone(), packet.invoice.header.taxid.clone()));
            self.headers.lock().unwrap_or_else(PoisonError::into_inner).push(packet.invoice.header.clone());
            receipts.push((packet.trace, reference));
        }
        match self.loses_answers.load(std::sync::atomic::Ordering::SeqCst) {
            true => Err(TaxSystemError::Unavailable("the answer was lost".into())),
            false => Ok(receipts),
        }
    }

    async fn inquire(&self, references: &[TaxReference]) -> Result<Vec<(TaxReference, Verdict)>, TaxSystemError> {
        self.reachable()?;
        let received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        let rejects = self.rejects.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(references
            .iter()
            .map(|reference| {
                let taxid = received.iter().find(|(_, known, _)| known == reference).map(|(_, _, taxid)| taxid);
                let undecided = self.undecided.load(std::sync::atomic::Ordering::SeqCst);
                let verdict = match taxid {
                    None => Verdict::Unknown,
                    Some(_) if undecided > 0 => {
                        self.undecided.store(undecided - 1, std::sync::atomic::Ordering::SeqCst);
                        Verdict::Pending
                    }
                    Some(taxid) if rejects.contains(taxid) => {
                        Verdict::Rejected(vec![TaxError { code: "TAXID".into(), message: "rejected".into() }])
                    }
                    Some(_) => Verdict::Accepted,
                };
                (reference.clone(), verdict)
            })
            .collect())
    }

    async fn find(&self, traces: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, TaxReference)>, TaxSystemError> {
        self.reachable()?;
        let received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(received
            .iter()
            .filter(|(trace, _, _)| traces.contains(trace))
            .map(|(trace, reference, _)| (*trace, reference.clone()))
            .collect())
    }
}

/// Placed orders, by id.
#[derive(Default)]
pub struct PlacedOrderList(Mutex<HashMap<OrderId, Order>>);

impl PlacedOrderList {
    pub fn add(&self, order: Order) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(order.id, order);
    }
}

impl PlacedOrders for PlacedOrderList {
    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned())
    }

    async fn owned(&self, id: OrderId, owner: AccountId) -> Result<Option<Order>, StoreError> {
        Ok(self.order(id).await?.filter(|order| order.account == owner))
    }
}

/// A seller, and orders of a natural or a legal-entity buyer.
#[cfg(test)]
pub mod fixtures {
    use time::OffsetDateTime;

    use crate::accounts::contact::PostalCode;
    use crate::accounts::person::FullName;
    use crate::invoicing::invoice::{PaymentRecord, Seller};
    use crate::invoicing::tax_id::MemoryId;
    use crate::kernel::ids::{AccountId, OrderId, PaymentId};
    use crate::ordering::catalog::Product;
    use crate::ordering::identity::{EconomicCode, LegalId, NationalCode};
    use crate::ordering::lifecycle::{OrderPayment, OrderStatus};
    use crate::ordering::order::{Buyer, CompanyName, DEFAULT_PAYMENT_WINDOW, Order};
    use crate::ordering::pricing::{VatSchedule, price_order};

    const SEED: &str = include_str!("../../../../infra/seed/products.json");
    const RATES: &str = r#"[{"from":"2024-03-20T00:00:00+03:30","percent":10,"source":"قانون بودجه ۱۴۰۳"}]"#;

    pub fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    pub fn seller() -> Seller {
        Seller {
            name: "قهوه میزان".to_owned(),
            economic_code: EconomicCode::parse("10380284790").unwrap(),
            address: "تهران، خیابان ولیعصر، پلاک ۱".to_owned(),
            postal_code: PostalCode::parse("1968913456").unwrap(),
            memory_id: MemoryId::parse("DEF5GH").unwrap(),
        }
    }

    pub fn natural() -> Buyer {
        Buyer::Natural {
            full_name: FullName::parse("مریم کاظمی").unwrap(),
            national_code: NationalCode::parse("0076229645").unwrap(),
        }
    }

    pub fn legal() -> Buyer {
        let id = LegalId::parse("10380284790").unwrap();
        let name = CompanyName::parse("شرکت قهوه‌گستر").unwrap();
        Buyer::legal(name, EconomicCode::parse("10380284790").unwrap(), id, PostalCode::parse("1968913456").unwrap())
            .unwrap()
    }

    /// The payment of `order`, at `now()`, through the gateway.
    pub fn paid(order: &Order) -> PaymentRecord {
        PaymentRecord { tracking_number: Some("201".to_owned()), paid_at: now(), amount: order.priced.total }
    }

    /// The seed catalog.
    pub fn products() -> Vec<Product> {
        serde_json::from_str(SEED).unwrap()
    }

    /// A paid order of two of the seed catalog's first product.
    pub fn order(account: AccountId, buyer: Buyer) -> Order {
        let product = products().remove(0);
        let priced = price_order(&[(product, 2)], &VatSchedule::from_json(RATES).unwrap(), now()).unwrap();
        Order {
            id: OrderId::for_checkout(account, &uuid::Uuid::new_v4().to_string()),
            request_hash: "a-request-hash".to_owned(),
            account,
            buyer,
            priced,
            status: OrderStatus::Paid,
            placed_at: now(),
            payment_due: now() + DEFAULT_PAYMENT_WINDOW,
            payment: Some(OrderPayment { payment_id: PaymentId::new(), paid_at: now(), ref_id: Some("201".into()) }),
            shipment: None,
            history: Vec::new(),
        }
    }
}
