//! Mizan Coffee's domain crate: every rule the functions share, as plain types and functions, and
//! the small adapters that keep them in DynamoDB or send them through SES and SNS.
//!
//! Types carry validity: a value of `NationalCode`, `Email`, `IranMobile`, … exists only if a
//! parser accepted it, so nothing past the edge re-validates. Personal data types redact
//! themselves in `Debug`, so a log line cannot leak them by accident.

pub mod account;
pub mod account_closure;
pub mod audit;
pub mod buyer_lookup;
pub mod campaign;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod consent;
pub mod contact;
pub mod events;
pub mod form;
pub mod http;
pub mod idempotency;
pub mod identity;
mod ids;
pub mod invoice;
pub mod legal_export;
pub mod login;
pub mod login_throttle;
pub mod messaging;
pub mod money;
pub mod notifications;
pub mod order;
pub mod password;
pub mod persian_format;
pub mod persian_words;
pub mod person;
pub mod pricing;
pub mod problem;
pub mod registration;
pub mod retention;
pub mod review;
pub mod reviewing;
pub mod sealed_fields;
pub mod session;
pub mod solar_hijri;
pub mod storage;
pub mod tax_id;
pub mod telemetry;
pub mod text;
pub mod verification;
