//! The idempotency table against DynamoDB Local: the lock's condition and its `ALL_OLD` answer,
//! completion, release, expiry, and `run_once` under concurrency. Run with
//! `infra/test -p mizan-e2e --test idempotency_store`.

use mizan::ordering::ports::IdempotencyStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use mizan::ordering::idempotency::{IdempotencyRecord, Judgement, StoredResponse, judge, payload_hash_json};
use mizan::ordering::idempotent::{Outcome, WaitPolicy, run_once};
use mizan::ordering::ports::Lock;
use mizan_aws::dynamodb::idempotency::IdempotencyTable;

const IN_PROGRESS_FOR: Duration = Duration::from_secs(30);

/// The fingerprint of a JSON text, as the edge computes it after parsing the body.
fn hash_of(body: &[u8]) -> String {
    payload_hash_json(&serde_json::from_slice(body).expect("JSON"))
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need the local stack's DynamoDB; run them with `infra/test`")
    })
}

struct Fixture {
    table: IdempotencyTable,
    client: aws_sdk_dynamodb::Client,
    name: String,
}

async fn fixture() -> Fixture {
    // Never against a real account: the endpoint must be the local one infra/test exports.
    env("AWS_ENDPOINT_URL_DYNAMODB");
    let name = env("IDEMPOTENCY_TABLE");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    Fixture { table: IdempotencyTable::new(client.clone(), name.clone()), client, name }
}

/// A time as the domain takes it, without naming the `time` crate this test crate lacks.
fn at<T: From<SystemTime>>(time: SystemTime) -> T {
    time.into()
}

fn now<T: From<SystemTime>>() -> T {
    at(SystemTime::now())
}

fn unique_id() -> String {
    // The shape checkout gives its records (scope, account, key), so the retention walk knows them.
    format!("checkout#{}#{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4())
}

fn order_placed() -> StoredResponse {
    StoredResponse { status: 201, body: r#"{"order_id":"0b7c","total_rials":1250000}"#.to_owned() }
}

#[tokio::test]
async fn the_first_lock_acquires_and_a_second_gets_the_running_record_through_all_old() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"items":[{"product_id":"espresso","quantity":1}]}"#);

    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    match f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap() {
        Lock::Existing(record @ IdempotencyRecord::InProgress { .. }) => {
            let IdempotencyRecord::InProgress { payload_hash: stored, .. } = &record else { unreachable!() };
            assert_eq!(stored, &hash);
            assert_eq!(judge(&record, &hash, now()), Judgement::StillRunning);
        }
        other => panic!("expected the running record, got {other:?}"),
    }
}

#[tokio::test]
async fn a_completed_request_is_replayed_for_the_same_body() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);

    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    assert!(f.table.complete(&id, &hash, &order_placed(), now()).await.unwrap());

    let Lock::Existing(record) = f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap() else {
        panic!("a completed key was locked again");
    };
    assert_eq!(judge(&record, &hash, now()), Judgement::Replay(order_placed()));
    assert_eq!(f.table.get(&id).await.unwrap(), Some(record));
}

#[tokio::test]
async fn a_completed_key_reused_with_another_body_is_a_mismatch_through_all_old() {
    let f = fixture().await;
    let id = unique_id();
    let first = hash_of(br#"{"a":1}"#);
    let second = hash_of(br#"{"a":2}"#);

    assert_eq!(f.table.lock(&id, &first, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    assert!(f.table.complete(&id, &first, &order_placed(), now()).await.unwrap());

    // The refused put's ALL_OLD record carries the first body's hash: the check happens on it.
    let Lock::Existing(record) = f.table.lock(&id, &second, now(), IN_PROGRESS_FOR).await.unwrap() else {
        panic!("a completed key was locked again with another body");
    };
    assert!(matches!(&record, IdempotencyRecord::Completed { payload_hash, .. } if *payload_hash == first));
    assert_eq!(judge(&record, &second, now()), Judgement::Mismatch);

    let ran = AtomicUsize::new(0);
    let outcome = run_once(&f.table, &id, &second, now(), IN_PROGRESS_FOR, WaitPolicy::default(), || async {
        ran.fetch_add(1, Ordering::SeqCst);
        Ok::<_, String>(order_placed())
    })
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::Mismatch);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn completing_needs_the_lock_with_the_same_body() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);

    assert!(!f.table.complete(&id, &hash, &order_placed(), now()).await.unwrap(), "no record at all");
    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    assert!(!f.table.complete(&id, &hash_of(b"{}"), &order_placed(), now()).await.unwrap());
    assert!(f.table.complete(&id, &hash, &order_placed(), now()).await.unwrap());
    assert!(!f.table.complete(&id, &hash, &order_placed(), now()).await.unwrap(), "completed twice");
}

#[tokio::test]
async fn release_lets_the_next_request_acquire() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);

    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    f.table.release(&id).await.unwrap();
    assert_eq!(f.table.get(&id).await.unwrap(), None);
    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
}

#[tokio::test]
async fn release_leaves_a_completed_record() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);

    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    assert!(f.table.complete(&id, &hash, &order_placed(), now()).await.unwrap());
    f.table.release(&id).await.unwrap();
    assert!(matches!(f.table.get(&id).await.unwrap(), Some(IdempotencyRecord::Completed { .. })));
}

