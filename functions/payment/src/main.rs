//! The payment function: customers start paying their orders and come back from the gateway
//! (HTTP), a schedule verifies payments whose customers never came back and expires orders
//! nobody paid, and cancelled orders' payments are refunded (`OrderCancelled` events).

mod page;
mod refunds;
mod routes;
mod sweep;

use mizan::accounts::session::SessionKeys;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::orders::PayableOrders;
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::dynamodb::payments::PaymentsTable;
use mizan_aws::dynamodb::products::ProductsTable;
use mizan_aws::dynamodb::till::Till;
use mizan_aws::gateway::zarinpal::{Zarinpal, ZarinpalSettings};
use mizan_aws::lambda::config;
use mizan_aws::lambda::secrets::Secrets;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub till: Till,
    pub gateway: Zarinpal,
    pub sessions: SessionKeys,
    /// Sessions are checked against the account: closed accounts and changed roles end them.
    pub accounts: AccountsTable,
    /// Where the result page sends the customer on (STOREFRONT_URL), without a trailing slash.
    pub storefront_url: String,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let mut secrets = Secrets::load(&aws, &["ZARINPAL_MERCHANT_ID", "ZARINPAL_ACCESS_TOKEN"]).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        till: Till {
            payments: PaymentsTable::new(dynamodb.clone(), config::required("PAYMENTS_TABLE")?),
            orders: PayableOrders::new(dynamodb.clone(), config::required("ORDERS_TABLE")?),
            products: ProductsTable::new(dynamodb.clone(), config::required("PRODUCTS_TABLE")?),
            outbox: OutboxTable::new(dynamodb.clone(), config::required("OUTBOX_TABLE")?),
        },
        gateway: Zarinpal::new(ZarinpalSettings {
            merchant_id: secrets.take("ZARINPAL_MERCHANT_ID")?,
            payment_url: config::required("ZARINPAL_PAYMENT_URL")?,
            api_url: config::required("ZARINPAL_API_URL")?,
            graphql_url: config::required("ZARINPAL_GRAPHQL_URL")?,
            access_token: secrets.take("ZARINPAL_ACCESS_TOKEN")?,
            terminal_id: config::required("ZARINPAL_TERMINAL_ID")?,
            callback_url: config::required("PAYMENT_CALLBACK_URL")?,
        })?,
        accounts: AccountsTable::new(dynamodb, config::required("ACCOUNTS_TABLE")?),
        sessions: config::session_keys()?,
        storefront_url: config::required("STOREFRONT_URL")?.trim_end_matches('/').to_owned(),
    };
    mizan_aws::lambda::triggers::serve_http_events_schedule(
        |req| routes::handle(&deps, req),
        |events| refunds::handle(&deps, events),
        || sweep::handle(&deps),
    )
    .await
}
