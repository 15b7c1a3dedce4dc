//! The idempotency table in memory, with its conditions: a key is taken once until its record
//! expires or its holder is presumed crashed, and only the holder completes it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

use crate::kernel::failures::StoreError;
use crate::ordering::idempotency::{COMPLETED_RECORD_TTL, IdempotencyRecord, Judgement, StoredResponse, judge, later};
use crate::ordering::ports::{IdempotencyStore, Lock};

#[derive(Default)]
pub struct InMemoryIdempotency {
    records: Mutex<HashMap<String, IdempotencyRecord>>,
}

impl IdempotencyStore for InMemoryIdempotency {
    async fn lock(
        &self,
        id: &str,
        payload_hash: &str,
        now: OffsetDateTime,
        in_progress_for: Duration,
    ) -> Result<Lock, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = records.get(id)
            && judge(existing, payload_hash, now) != Judgement::Expired
        {
            return Ok(Lock::Existing(existing.clone()));
        }
        let in_progress_until = later(now, in_progress_for);
        records.insert(
            id.to_owned(),
            IdempotencyRecord::InProgress { payload_hash: payload_hash.to_owned(), in_progress_until },
        );
        Ok(Lock::Acquired)
    }

    async fn complete(
        &self,
        id: &str,
        payload_hash: &str,
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        match records.get(id) {
            Some(IdempotencyRecord::InProgress { payload_hash: held, .. }) if held == payload_hash => {
                let completed = IdempotencyRecord::Completed {
                    payload_hash: payload_hash.to_owned(),
                    response: response.clone(),
                    expires_at: later(now, COMPLETED_RECORD_TTL),
                };
                records.insert(id.to_owned(), completed);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.records.lock().unwrap_or_else(PoisonError::into_inner).get(id).cloned())
    }

    async fn pause(&self, duration: Duration) -> bool {
        tokio::time::sleep(duration).await;
        true
    }
}
