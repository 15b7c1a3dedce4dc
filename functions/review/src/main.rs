//! The review function: posting reviews, the public listing, staff moderation (HTTP), and the
//! reviews of closed accounts (subscribed to the events topic).

mod closures;
mod routes;

use mizan::accounts::session::SessionKeys;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::orders::PurchaseIndex;
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::dynamodb::products::ProductsTable;
use mizan_aws::dynamodb::reviews::ReviewsTable;
use mizan_aws::lambda::config;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub reviews: ReviewsTable,
    pub products: ProductsTable,
    /// Read for the reviewer's name, email state and role only (the IAM policy allows no more).
    pub accounts: AccountsTable,
    /// Read through the by-account index only, for the verified-buyer mark.
    pub orders: PurchaseIndex,
    pub sessions: SessionKeys,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        reviews: ReviewsTable::new(dynamodb.clone(), config::required("REVIEWS_TABLE")?)
            .with_outbox(OutboxTable::new(dynamodb.clone(), config::required("OUTBOX_TABLE")?)),
        products: ProductsTable::new(dynamodb.clone(), config::required("PRODUCTS_TABLE")?),
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?),
        orders: PurchaseIndex::new(dynamodb, config::required("ORDERS_TABLE")?),
        sessions: config::session_keys()?,
    };
    mizan_aws::lambda::triggers::serve_with_events(
        |req| routes::handle(&deps, req),
        |event| closures::handle(&deps, event),
    )
    .await
}
