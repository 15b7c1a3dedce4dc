//! The signup function: accounts, contact verification, sessions and `GET /me`.

mod forms;
mod routes;

use mizan::accounts::abuse_limits::AbuseLimits;
use mizan::accounts::session::SessionKey;
use mizan::accounts::verification::CodeHasher;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::ip_records::IpRecordsTable;
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::lambda::config;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub accounts: AccountsTable,
    /// Events that report no change of their own (a notice) are kept here directly.
    pub outbox: OutboxTable,
    pub sessions: SessionKey,
    pub codes: CodeHasher,
    pub ip_records: IpRecordsTable,
    pub limits: AbuseLimits,
}

// One thread: Lambda hands an environment one request at a time, and password hashing (argon2,
// 19 MiB per hash) then always runs on the same thread, whose allocator arena reuses one buffer.
// On the multi-threaded runtime each worker thread kept a buffer of its own: peak RSS 48.6 MiB,
// against 29.1 MiB on one thread (tests/bench/RESULTS.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let outbox = OutboxTable::new(dynamodb.clone(), config::required("OUTBOX_TABLE")?);
    let deps = Deps {
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?).with_outbox(outbox.clone()),
        ip_records: IpRecordsTable::new(dynamodb, config::required("IP_RECORDS_TABLE")?),
        outbox,
        sessions: config::session_key()?,
        codes: CodeHasher::new(config::required("CODE_HASH_KEY")?.as_bytes())?,
        limits: AbuseLimits::parse(
            &config::required("ABUSE_LIMITS")?,
            &std::env::var("ABUSE_LIMITS_EXEMPT").unwrap_or_default(),
        )?,
    };
    mizan_aws::lambda::http::serve(|req| routes::handle(&deps, req)).await
}
