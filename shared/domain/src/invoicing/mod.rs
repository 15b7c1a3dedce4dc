//! Invoicing: official invoices, their gapless serials and tax ids, VAT certificates (P8), and
//! the invoices as the tax system (سامانه مودیان) reads them.

pub mod access;
pub mod invoice;
pub mod issuance;
pub mod ports;
pub mod tax_corrections;
pub mod tax_id;
pub mod tax_invoice;
pub mod tax_reporting;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
