//! Idempotent requests (Powertools' design, see `ordering::idempotency` for the rules): a
//! request carrying an `Idempotency-Key` runs its work once; a retry with the same key and body
//! gets the first answer again, a retry with another body is refused, and a retry while the
//! first is still running waits briefly for it or is told to come back.

use std::future::Future;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::kernel::failures::StoreError;
use crate::ordering::idempotency::{
    IdempotencyRecord, Judgement, MAX_STORED_RESPONSE_BYTES, StoredResponse, judge, later,
};
use crate::ordering::ports::{IdempotencyStore, Lock};

/// The longest `Retry-After` given for a running duplicate: the first request usually ends within
/// a second or two, while its in-progress expiry is the whole function timeout.
const MAX_RETRY_AFTER_SECONDS: u64 = 5;

/// How long a duplicate waits for the request that holds its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// The longest wait; past it the duplicate is answered `InProgress`.
    pub max: Duration,
    /// How often the record is read while waiting.
    pub poll_every: Duration,
}

impl Default for WaitPolicy {
    /// Two seconds covers a typical checkout, so a double click gets the first answer rather
    /// than a 409; ten reads a second costs little and adds at most 100 ms to the answer.
    fn default() -> Self {
        Self { max: Duration::from_secs(2), poll_every: Duration::from_millis(100) }
    }
}

/// What [`run_once`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    /// This call ran the work; here is its response (stored for replay when it fit).
    Fresh(StoredResponse),
    /// An earlier request with this key and body finished; here is its response.
    Replayed(StoredResponse),
    /// The work failed; the key is free again (failures are never cached).
    Failed(E),
    /// The key was used with another body: answer `Problem::idempotency_key_reused`.
    Mismatch,
    /// The first request is still running past the wait: answer `Problem::request_in_progress`.
    InProgress { retry_after_seconds: u64 },
}

/// Runs `work` once per `id`: takes the lock, runs the work, stores its response (or, on
/// failure, releases the key). A request finding the key taken replays, refuses, or waits up to
/// `wait.max` for the running one. `in_progress_for` is how long the lock holds before it is
/// presumed crashed: the invocation's remaining time, so that a retry after a timeout can run.
///
/// `now` is the request's clock; time spent waiting is added to it.
pub async fn run_once<F, Fut, E>(
    table: &impl IdempotencyStore,
    id: &str,
    payload_hash: &str,
    now: OffsetDateTime,
    in_progress_for: Duration,
    wait: WaitPolicy,
    work: F,
) -> Result<Outcome<E>, StoreError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<StoredResponse, E>>,
{
    let started = Instant::now();
    let clock = || later(now, started.elapsed());
    // Each pass either returns or found the key vacated (the holder failed, or its record
    // lapsed); the bound only guards against a pathological flip-flop.
    for _ in 0..16 {
        let existing = match table.lock(id, payload_hash, clock(), in_progress_for).await? {
            Lock::Acquired => return run_locked(table, id, payload_hash, &clock, work).await,
            Lock::Existing(record) => record,
        };
        match wait_for(table, id, payload_hash, existing, started, &clock, wait).await? {
            Waited::Done(outcome) => return Ok(outcome),
            Waited::Vacant => continue,
        }
    }
    Ok(Outcome::InProgress { retry_after_seconds: 1 })
}

async fn run_locked<F, Fut, E>(
    table: &impl IdempotencyStore,
    id: &str,
    payload_hash: &str,
    clock: &impl Fn() -> OffsetDateTime,
    work: F,
) -> Result<Outcome<E>, StoreError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<StoredResponse, E>>,
{
    let response = match work().await {
        Ok(response) => response,
        Err(error) => {
            if let Err(release) = table.release(id).await {
                // The lock lapses at its in-progress expiry anyway; the caller must still learn
                // that the work failed, not that the store did.
                tracing::error!(error = %release, "could not release an idempotency record after a failure");
            }
            return Ok(Outcome::Failed(error));
        }
    };
    if response.body.len() > MAX_STORED_RESPONSE_BYTES {
        tracing::warn!(
            bytes = response.body.len(),
            "a response too large to store for replay: the idempotency record is released"
        );
        if let Err(release) = table.release(id).await {
            tracing::error!(error = %release, "could not release an idempotency record");
        }
        return Ok(Outcome::Fresh(response));
    }
    match table.complete(id, payload_hash, &response, clock()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("the idempotency lock lapsed before the work finished: its response is not stored")
        }
        // The work is done: answering 503 would invite a retry that runs it again once the lock
        // lapses, which is worse than a duplicate meanwhile being told to wait.
        Err(error) => tracing::error!(%error, "could not store a response for replay"),
    }
    Ok(Outcome::Fresh(response))
}

enum Waited<E> {
    Done(Outcome<E>),
    /// The record is gone or lapsed: try to take the lock.
    Vacant,
}

