//! Ordering: the catalog, the buyer's identity, pricing with VAT, orders and placing them (P8, P15).

pub mod buyer_lookup;
pub mod catalog;
pub mod identity;
pub mod order;
pub mod pricing;
