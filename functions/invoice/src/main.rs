//! The invoice function: issues each order's official invoice (subscribed to the events topic)
//! and serves invoices and VAT certificates to their owners (HTTP).

mod issuance;
mod page;
mod routes;

use mizan::accounts::contact::PostalCode;
use mizan::accounts::session::SessionKeys;
use mizan::invoicing::invoice::Seller;
use mizan::invoicing::tax_id::MemoryId;
use mizan::ordering::buyer_lookup::BuyerLookupKey;
use mizan::ordering::identity::EconomicCode;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::invoices::InvoicesTable;
use mizan_aws::dynamodb::orders::OrdersTable;
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::kms::sealed_fields::FieldSealer;
use mizan_aws::lambda::config;
use mizan_aws::lambda::secrets::Secrets;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub invoices: InvoicesTable,
    pub orders: OrdersTable,
    pub sessions: SessionKeys,
    /// Sessions are checked against the account: closed accounts and changed roles end them.
    pub accounts: AccountsTable,
    pub seller: Seller,
}

#[derive(Debug, thiserror::Error)]
#[error("the seller setting {0} is not valid")]
struct InvalidSeller(&'static str);

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let mut secrets = Secrets::load(&aws, &["BUYER_CODE_HASH_KEY"]).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let seller = Seller {
        name: config::required("SELLER_NAME")?,
        economic_code: EconomicCode::parse(&config::required("SELLER_ECONOMIC_CODE")?)
            .map_err(|_| InvalidSeller("SELLER_ECONOMIC_CODE"))?,
        address: config::required("SELLER_ADDRESS")?,
        postal_code: PostalCode::parse(&config::required("SELLER_POSTAL_CODE")?)
            .map_err(|_| InvalidSeller("SELLER_POSTAL_CODE"))?,
        memory_id: MemoryId::parse(&config::required("TAX_MEMORY_ID")?).map_err(|_| InvalidSeller("TAX_MEMORY_ID"))?,
    };
    // One sealer for both tables: they share its data keys, and so its KMS calls.
    let fields = FieldSealer::new(aws_sdk_kms::Client::new(&aws), config::required("FIELD_KEY_ID")?);
    let deps = Deps {
        invoices: InvoicesTable::new(dynamodb.clone(), config::required("INVOICES_TABLE")?, fields.clone())
            .with_outbox(OutboxTable::new(dynamodb.clone(), config::required("OUTBOX_TABLE")?)),
        orders: OrdersTable::new(
            dynamodb.clone(),
            config::required("ORDERS_TABLE")?,
            fields,
            BuyerLookupKey::new(secrets.take("BUYER_CODE_HASH_KEY")?.as_bytes())?,
        ),
        accounts: AccountsTable::new(dynamodb, config::required("ACCOUNTS_TABLE")?),
        sessions: config::session_keys()?,
        seller,
    };
    mizan_aws::lambda::triggers::serve_with_events(
        |req| routes::handle(&deps, req),
        |event| issuance::handle(&deps, event),
    )
    .await
}