async fn wait_for<E>(
    table: &impl IdempotencyStore,
    id: &str,
    payload_hash: &str,
    mut record: IdempotencyRecord,
    started: Instant,
    clock: &impl Fn() -> OffsetDateTime,
    wait: WaitPolicy,
) -> Result<Waited<E>, StoreError> {
    loop {
        let now = clock();
        match judge(&record, payload_hash, now) {
            Judgement::Replay(response) => return Ok(Waited::Done(Outcome::Replayed(response))),
            Judgement::Mismatch => return Ok(Waited::Done(Outcome::Mismatch)),
            Judgement::Expired => return Ok(Waited::Vacant),
            Judgement::StillRunning => {}
        }
        if started.elapsed() + wait.poll_every > wait.max || !table.pause(wait.poll_every).await {
            return Ok(Waited::Done(Outcome::InProgress { retry_after_seconds: retry_after(&record, now) }));
        }
        match table.get(id).await? {
            Some(next) => record = next,
            None => return Ok(Waited::Vacant),
        }
    }
}

/// Seconds until the running request's lock lapses, between 1 and `MAX_RETRY_AFTER_SECONDS`.
fn retry_after(record: &IdempotencyRecord, now: OffsetDateTime) -> u64 {
    let remaining = match record {
        IdempotencyRecord::InProgress { in_progress_until, .. } => (*in_progress_until - now).whole_seconds(),
        IdempotencyRecord::Completed { .. } => 1,
    };
    u64::try_from(remaining).unwrap_or(1).clamp(1, MAX_RETRY_AFTER_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ordering::testing::InMemoryIdempotency;

    /// 2025-03-01 12:00:00 UTC.
    const NOW: OffsetDateTime = match OffsetDateTime::from_unix_timestamp(1_740_830_400) {
        Ok(at) => at,
        Err(_) => panic!("a valid timestamp"),
    };

    const IN_PROGRESS_FOR: Duration = Duration::from_secs(30);

    #[test]
    fn retry_after_is_the_remaining_lock_time_within_bounds() {
        assert_eq!(
            retry_after(
                &IdempotencyRecord::InProgress {
                    payload_hash: "h".to_owned(),
                    in_progress_until: NOW + time::Duration::seconds(3)
                },
                NOW
            ),
            3
        );
        assert_eq!(
            retry_after(
                &IdempotencyRecord::InProgress {
                    payload_hash: "h".to_owned(),
                    in_progress_until: NOW + time::Duration::minutes(15)
                },
                NOW
            ),
            MAX_RETRY_AFTER_SECONDS
        );
        assert_eq!(
            retry_after(
                &IdempotencyRecord::InProgress {
                    payload_hash: "h".to_owned(),
                    in_progress_until: NOW - time::Duration::seconds(3)
                },
                NOW
            ),
            1
        );
    }

    fn answer(body: &str) -> StoredResponse {
        StoredResponse { status: 201, body: body.to_owned() }
    }

    async fn run(
        store: &InMemoryIdempotency,
        hash: &str,
        result: Result<StoredResponse, &'static str>,
    ) -> Outcome<&'static str> {
        run_once(store, "checkout#a#k", hash, NOW, IN_PROGRESS_FOR, WaitPolicy::default(), || async { result })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_work_runs_once_and_its_answer_is_replayed() {
        let store = InMemoryIdempotency::default();
        assert_eq!(run(&store, "h1", Ok(answer("first"))).await, Outcome::Fresh(answer("first")));
        assert_eq!(run(&store, "h1", Ok(answer("second"))).await, Outcome::Replayed(answer("first")));
    }

    #[tokio::test]
    async fn another_body_under_the_same_key_is_refused() {
        let store = InMemoryIdempotency::default();
        run(&store, "h1", Ok(answer("first"))).await;
        assert_eq!(run(&store, "h2", Ok(answer("second"))).await, Outcome::Mismatch);
    }

    #[tokio::test]
    async fn a_failure_is_not_kept_so_the_retry_runs_the_work() {
        let store = InMemoryIdempotency::default();
        assert_eq!(run(&store, "h1", Err("down")).await, Outcome::Failed("down"));
        assert_eq!(run(&store, "h1", Ok(answer("retried"))).await, Outcome::Fresh(answer("retried")));
    }

    #[tokio::test]
    async fn a_duplicate_of_a_running_request_waits_then_is_told_to_come_back() {
        let store = InMemoryIdempotency::default();
        let held = store.lock("checkout#a#k", "h1", NOW, IN_PROGRESS_FOR).await.unwrap();
        assert_eq!(held, Lock::Acquired);
        let brief = WaitPolicy { max: Duration::from_millis(150), poll_every: Duration::from_millis(50) };
        let outcome = run_once(&store, "checkout#a#k", "h1", NOW, IN_PROGRESS_FOR, brief, || async {
            Ok::<_, &str>(answer("twin"))
        })
        .await
        .unwrap();
        assert!(
            matches!(outcome, Outcome::InProgress { retry_after_seconds } if (1..=5).contains(&retry_after_seconds))
        );
    }
}
