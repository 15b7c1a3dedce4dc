//! Mizan Coffee's domain crate: every rule the functions share, as plain types and functions, and
//! the small adapters that keep them in DynamoDB or send them through SES and SNS.
//!
//! Types carry validity: a value of `NationalCode`, `Email`, `IranMobile`, … exists only if a
//! parser accepted it, so nothing past the edge re-validates. Personal data types redact
//! themselves in `Debug`, so a log line cannot leak them by accident.

pub mod contact;
pub mod http;
pub mod identity;
pub mod money;
pub mod password;
pub mod person;
pub mod problem;
pub mod telemetry;
pub mod text;
