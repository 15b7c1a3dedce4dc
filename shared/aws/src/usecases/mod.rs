//! Use cases that still call adapters directly; each moves to its context in the domain crate
//! once the context has its ports.

pub mod audit;
pub mod legal_export;
