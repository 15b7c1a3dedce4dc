//! The Lambda edge: HTTP decoding and answers, the dispatcher of functions with several
//! triggers, configuration, logging.

pub mod config;
pub mod http;
pub mod telemetry;
pub mod triggers;
