//! The signup function: accounts, contact verification, sessions and `GET /me`.

mod forms;
mod routes;

use mizan::accounts::abuse_limits::AbuseLimits;
use mizan::accounts::contact_lookup::ContactLookupKey;
use mizan::accounts::session::{SessionKeys, SessionSigner};
use mizan::accounts::verification::CodeHasher;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::ip_records::IpRecordsTable;
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::lambda::config;
use mizan_aws::lambda::secrets::Secrets;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub accounts: AccountsTable,
    /// Events that report no change of their own (a notice) are kept here directly.
    pub outbox: OutboxTable,
    /// Only this function signs sessions; like every function it checks them with the public keys.
    pub signer: SessionSigner,
    pub sessions: SessionKeys,
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
    let mut secrets = Secrets::load(&aws, &["SESSION_SIGNING_KEY", "CODE_HASH_KEY", "CONTACT_LOOKUP_KEY"]).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let outbox = OutboxTable::new(dynamodb.clone(), config::required("OUTBOX_TABLE")?);
    let deps = Deps {
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?)
            .with_outbox(outbox.clone())
            .with_contact_lookup(ContactLookupKey::new(secrets.take("CONTACT_LOOKUP_KEY")?.as_bytes())?),
        ip_records: IpRecordsTable::new(dynamodb, config::required("IP_RECORDS_TABLE")?),
        outbox,
        signer: SessionSigner::from_secret(&secrets.take("SESSION_SIGNING_KEY")?)?,
        sessions: config::session_keys()?,
        codes: CodeHasher::new(secrets.take("CODE_HASH_KEY")?.as_bytes())?,
        limits: AbuseLimits::parse(
            &config::required("ABUSE_LIMITS")?,
            &std::env::var("ABUSE_LIMITS_EXEMPT").unwrap_or_default(),
        )?,
    };
    mizan_aws::lambda::http::serve(|req| routes::handle(&deps, req)).await
}
