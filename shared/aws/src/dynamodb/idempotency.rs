//! The idempotency table: one record per (caller-scoped) idempotency key, in the shape of AWS
//! Lambda Powertools' DynamoDB persistence layer.
//!
//! Item (partition key `id`):
//! - `status`: `INPROGRESS` while a request holds the key, `COMPLETED` once its response is kept;
//! - `payload_hash`: the fingerprint of the request body that took the key;
//! - `in_progress_expiration` (ms): when a holder that has not completed is presumed crashed;
//! - `expiration` (s, the table's TTL attribute): when the record stops counting at all;
//! - `response_status`, `response_body`: the response to replay, once completed.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{AsyncSleep, SharedAsyncSleep};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use time::OffsetDateTime;

use super::{Item, get_n, get_s, is_condition_failure, n, s, time};
use mizan::kernel::failures::StoreError;
use mizan::ordering::idempotency::{COMPLETED_RECORD_TTL, IdempotencyRecord, StoredResponse, later, unix_ms};
use mizan::ordering::ports::IdempotencyStore;
use mizan::ordering::ports::Lock;

const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

/// The lock's condition, as Powertools has it: the key is free, or its record has expired, or
/// the request holding it is presumed crashed. Names are aliased because `status` is a reserved
/// word.
const LOCK_CONDITION: &str = "attribute_not_exists(#id) OR #expiration < :now \
                              OR (#status = :inprogress AND #in_progress_expiration < :now_ms)";

#[derive(Debug, Clone)]
pub struct IdempotencyTable {
    client: Client,
    table: String,
}

impl IdempotencyTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn sleeper(&self) -> Option<SharedAsyncSleep> {
        self.client.config().sleep_impl()
    }
}

fn record(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    let payload_hash = get_s(item, "payload_hash")?.to_owned();
    match get_s(item, "status")? {
        IN_PROGRESS => {
            let ms: i128 = get_n(item, "in_progress_expiration")?;
            let in_progress_until = ms
                .checked_mul(1_000_000)
                .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
                .ok_or(StoreError::Corrupt("in_progress_expiration"))?;
            Ok(IdempotencyRecord::InProgress { payload_hash, in_progress_until })
        }
        COMPLETED => Ok(IdempotencyRecord::Completed {
            payload_hash,
            response: StoredResponse {
                status: get_n(item, "response_status")?,
                body: get_s(item, "response_body")?.to_owned(),
            },
            expires_at: super::get_time(item, "expiration")?,
        }),
        _ => Err(StoreError::Corrupt("status")),
    }
}

impl IdempotencyStore for IdempotencyTable {
    /// Takes the key with one conditional put of an `INPROGRESS` record. A refused put returns
    /// the record in the way (`ALL_OLD`), so judging it needs no second read.
    async fn lock(
        &self,
        id: &str,
        payload_hash: &str,
        now: OffsetDateTime,
        in_progress_for: Duration,
    ) -> Result<Lock, StoreError> {
        // Another pass only when the record in the way vanished before it could be read.
        for _ in 0..3 {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("id", s(id))
                .item("status", s(IN_PROGRESS))
                .item("payload_hash", s(payload_hash))
                .item("in_progress_expiration", n(unix_ms(later(now, in_progress_for))))
                .item("expiration", time(later(now, COMPLETED_RECORD_TTL)))
                .condition_expression(LOCK_CONDITION)
                .expression_attribute_names("#id", "id")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#expiration", "expiration")
                .expression_attribute_names("#in_progress_expiration", "in_progress_expiration")
                .expression_attribute_values(":now", time(now))
                .expression_attribute_values(":now_ms", n(unix_ms(now)))
                .expression_attribute_values(":inprogress", s(IN_PROGRESS))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let error = match put {
                Ok(_) => return Ok(Lock::Acquired),
                Err(error) => error,
            };
            let Some(PutItemError::ConditionalCheckFailedException(refused)) = error.as_service_error() else {
                return Err(crate::dynamodb::store_error(&error));
            };
            // A store that ignores ALL_OLD (older DynamoDB Local) costs a read; a record deleted
            // between the refusal and the read (its holder failed) means the key is free again.
            let existing = match refused.item() {
                Some(item) => Some(record(item)?),
                None => self.get(id).await?,
            };
            if let Some(existing) = existing {
                return Ok(Lock::Existing(existing));
            }
        }
        Err(StoreError::Failed("idempotency-lock-contended".into()))
    }

    /// Conditional on the record still being `INPROGRESS` with the same payload hash. A body
    /// over `MAX_STORED_RESPONSE_BYTES` may exceed DynamoDB's item limit and fail as
    /// `StoreError::Failed`; `run_once` does not store such responses.
    async fn complete(
        &self,
        id: &str,
        payload_hash: &str,
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(
                "SET #status = :completed, response_status = :response_status, response_body = :response_body, \
                 #expiration = :expiration",
            )
            .condition_expression("#status = :inprogress AND payload_hash = :payload_hash")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#expiration", "expiration")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":inprogress", s(IN_PROGRESS))
            .expression_attribute_values(":payload_hash", s(payload_hash))
            .expression_attribute_values(":response_status", n(response.status))
            .expression_attribute_values(":response_body", s(&response.body))
            .expression_attribute_values(":expiration", time(later(now, COMPLETED_RECORD_TTL)))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(crate::dynamodb::store_error(&error)),
        }
    }

    /// A completed record is left alone.
    async fn release(&self, id: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(id))
            .condition_expression("#status = :inprogress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":inprogress", s(IN_PROGRESS))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Already gone (TTL, or taken over and completed by a later request): nothing to free.
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(crate::dynamodb::store_error(&error)),
        }
    }

    /// Read consistently: a duplicate waiting on a running request must see its completion as
    /// soon as it is written.
    async fn get(&self, id: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.item.as_ref().map(record).transpose()
    }

    /// Waits on the SDK's own timer, so that waiting needs no async runtime of this crate's
    /// choosing. False when the client has none (then nothing can wait).
    async fn pause(&self, duration: Duration) -> bool {
        match self.sleeper() {
            Some(sleeper) => {
                sleeper.sleep(duration).await;
                true
            }
            None => false,
        }
    }
}
