//! The unsubscribe function: the customer's privacy settings, and the one-click unsubscribe
//! that marketing emails link to.

mod page;
mod routes;

use mizan::config;
use mizan::consent::UnsubscribeKeys;
use mizan::session::SessionKey;
use mizan::storage::accounts::AccountsTable;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    /// Read and written for marketing consent only (the IAM policy allows no more).
    pub accounts: AccountsTable,
    pub sessions: SessionKey,
    pub keys: UnsubscribeKeys,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan::telemetry::init();
    let aws = config::aws().await;
    let deps = Deps {
        accounts: AccountsTable::new(aws_sdk_dynamodb::Client::new(&aws), config::required("ACCOUNTS_TABLE")?),
        sessions: SessionKey::new(config::required("SESSION_SIGNING_KEY")?.as_bytes())?,
        keys: UnsubscribeKeys::parse(&config::required("UNSUBSCRIBE_KEYS")?)?,
    };
    mizan::http::serve(|req| routes::handle(&deps, req)).await
}
