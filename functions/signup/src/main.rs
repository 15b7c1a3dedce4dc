//! The signup function: accounts, contact verification, sessions and `GET /me`.

mod forms;
mod routes;

use mizan::accounts::session::SessionKey;
use mizan::accounts::verification::CodeHasher;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::ip_records::IpRecordsTable;
use mizan_aws::lambda::config;
use mizan_aws::notify::events_topic::EventsTopic;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub accounts: AccountsTable,
    pub events: EventsTopic,
    pub sessions: SessionKey,
    pub codes: CodeHasher,
    pub ip_records: IpRecordsTable,
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
    let deps = Deps {
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?),
        ip_records: IpRecordsTable::new(dynamodb, config::required("IP_RECORDS_TABLE")?),
        events: EventsTopic::new(aws_sdk_sns::Client::new(&aws), config::required("EVENTS_TOPIC_ARN")?),
        sessions: SessionKey::new(config::required("SESSION_SIGNING_KEY")?.as_bytes())?,
        codes: CodeHasher::new(config::required("CODE_HASH_KEY")?.as_bytes())?,
    };
    mizan_aws::lambda::http::serve(|req| routes::handle(&deps, req)).await
}
