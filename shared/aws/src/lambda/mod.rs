//! The Lambda edge: HTTP decoding and answers, the dispatcher of functions with several
//! triggers, the outbox stream's records, configuration, logging.

pub mod config;
pub mod http;
pub mod outbox_stream;
pub mod secrets;
pub mod telemetry;
pub mod triggers;
