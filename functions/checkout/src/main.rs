//! The checkout function: the public catalog, placing orders, and reading one's own orders.

mod forms;
mod routes;

use mizan::buyer_lookup::BuyerLookupKey;
use mizan::config;
use mizan::messaging::events_topic::EventsTopic;
use mizan::pricing::VatSchedule;
use mizan::sealed_fields::FieldSealer;
use mizan::session::SessionKey;
use mizan::storage::accounts::AccountsTable;
use mizan::storage::idempotency::IdempotencyTable;
use mizan::storage::ip_records::IpRecordsTable;
use mizan::storage::orders::OrdersTable;
use mizan::storage::products::ProductsTable;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub products: ProductsTable,
    pub orders: OrdersTable,
    pub idempotency: IdempotencyTable,
    pub events: EventsTopic,
    pub sessions: SessionKey,
    /// Sessions are checked against the account: closed accounts and changed roles end them.
    pub accounts: AccountsTable,
    pub vat: VatSchedule,
    pub ip_records: IpRecordsTable,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan::telemetry::init();
    let aws = config::aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        products: ProductsTable::new(dynamodb.clone(), config::required("PRODUCTS_TABLE")?),
        orders: OrdersTable::new(
            dynamodb.clone(),
            config::required("ORDERS_TABLE")?,
            FieldSealer::new(aws_sdk_kms::Client::new(&aws), config::required("FIELD_KEY_ID")?),
            BuyerLookupKey::new(config::required("BUYER_CODE_HASH_KEY")?.as_bytes())?,
        ),
        idempotency: IdempotencyTable::new(dynamodb.clone(), config::required("IDEMPOTENCY_TABLE")?),
        events: EventsTopic::new(aws_sdk_sns::Client::new(&aws), config::required("EVENTS_TOPIC_ARN")?),
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?),
        ip_records: IpRecordsTable::new(dynamodb, config::required("IP_RECORDS_TABLE")?),
        sessions: SessionKey::new(config::required("SESSION_SIGNING_KEY")?.as_bytes())?,
        vat: VatSchedule::from_json(&config::required("VAT_RATES")?)?,
    };
    mizan::http::serve(|req| routes::handle(&deps, req)).await
}
