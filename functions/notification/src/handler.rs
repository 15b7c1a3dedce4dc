//! One invocation: domain events from the events topic, or a campaign's pages from their queue,
//! sent by the messaging context's delivery use case.

use mizan::kernel::clock::now;
use mizan::messaging::delivery::{Delivery, DeliveryError};
use mizan_aws::lambda::triggers::Messages;

use crate::Deps;

/// Fails the invocation, so Lambda retries it and, after its retries, the event lands in the
/// dead-letter queue with everything needed to replay it.
pub async fn handle(deps: &Deps, messages: Messages) -> Result<(), Failed> {
    let delivery = Delivery {
        accounts: &deps.accounts,
        deliveries: &deps.deliveries,
        pages: &deps.campaign_pages,
        messenger: &deps.messenger,
        rates: &deps.campaign_rates,
    };
    match messages {
        Messages::Events(envelopes) => {
            for envelope in &envelopes {
                delivery.deliver(envelope, now()).await?;
            }
        }
        Messages::Pages(pages) => {
            for page in &pages {
                delivery.deliver_page(page, now()).await?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Failed(#[from] DeliveryError);

/// What Lambda records of a failed invocation: our error messages carry ids and codes only.
impl From<Failed> for lambda_runtime::Diagnostic {
    fn from(error: Failed) -> Self {
        Self { error_type: "NotificationError".to_owned(), error_message: error.to_string() }
    }
}
