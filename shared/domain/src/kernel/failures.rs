//! What a port answers when the world, not the request, failed: a table throttled or
//! unreachable, a message the provider did not take.

use crate::kernel::problem::Problem;

/// A storage call that failed for reasons of the store, not of the request.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled or unreachable: the caller may answer 503 and the client retry.
    #[error("the table is unavailable ({0})")]
    Unavailable(String),
    /// Anything else: a bug or a misconfiguration.
    #[error("the table call failed ({0})")]
    Failed(String),
    /// An item that this code wrote cannot be read back: a bug or a manual edit.
    #[error("an item is not in the expected shape: {0}")]
    Corrupt(&'static str),
}

/// At the edge a storage failure is the store's fault, never the request's: 503 when retrying
/// may help, 500 otherwise; the details go to the log only.
impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "a table call failed");
        match error {
            StoreError::Unavailable(_) => Self::unavailable(),
            StoreError::Failed(_) | StoreError::Corrupt(_) => Self::internal(),
        }
    }
}

/// A message that could not be handed to its provider (the events topic, email, SMS, a queue).
/// Only the provider's error code is kept: its message may quote the recipient.
#[derive(Debug, thiserror::Error)]
#[error("the message was not accepted ({0})")]
pub struct SendError(pub String);
