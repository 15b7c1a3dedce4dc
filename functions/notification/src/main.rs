//! The notification function: subscribed to the events topic, it sends what each event calls for.

mod handler;
mod templates;

use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use mizan::config;
use mizan::messaging::email::Mailer;
use mizan::messaging::sms::SmsSender;
use mizan::storage::accounts::AccountsTable;
use mizan::storage::deliveries::DeliveriesTable;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub accounts: AccountsTable,
    pub deliveries: DeliveriesTable,
    pub mailer: Mailer,
    pub sms: SmsSender,
    /// Where links in messages point (STOREFRONT_URL), without a trailing slash.
    pub storefront_url: String,
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mizan::telemetry::init();
    let aws = config::aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?),
        deliveries: DeliveriesTable::new(dynamodb, config::required("DELIVERIES_TABLE")?),
        mailer: Mailer::new(aws_sdk_sesv2::Client::new(&aws), config::required("SENDER_EMAIL")?),
        sms: SmsSender::new(aws_sdk_sns::Client::new(&aws)),
        storefront_url: config::required("STOREFRONT_URL")?.trim_end_matches('/').to_owned(),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SnsEvent>| handler::handle(&deps, event.payload))).await
}
