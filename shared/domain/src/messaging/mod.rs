//! Messaging: what each event sends and to whom, campaigns, and sending each message exactly
//! once (P4, P6, P7, P9).

pub mod campaign;
pub mod delivery;
pub mod notifications;
pub mod ports;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
