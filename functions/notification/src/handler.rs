//! One invocation: an SNS delivery of domain events, or an SQS delivery of a campaign page;
//! decoded here, sent by the messaging context's delivery use case.

use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::SqsEvent;
use mizan::kernel::clock::now;
use mizan::kernel::events::Envelope;
use mizan::messaging::campaign::CampaignPage;
use mizan::messaging::delivery::{Delivery, DeliveryError};
use serde_json::Value;

use crate::Deps;

/// Fails the invocation, so Lambda retries it and, after its retries, the event lands in the
/// dead-letter queue with everything needed to replay it.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("{0} could not be read")]
    Unreadable(String),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

/// What Lambda records of a failed invocation: our error messages carry ids and codes only.
impl From<NotificationError> for lambda_runtime::Diagnostic {
    fn from(error: NotificationError) -> Self {
        Self { error_type: "NotificationError".to_owned(), error_message: error.to_string() }
    }
}

/// The function has two triggers: the events topic (SNS) and the campaign-pages queue (SQS).
pub async fn handle(deps: &Deps, invocation: Value) -> Result<(), NotificationError> {
    let delivery = Delivery {
        accounts: &deps.accounts,
        deliveries: &deps.deliveries,
        pages: &deps.campaign_pages,
        messenger: &deps.messenger,
        rates: &deps.campaign_rates,
    };
    let source = invocation.pointer("/Records/0/EventSource").or_else(|| invocation.pointer("/Records/0/eventSource"));
    match source.and_then(Value::as_str) {
        Some("aws:sns") => {
            let event: SnsEvent =
                serde_json::from_value(invocation).map_err(|_| NotificationError::Unreadable("an SNS event".into()))?;
            for record in event.records {
                let envelope: Envelope = serde_json::from_str(&record.sns.message)
                    .map_err(|_| NotificationError::Unreadable(format!("SNS message {}", record.sns.message_id)))?;
                delivery.deliver(&envelope, now()).await?;
            }
            Ok(())
        }
        Some("aws:sqs") => {
            let event: SqsEvent =
                serde_json::from_value(invocation).map_err(|_| NotificationError::Unreadable("an SQS event".into()))?;
            for record in event.records {
                let id = record.message_id.unwrap_or_default();
                let page: CampaignPage = record
                    .body
                    .as_deref()
                    .and_then(|body| serde_json::from_str(body).ok())
                    .ok_or_else(|| NotificationError::Unreadable(format!("SQS message {id}")))?;
                delivery.deliver_page(&page, now()).await?;
            }
            Ok(())
        }
        _ => Err(NotificationError::Unreadable("an invocation from neither SNS nor SQS".into())),
    }
}
