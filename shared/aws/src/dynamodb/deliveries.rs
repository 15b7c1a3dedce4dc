//! The deliveries table: one record per message sent for an event, so that at-least-once
//! delivery of events (SNS, Lambda retries) sends each message exactly once.
//!
//! Items: `DELIVERY#<event id>#<channel>#<account id>`, status `sending` while a send is under way
//! and `sent` (with the provider's message id) once it went out; a campaign's page hand-ons as
//! `DELIVERY#<event id>#page#<n>` (the queue's message id), and `DELIVERY#<event id>#delivered`
//! once its last page is done. All expire by TTL.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::{Duration, OffsetDateTime};

use super::{n, s, time};
use mizan::kernel::failures::StoreError;
use mizan::messaging::ports::{Claim, Deliveries, STALE_CLAIM};

/// Long enough to outlive every redelivery and retry of an event (SNS retries for hours,
/// Lambda's async retries for up to six), short enough not to keep a send log forever.
const KEEP_FOR: Duration = Duration::days(30);

/// The record of a finished campaign, beside its deliveries.
pub const CAMPAIGN_DELIVERED: &str = "delivered";

#[derive(Debug, Clone)]
pub struct DeliveriesTable {
    client: Client,
    table: String,
}

fn key(event_id: uuid::Uuid, delivery: &str) -> String {
    format!("DELIVERY#{event_id}#{delivery}")
}

impl DeliveriesTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl Deliveries for DeliveriesTable {
    async fn claim(&self, event_id: uuid::Uuid, delivery: &str, now: OffsetDateTime) -> Result<Claim, StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key(event_id, delivery)))
            .item("status", s("sending"))
            .item("claimed_at", time(now))
            .item("expires_at", time(now + KEEP_FOR))
            .condition_expression("attribute_not_exists(pk) OR (#status = :sending AND claimed_at < :stale)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":stale", time(now - STALE_CLAIM))
            .send()
            .await;
        match written {
            Ok(_) => Ok(Claim::Granted),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let sent = failed.item().and_then(|item| item.get("status")).and_then(|s| s.as_s().ok());
                    Ok(if sent.is_some_and(|status| status == "sent") { Claim::Sent } else { Claim::InFlight })
                }
                _ => Err(crate::dynamodb::store_error(&error)),
            },
        }
    }

    async fn mark_sent(&self, event_id: uuid::Uuid, delivery: &str, message_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key(event_id, delivery)))
            .update_expression("SET #status = :sent, message_id = :message_id")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":message_id", s(message_id))
            .return_values(ReturnValue::None)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(())
    }

    /// Records that the last page of a campaign went out: an operator (or a test) can see that
    /// a campaign has finished, and after how many pages.
    async fn record_campaign_delivered(
        &self,
        event_id: uuid::Uuid,
        pages: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key(event_id, CAMPAIGN_DELIVERED)))
            .item("status", s("sent"))
            .item("pages", n(pages))
            .item("delivered_at", time(now))
            .item("expires_at", time(now + KEEP_FOR))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(())
    }

    /// Gives a claim back after a failed send, so the retry of the event sends it.
    async fn release(&self, event_id: uuid::Uuid, delivery: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key(event_id, delivery)))
            .condition_expression("#status = :sending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(())
    }
}
