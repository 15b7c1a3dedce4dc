//! The campaign-pages queue (SQS): each page of a campaign hands the next one on through it, so
//! every page is an invocation of its own, retried alone and dead-lettered alone.

use aws_sdk_sqs::Client;

use mizan::kernel::failures::SendError;
use mizan::messaging::campaign::CampaignPage;
use mizan::messaging::ports::CampaignQueue;

#[derive(Debug, Clone)]
pub struct CampaignPagesQueue {
    client: Client,
    url: String,
}

impl CampaignPagesQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }
}

impl CampaignQueue for CampaignPagesQueue {
    /// Queues a page; the message body is the page itself. It carries the campaign's text and a
    /// table key, no customer's contacts. Returns the queue's message id.
    async fn hand_on(&self, page: &CampaignPage) -> Result<String, SendError> {
        let body = serde_json::to_string(page).map_err(|_| SendError("serialise-page".into()))?;
        let sent = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| crate::notify::send_error(&e))?;
        Ok(sent.message_id.unwrap_or_default())
    }
}
