//! DynamoDB adapters, one module per table, each mapping DynamoDB's answers to domain outcomes.

pub mod accounts;
pub mod audit;
mod buyer_identity;
pub mod deliveries;
pub mod dispatch;
pub mod idempotency;
pub mod invoices;
pub mod ip_records;
pub mod order_progress;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod products;
pub mod reviews;
pub mod shop;
mod tax_queue;
pub mod till;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::builders::KeysAndAttributesBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use mizan::kernel::failures::StoreError;
use time::OffsetDateTime;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Classifies an SDK error by its code alone: messages may quote item values.
pub(crate) fn store_error<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> StoreError {
    let code = match error {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("unknown").to_owned(),
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch-failure".to_owned(),
        SdkError::ResponseError(_) => "response-error".to_owned(),
        _ => "construction-failure".to_owned(),
    };
    match code.as_str() {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "timeout"
        | "dispatch-failure"
        | "response-error" => StoreError::Unavailable(code),
        _ => StoreError::Failed(code),
    }
}

/// Whether a call failed only because its condition did not hold.
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// `Ok(true)` when a conditional write went through, `Ok(false)` when its condition failed.
pub(crate) fn conditional<E: ProvideErrorMetadata, R>(result: Result<(), SdkError<E, R>>) -> Result<bool, StoreError> {
    match result {
        Ok(()) => Ok(true),
        Err(error) if is_condition_failure(&error) => Ok(false),
        Err(error) => Err(crate::dynamodb::store_error(&error)),
    }
}

/// What a TransactWriteItems came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Transaction {
    Committed,
    /// A condition failed: each item's reason code, in item order (`None` for the items that were
    /// fine), so the caller reads which condition by position.
    Cancelled(Vec<String>),
}

/// An update as one item of a transaction.
pub(crate) fn update(update: aws_sdk_dynamodb::types::Update) -> aws_sdk_dynamodb::types::TransactWriteItem {
    aws_sdk_dynamodb::types::TransactWriteItem::builder().update(update).build()
}

/// Whether the item at `index` of a cancelled transaction failed its condition.
pub(crate) fn failed_at(reasons: &[String], index: usize) -> bool {
    reasons.get(index).map(String::as_str) == Some("ConditionalCheckFailed")
}

/// Concurrent transactions on the same items conflict in DynamoDB; one is retried this often.
const CONFLICT_RETRIES: u32 = 8;

/// Writes `items` in one transaction. A transaction that only conflicted with another is tried
/// again after a jittered pause; one whose condition failed is `Cancelled` with its reasons.
pub(crate) async fn transact(
    client: &aws_sdk_dynamodb::Client,
    items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
) -> Result<Transaction, StoreError> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    let mut attempt = 0;
    loop {
        let written = client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
        let error = match written {
            Ok(_) => return Ok(Transaction::Committed),
            Err(error) => error,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
            return Err(store_error(&error));
        };
        let reasons: Vec<String> =
            cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect();
        if reasons.iter().any(|code| code == "ConditionalCheckFailed") {
            return Ok(Transaction::Cancelled(reasons));
        }
        if reasons.iter().any(|code| code == "TransactionConflict") && attempt < CONFLICT_RETRIES {
            attempt += 1;
            // Jittered backoff, so the conflicting writers do not collide again in step.
            let jitter = u64::from(rand::random::<u8>() % 20);
            tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
            continue;
        }
        // Contention and throttling pass; anything else is a bug worth its own name in the log.
        let codes: Vec<&str> = reasons.iter().map(String::as_str).filter(|code| *code != "None").collect();
        return Err(match codes.iter().all(|code| matches!(*code, "TransactionConflict" | "ThrottlingError")) {
            true => StoreError::Unavailable(codes.join(",")),
            false => StoreError::Failed(codes.join(",")),
        });
    }
}

/// A Query's or Scan's answer, as one page of items and where the next one starts.
pub(crate) trait Paged {
    fn into_page(self) -> (Vec<Item>, Option<Item>);
}

impl Paged for aws_sdk_dynamodb::operation::query::QueryOutput {
    fn into_page(self) -> (Vec<Item>, Option<Item>) {
        (self.items.unwrap_or_default(), self.last_evaluated_key)
    }
}

