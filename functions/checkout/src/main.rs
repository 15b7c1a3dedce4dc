//! The checkout function: the public catalog, placing orders, and reading one's own orders and
//! their history.

mod forms;
mod routes;

use mizan::accounts::session::SessionKeys;
use mizan::ordering::buyer_lookup::BuyerLookupKey;
use mizan::ordering::pricing::VatSchedule;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::idempotency::IdempotencyTable;
use mizan_aws::dynamodb::ip_records::IpRecordsTable;
use mizan_aws::dynamodb::order_progress::OrderProgressTable;
use mizan_aws::dynamodb::orders::OrdersTable;
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::dynamodb::products::ProductsTable;
use mizan_aws::dynamodb::shop::Shop;
use mizan_aws::kms::sealed_fields::FieldSealer;
use mizan_aws::lambda::config;
use mizan_aws::lambda::secrets::Secrets;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub shop: Shop,
    pub idempotency: IdempotencyTable,
    pub sessions: SessionKeys,
    /// Sessions are checked against the account: closed accounts and changed roles end them.
    pub accounts: AccountsTable,
    pub vat: VatSchedule,
    /// How long a placed order waits for its payment (PAYMENT_WINDOW_MINUTES).
    pub payment_window: time::Duration,
    pub ip_records: IpRecordsTable,
    /// The customer's order history, read without the buyer.
    pub progress: OrderProgressTable,
}

#[derive(Debug, thiserror::Error)]
#[error("PAYMENT_WINDOW_MINUTES must be a whole number of minutes from 5 to 1440")]
struct InvalidPaymentWindow;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let mut secrets = Secrets::load(&aws, &["BUYER_CODE_HASH_KEY"]).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        shop: Shop {
            products: ProductsTable::new(dynamodb.clone(), config::required("PRODUCTS_TABLE")?),
            orders: OrdersTable::new(
                dynamodb.clone(),
                config::required("ORDERS_TABLE")?,
                FieldSealer::new(aws_sdk_kms::Client::new(&aws), config::required("FIELD_KEY_ID")?),
                BuyerLookupKey::new(secrets.take("BUYER_CODE_HASH_KEY")?.as_bytes())?,
            ),
            outbox: OutboxTable::new(dynamodb.clone(), config::required("OUTBOX_TABLE")?),
        },
        idempotency: IdempotencyTable::new(dynamodb.clone(), config::required("IDEMPOTENCY_TABLE")?),
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?),
        ip_records: IpRecordsTable::new(dynamodb.clone(), config::required("IP_RECORDS_TABLE")?),
        progress: OrderProgressTable::new(dynamodb, config::required("ORDERS_TABLE")?),
        sessions: config::session_keys()?,
        vat: VatSchedule::from_json(&config::required("VAT_RATES")?)?,
        payment_window: config::required("PAYMENT_WINDOW_MINUTES")?
            .parse::<i64>()
            .ok()
            .filter(|minutes| (5..=1440).contains(minutes))
            .map(time::Duration::minutes)
            .ok_or(InvalidPaymentWindow)?,
    };
    mizan_aws::lambda::http::serve(|req| routes::handle(&deps, req)).await
}
