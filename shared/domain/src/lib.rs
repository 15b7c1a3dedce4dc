//! Mizan Coffee's domain: every rule and use case the functions share, grouped by business
//! context, with no AWS dependency. What a use case needs from the world (tables, the events
//! topic, providers, the clock's reading) is a port trait of its context, implemented in
//! `mizan-aws` and faked in memory for unit tests.
//!
//! Types carry validity: a value of `NationalCode`, `Email`, `IranMobile`, … exists only if a
//! parser accepted it, so nothing past the edge re-validates. Personal data types redact
//! themselves in `Debug`, so a log line cannot leak them by accident.

// Ports are traits with native `async fn`. Their futures carry no `Send` bound: each function
// calls its use cases with concrete adapters, whose futures the compiler sees through, and the
// in-memory fakes run on one thread.
#![allow(async_fn_in_trait)]

pub mod kernel;

pub mod accounts;
pub mod invoicing;
pub mod messaging;
pub mod ordering;
pub mod payments;
pub mod privacy;
pub mod reviewing;
