//! Invoicing: official invoices, their gapless serials and tax ids (P8).

pub mod invoice;
pub mod tax_id;
