//! What the invoicing context needs from the world: the invoices table and the orders invoices
//! are issued from, and the tax system they are reported to. Implemented in `mizan-aws`; `invoicing::testing` keeps them in memory.

use time::OffsetDateTime;

use crate::invoicing::invoice::{Invoice, InvoiceKind, VatCertificate};
use crate::invoicing::tax_invoice::TaxInvoice;
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId};
use crate::kernel::paging::{ListError, Page, PageRequest};
use crate::ordering::order::Order;

/// What issuing an invoice came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Issuance {
    /// Issued now, with this serial.
    Issued(u64),
    /// The order had its invoice already: nothing was numbered.
    AlreadyIssued,
}

pub trait InvoiceBook {
    /// Issues the order's invoice of `kind`, once, under the next serial without gaps: `make`
    /// builds the invoice for the serial offered (its tax id depends on it), and a serial is used
    /// only if its invoice is written, together with the counter and the events that announce
    /// it, and the order had none of that kind.
    async fn issue<E>(
        &self,
        order: OrderId,
        kind: InvoiceKind,
        make: impl Fn(u64) -> Result<Invoice, E>,
        announced: &[Envelope],
    ) -> Result<Result<Issuance, E>, StoreError>;

    async fn get(&self, order: OrderId, kind: InvoiceKind) -> Result<Option<Invoice>, StoreError>;

    /// The order's invoice of `kind` if it is `owner`'s: another's is as absent as one never
    /// issued, and is not opened to find that out (P4, P13).
    async fn owned(&self, order: OrderId, kind: InvoiceKind, owner: AccountId) -> Result<Option<Invoice>, StoreError>;

    /// The sale's invoice as it stands — its corrective invoice once there is one — for the
    /// store's own work (`owner` absent), or only if it is `owner`'s.
    async fn standing_sale(&self, order: OrderId, owner: Option<AccountId>) -> Result<Option<Invoice>, StoreError> {
        for kind in [InvoiceKind::Correction, InvoiceKind::Sale] {
            let found = match owner {
                Some(owner) => self.owned(order, kind, owner).await?,
                None => self.get(order, kind).await?,
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Stores the certificate unless the order has one; either way returns the one that stands.
    async fn certify(&self, certificate: &VatCertificate) -> Result<VatCertificate, StoreError>;
}

/// The orders invoices are issued from: an order alone, never its recipient (P15).
pub trait PlacedOrders {
    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError>;

    /// The order if it is `owner`'s: another's is not opened to find that out (P4, P13).
    async fn owned(&self, id: OrderId, owner: AccountId) -> Result<Option<Order>, StoreError>;
}

/// The system's number for one submission, by which it is inquired about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaxReference(pub String);

/// One invoice on its way to the tax system: `trace` is ours (`requestTraceId`), the same on
/// every attempt, so that a submission whose answer was lost can be found by it.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub trace: uuid::Uuid,
    pub invoice: TaxInvoice,
}

/// An error the tax system names: its code and its words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaxError {
    pub code: String,
    pub message: String,
}

/// The tax system's word on a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected(Vec<TaxError>),
    /// Not decided yet (`IN_PROGRESS`, `PENDING`), or it took too long (`TIMEOUT`): ask again.
    Pending,
    /// The system knows no such submission.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxSystemError {
    /// No answer, or not the system's: nothing is known; try again later.
    #[error("the tax system is unavailable ({0})")]
    Unavailable(String),
    /// The system refused the request itself (a token, a key, a malformed body): a bug or a
    /// misconfiguration, never a verdict on an invoice.
    #[error("the tax system refused the request ({0})")]
    Refused(String),
}

/// The tax system (سامانه مودیان).
pub trait TaxSystem {
    /// Sends the packets, signed and encrypted; each one's reference, by trace, in order.
    async fn send(&self, packets: &[Packet]) -> Result<Vec<(uuid::Uuid, TaxReference)>, TaxSystemError>;

    async fn inquire(&self, references: &[TaxReference]) -> Result<Vec<(TaxReference, Verdict)>, TaxSystemError>;

    /// The submissions made under these traces, if any arrived.
    async fn find(&self, traces: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, TaxReference)>, TaxSystemError>;
}

/// Where an invoice stands with the tax system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxState {
    /// Issued and not sent yet, or sent without an answer that arrived.
    Queued,
    Sent(TaxReference),
    Accepted(TaxReference),
    /// Rejected by the system (its errors), or never sent because its sums do not add up (a
    /// bug: no reference).
    Failed {
        reference: Option<TaxReference>,
        errors: Vec<TaxError>,
    },
}

impl TaxState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent(_) => "sent",
            Self::Accepted(_) => "accepted",
            Self::Failed { .. } => "failed",
        }
    }

    /// The system's reference, once it gave one.
    pub fn reference(&self) -> Option<&TaxReference> {
        match self {
            Self::Queued => None,
            Self::Sent(reference) | Self::Accepted(reference) => Some(reference),
            Self::Failed { reference, .. } => reference.as_ref(),
        }
    }
}

/// An invoice's place in the queue to the tax system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxEntry {
    pub order: OrderId,
    pub kind: InvoiceKind,
    pub state: TaxState,
    /// Attempts so far; each failed one pushes the next further off.
    pub attempts: u32,
    pub due_at: OffsetDateTime,
}

/// Who corrected a rejected invoice, when, and what the system had said of it: kept with the
/// invoice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Correction {
    pub by: AccountId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub errors: Vec<TaxError>,
}

/// An invoice the tax system did not take, for the staff who correct it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedInvoice {
    pub order: OrderId,
    pub kind: InvoiceKind,
    pub serial: u64,
    pub tax_id: String,
    pub reference: Option<TaxReference>,
    pub errors: Vec<TaxError>,
}

/// The invoices' tax states: issuing queues each invoice in its own transaction; reporting moves
/// it on.
pub trait TaxLedger {
    /// Queued or sent invoices due by `now`, oldest first, at most `limit`.
    async fn due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<TaxEntry>, StoreError>;

    async fn entry(&self, order: OrderId, kind: InvoiceKind) -> Result<Option<TaxEntry>, StoreError>;

    /// The invoices the tax system rejected (or that did not add up), by serial, a page at a
    /// time.
    async fn failed(&self, page: PageRequest<'_>) -> Result<Page<FailedInvoice>, ListError>;

    /// Replaces a rejected invoice with `corrected` and puts it back in the queue, due at once,
    /// recording `correction`, on condition that it is still as read; `false` otherwise.
    async fn resubmit(
        &self,
        entry: &TaxEntry,
        corrected: &Invoice,
        correction: &Correction,
    ) -> Result<bool, StoreError>;

    /// Moves `entry` to `state`, next due at `due_at` (none once accepted or failed), on
    /// condition that it is still as read; `false` when another run moved it first.
    async fn advance(
        &self,
        entry: &TaxEntry,
        state: &TaxState,
        attempts: u32,
        due_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError>;
}