#[tokio::test]
async fn an_expired_completed_record_that_ttl_has_not_deleted_yet_is_replaced() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let seconds = an_hour_ago.duration_since(UNIX_EPOCH).unwrap().as_secs();
    f.client
        .put_item()
        .table_name(&f.name)
        .item("id", AttributeValue::S(id.clone()))
        .item("status", AttributeValue::S("COMPLETED".into()))
        .item("payload_hash", AttributeValue::S(hash.clone()))
        .item("in_progress_expiration", AttributeValue::N((seconds * 1000).to_string()))
        .item("expiration", AttributeValue::N(seconds.to_string()))
        .item("response_status", AttributeValue::N("201".into()))
        .item("response_body", AttributeValue::S("{}".into()))
        .send()
        .await
        .unwrap();

    let stale = f.table.get(&id).await.unwrap().expect("the record just written");
    assert_eq!(judge(&stale, &hash, now()), Judgement::Expired);
    assert_eq!(f.table.lock(&id, &hash_of(b"{}"), now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    assert!(matches!(f.table.get(&id).await.unwrap(), Some(IdempotencyRecord::InProgress { .. })));
}

#[tokio::test]
async fn a_crashed_run_is_taken_over_once_its_in_progress_expiry_passes() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);

    let a_minute_ago = SystemTime::now() - Duration::from_secs(60);
    assert_eq!(f.table.lock(&id, &hash, at(a_minute_ago), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    assert!(matches!(
        f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(),
        Lock::Existing(IdempotencyRecord::InProgress { .. })
    ));
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_run_the_work_once() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"items":[{"product_id":"espresso","quantity":2}]}"#);
    let runs = Arc::new(AtomicUsize::new(0));

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (table, id, hash, runs) = (f.table.clone(), id.clone(), hash.clone(), runs.clone());
        requests.spawn(async move {
            run_once(&table, &id, &hash, now(), IN_PROGRESS_FOR, WaitPolicy::default(), || async {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, String>(order_placed())
            })
            .await
            .unwrap()
        });
    }
    let outcomes = requests.join_all().await;

    assert_eq!(runs.load(Ordering::SeqCst), 1, "the work ran more than once");
    let fresh = outcomes.iter().filter(|o| matches!(o, Outcome::Fresh(_))).count();
    let replayed = outcomes.iter().filter(|o| matches!(o, Outcome::Replayed(_))).count();
    assert_eq!(fresh, 1, "{outcomes:?}");
    assert!(replayed >= 1, "no duplicate waited for the first: {outcomes:?}");
    for outcome in &outcomes {
        match outcome {
            Outcome::Fresh(response) | Outcome::Replayed(response) => assert_eq!(response, &order_placed()),
            Outcome::InProgress { retry_after_seconds } => assert!(*retry_after_seconds >= 1),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_duplicate_past_the_wait_is_told_to_retry_later() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);

    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);
    let wait = WaitPolicy { max: Duration::from_millis(300), poll_every: Duration::from_millis(100) };
    let outcome =
        run_once(&f.table, &id, &hash, now(), IN_PROGRESS_FOR, wait, || async { Ok::<_, String>(order_placed()) })
            .await
            .unwrap();
    assert!(matches!(outcome, Outcome::InProgress { retry_after_seconds } if (1..=30).contains(&retry_after_seconds)));
}

#[tokio::test]
async fn a_failing_work_leaves_no_record_and_a_retry_runs_again() {
    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);

    let failed = run_once(&f.table, &id, &hash, now(), IN_PROGRESS_FOR, WaitPolicy::default(), || async {
        Err::<StoredResponse, _>("out of stock")
    })
    .await
    .unwrap();
    assert_eq!(failed, Outcome::Failed("out of stock"));
    assert_eq!(f.table.get(&id).await.unwrap(), None);

    let retried = run_once(&f.table, &id, &hash, now(), IN_PROGRESS_FOR, WaitPolicy::default(), || async {
        Ok::<_, &str>(order_placed())
    })
    .await
    .unwrap();
    assert_eq!(retried, Outcome::Fresh(order_placed()));
    let replayed = run_once(&f.table, &id, &hash, now(), IN_PROGRESS_FOR, WaitPolicy::default(), || async {
        Err::<StoredResponse, _>("must not run")
    })
    .await
    .unwrap();
    assert_eq!(replayed, Outcome::Replayed(order_placed()));
}

/// The adapter falls back to a read when a refused put carries no item; this proves the store
/// under test does answer `ALL_OLD`, so the tests above exercise the no-second-read path.
#[tokio::test]
async fn the_store_returns_the_existing_item_of_a_refused_put() {
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

    let f = fixture().await;
    let id = unique_id();
    let hash = hash_of(br#"{"a":1}"#);
    assert_eq!(f.table.lock(&id, &hash, now(), IN_PROGRESS_FOR).await.unwrap(), Lock::Acquired);

    let refused = f
        .client
        .put_item()
        .table_name(&f.name)
        .item("id", AttributeValue::S(id.clone()))
        .condition_expression("attribute_not_exists(id)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .expect_err("the key is taken");
    let Some(PutItemError::ConditionalCheckFailedException(failure)) = refused.as_service_error() else {
        panic!("expected a conditional check failure, got {refused:?}");
    };
    let item = failure.item().expect("the existing item (ALL_OLD)");
    assert_eq!(item.get("payload_hash"), Some(&AttributeValue::S(hash)));
    assert_eq!(item.get("status"), Some(&AttributeValue::S("INPROGRESS".into())));
}
