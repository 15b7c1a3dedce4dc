//! Payments: customers pay their orders through a payment gateway (Zarinpal today, behind the
//! `PaymentGateway` port), each payment is verified with the gateway before anything counts as
//! paid, and orders nobody pays expire and give their stock back.

pub mod paying;
pub mod payment;
pub mod ports;
pub mod refunding;
pub mod sweep;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
