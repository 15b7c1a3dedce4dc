//! Logging: JSON lines for CloudWatch, the level from `RUST_LOG` (default `info`).
//!
//! Personal data never reaches a log: the types that hold it redact themselves in `Debug`, and
//! log lines name accounts by their opaque id only.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .init();
}
