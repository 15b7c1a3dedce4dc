//! Accounts: who a customer is, how they prove their contacts, log in, consent to marketing and
//! close their account (P2, P5, P6, P7, P9, P12).

pub mod abuse_limits;
pub mod account;
pub mod closure;
pub mod consent;
pub mod contact;
pub mod contact_change;
pub mod contact_lookup;
pub mod login;
pub mod logout;
pub mod password;
pub mod password_change;
pub mod password_reset;
pub mod person;
pub mod ports;
pub mod preferences;
pub mod registration;
pub mod session;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verification;