impl Paged for aws_sdk_dynamodb::operation::scan::ScanOutput {
    fn into_page(self) -> (Vec<Item>, Option<Item>) {
        (self.items.unwrap_or_default(), self.last_evaluated_key)
    }
}

/// Every item of a Query or Scan, read page after page: `request` sends the request that starts
/// at the given key. For reads whose whole answer is needed and bounded (one customer's orders,
/// the catalog); listings for people page with a cursor instead.
pub(crate) async fn every_page<F, Fut, O, E, R>(mut request: F) -> Result<Vec<Item>, StoreError>
where
    F: FnMut(Option<Item>) -> Fut,
    Fut: std::future::Future<Output = Result<O, SdkError<E, R>>>,
    O: Paged,
    E: ProvideErrorMetadata,
{
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let (page, next) = request(start).await.map_err(|e| crate::dynamodb::store_error(&e))?.into_page();
        items.extend(page);
        match next {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}

/// BatchGetItem's limit of keys per request.
pub(crate) const BATCH_LIMIT: usize = 100;
/// Retries of keys DynamoDB left unprocessed (throttling, response size). Bounded so that a
/// throttled table turns into a 503 the client can retry, not a Lambda timeout.
const UNPROCESSED_RETRIES: u32 = 5;
const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// The items of at most `BATCH_LIMIT` keys of one table, in no particular order, by one
/// BatchGetItem — asking again for the keys DynamoDB left unprocessed, with exponential backoff,
/// as its documentation requires. `shape` adds a projection to the request.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Item>,
    shape: impl Fn(KeysAndAttributesBuilder) -> KeysAndAttributesBuilder,
) -> Result<Vec<Item>, StoreError> {
    use aws_sdk_dynamodb::config::AsyncSleep;
    let mut items = Vec::with_capacity(keys.len());
    let mut pending = keys;
    let mut backoff = FIRST_BACKOFF;
    for attempt in 0..=UNPROCESSED_RETRIES {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            if let Some(sleep) = client.config().sleep_impl() {
                sleep.sleep(backoff).await;
            }
            backoff = backoff.saturating_mul(2);
        }
        let request = shape(KeysAndAttributes::builder().set_keys(Some(pending)).consistent_read(true))
            .build()
            .map_err(|_| StoreError::Failed("build-keys-and-attributes".into()))?;
        let answer = client.batch_get_item().request_items(table, request).send().await.map_err(|e| store_error(&e))?;
        items.extend(answer.responses().and_then(|tables| tables.get(table)).into_iter().flatten().cloned());
        pending = answer
            .unprocessed_keys()
            .and_then(|tables| tables.get(table))
            .map(|unprocessed| unprocessed.keys().to_vec())
            .unwrap_or_default();
    }
    match pending.is_empty() {
        true => Ok(items),
        false => Err(StoreError::Unavailable("unprocessed-keys".into())),
    }
}

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub(crate) fn time(at: OffsetDateTime) -> AttributeValue {
    n(at.unix_timestamp())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, StoreError> {
    item.get(name).and_then(|value| value.as_s().ok()).map(String::as_str).ok_or(StoreError::Corrupt(name))
}

/// A string attribute read back into the domain type it was written from.
pub(crate) fn get_parsed<T, E>(
    item: &Item,
    name: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    parse(get_s(item, name)?).map_err(|_| StoreError::Corrupt(name))
}

/// An attribute that may be absent, read back like `get_parsed` when present.
pub(crate) fn optional_parsed<T, E>(
    item: &Item,
    name: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    if item.contains_key(name) { get_parsed(item, name, parse).map(Some) } else { Ok(None) }
}

pub(crate) fn get_n<T: std::str::FromStr>(item: &Item, name: &'static str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|text| text.parse().ok())
        .ok_or(StoreError::Corrupt(name))
}

pub(crate) fn get_bool(item: &Item, name: &'static str) -> Result<bool, StoreError> {
    item.get(name).and_then(|value| value.as_bool().ok()).copied().ok_or(StoreError::Corrupt(name))
}

pub(crate) fn get_time(item: &Item, name: &'static str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(get_n(item, name)?).map_err(|_| StoreError::Corrupt(name))
}
