//! What the ordering context needs from storage. The tables implement these traits in
//! `mizan-aws`; `ordering::testing` keeps them in memory.

use std::time::Duration;

use time::OffsetDateTime;

use crate::kernel::failures::StoreError;
use crate::ordering::idempotency::{IdempotencyRecord, StoredResponse};

/// What trying to take an idempotency key came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// This request holds the key and must run the work.
    Acquired,
    /// The key is held or done: the record that refused the lock, as it was then.
    Existing(IdempotencyRecord),
}

/// The records of idempotent requests, one per caller-scoped key.
pub trait IdempotencyStore {
    /// Takes the key in one atomic step: it is free, its record expired, or its holder is
    /// presumed crashed (past `in_progress_until`).
    async fn lock(
        &self,
        id: &str,
        payload_hash: &str,
        now: OffsetDateTime,
        in_progress_for: Duration,
    ) -> Result<Lock, StoreError>;

    /// Keeps the response for replay, provided this request still holds the key; `false` when
    /// its lock lapsed and another took the key.
    async fn complete(
        &self,
        id: &str,
        payload_hash: &str,
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Frees the key after a failure, so that a retry runs the work again.
    async fn release(&self, id: &str) -> Result<(), StoreError>;

    async fn get(&self, id: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Waits before the record is looked at again; `false` when this store cannot wait.
    async fn pause(&self, duration: Duration) -> bool;
}
