//! What the invoicing context needs from storage: the invoices table and the orders invoices
//! are issued from. Implemented in `mizan-aws`; `invoicing::testing` keeps them in memory.

use crate::invoicing::invoice::{Invoice, InvoiceKind, VatCertificate};
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::OrderId;
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

    /// Stores the certificate unless the order has one; either way returns the one that stands.
    async fn certify(&self, certificate: &VatCertificate) -> Result<VatCertificate, StoreError>;
}

/// The orders invoices are issued from: an order alone, never its recipient (P15).
pub trait PlacedOrders {
    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError>;
}
