//! Privacy: legal requests and their audit trail, and how long each kind of data is kept (P3,
//! P14, P15).

pub mod account_record;
pub mod audit;
pub mod legal_export;
pub mod ports;
pub mod retention;
pub mod subject;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
