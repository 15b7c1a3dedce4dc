//! The Lambda edge: HTTP decoding and answers, configuration, logging.

pub mod config;
pub mod http;
pub mod telemetry;
