//! Ordering: the catalog, the buyer's identity, pricing with VAT, orders and placing them (P8, P15).

pub mod buyer_lookup;
pub mod catalog;
pub mod checkout;
pub mod customer_orders;
pub mod fulfilment;
pub mod idempotency;
pub mod idempotent;
pub mod identity;
pub mod lifecycle;
pub mod order;
pub mod ports;
pub mod pricing;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
