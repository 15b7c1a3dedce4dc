//! The notification function: subscribed to the events topic, it sends what each event calls for.

mod handler;
mod messenger;
mod templates;

use messenger::TemplatedMessages;
use mizan::accounts::consent::UnsubscribeKeys;
use mizan::messaging::campaign::{CampaignRates, SendsPerSecond};
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::deliveries::DeliveriesTable;
use mizan_aws::lambda::config;
use mizan_aws::lambda::secrets::{self, Secrets};
use mizan_aws::notify::campaign_pages::CampaignPagesQueue;
use mizan_aws::notify::email::Mailer;
use mizan_aws::notify::sms::SmsSender;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub accounts: AccountsTable,
    pub deliveries: DeliveriesTable,
    pub messenger: TemplatedMessages,
    pub campaign_pages: CampaignPagesQueue,
    pub campaign_rates: CampaignRates,
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let mut secrets = Secrets::load(&aws, &["UNSUBSCRIBE_KEYS"]).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let sending = config::for_sending(&aws);
    let deps = Deps {
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?),
        deliveries: DeliveriesTable::new(dynamodb, config::required("DELIVERIES_TABLE")?),
        messenger: TemplatedMessages {
            mailer: Mailer::new(aws_sdk_sesv2::Client::new(&sending), config::required("SENDER_EMAIL")?),
            sms: SmsSender::new(aws_sdk_sns::Client::new(&sending)),
            storefront_url: config::required("STOREFRONT_URL")?.trim_end_matches('/').to_owned(),
            api_url: config::required("PUBLIC_API_URL")?.trim_end_matches('/').to_owned(),
            unsubscribe_keys: UnsubscribeKeys::parse(&secrets::unsubscribe_keys(&secrets.take("UNSUBSCRIBE_KEYS")?)?)?,
        },
        campaign_pages: CampaignPagesQueue::new(
            aws_sdk_sqs::Client::new(&aws),
            config::required("CAMPAIGN_PAGES_QUEUE_URL")?,
        ),
        campaign_rates: CampaignRates {
            email: rate("CAMPAIGN_EMAILS_PER_SECOND")?,
            sms: rate("CAMPAIGN_SMS_PER_SECOND")?,
        },
    };
    mizan_aws::lambda::triggers::serve_messages(|messages| handler::handle(&deps, messages)).await
}

fn rate(name: &'static str) -> Result<SendsPerSecond, lambda_runtime::Error> {
    SendsPerSecond::parse(&config::required(name)?)
        .ok_or_else(|| format!("{name} must be a whole number of sends per second, at least 1").into())
}
