//! Invoicing: official invoices, their gapless serials and tax ids, VAT certificates (P8).

pub mod access;
pub mod invoice;
pub mod issuance;
pub mod ports;
pub mod tax_id;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
