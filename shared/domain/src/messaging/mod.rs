//! Messaging: what each event sends and to whom, and campaigns (P4, P6, P7).

pub mod campaign;
pub mod notifications;
