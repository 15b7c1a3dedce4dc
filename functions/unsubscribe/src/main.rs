//! The unsubscribe function: the customer's privacy settings, and the one-click unsubscribe
//! that marketing emails link to.

mod page;
mod routes;

use mizan::accounts::consent::UnsubscribeKeys;
use mizan::accounts::session::SessionKeys;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::lambda::config;
use mizan_aws::lambda::secrets::{self, Secrets};

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    /// Read and written for marketing consent only (the IAM policy allows no more).
    pub accounts: AccountsTable,
    pub sessions: SessionKeys,
    pub keys: UnsubscribeKeys,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let mut secrets = Secrets::load(&aws, &["UNSUBSCRIBE_KEYS"]).await?;
    let deps = Deps {
        accounts: AccountsTable::new(aws_sdk_dynamodb::Client::new(&aws), config::required("ACCOUNTS_TABLE")?),
        sessions: config::session_keys()?,
        keys: UnsubscribeKeys::parse(&secrets::unsubscribe_keys(&secrets.take("UNSUBSCRIBE_KEYS")?)?)?,
    };
    mizan_aws::lambda::http::serve(|req| routes::handle(&deps, req)).await
}
