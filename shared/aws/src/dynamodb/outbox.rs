//! The outbox table: every domain event, written in the same transaction as the change it
//! reports. Its stream (new images) drives the relay function, which publishes each event to the
//! events topic; so an event is published if and only if its change was committed, whatever the
//! topic was doing at the time.
//!
//! Items (partition key `event_id`): `envelope` (the event as the topic carries it, JSON),
//! `occurred_at` (epoch seconds: the envelope's own time as a number, so that an operator can
//! find the events of a failed batch by time without reading every envelope) and `expires_at`
//! (TTL). The
//! relay only reads the stream, so an item's expiry is set when it is written: long enough for
//! the stream (24 hours) and, should the relay give up on a record, for an operator to redrive
//! it from the relay's on-failure queue (14 days) — `infra/ops/redrive`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use mizan::kernel::events::Envelope;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ports::Outbox;
use mizan::kernel::relay::Writer;
use time::Duration;

use super::{Item, conditional, n, s, time};

/// The attribute that holds the event: written here, read back from the stream by the relay.
const ENVELOPE: &str = "envelope";
const EVENT_ID: &str = "event_id";

/// How long an event stays in the outbox: the on-failure queue's retention and a day to spare.
pub const KEPT_FOR: Duration = Duration::days(15);

#[derive(Debug, Clone)]
pub struct OutboxTable {
    client: Client,
    table: String,
}

impl OutboxTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The write that keeps `envelope`, for the transaction of the change it reports. It has no
    /// condition of its own: the change's conditions decide whether the transaction happens.
    pub(crate) fn put(&self, envelope: &Envelope) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(envelope)?))
            .build()
            .map_err(|_| StoreError::Failed("build-put".into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// The writes that keep `envelopes` in the outbox a table was given with `with_outbox`. A table
/// built without one refuses to write events rather than lose them.
pub(crate) fn puts(outbox: Option<&OutboxTable>, envelopes: &[Envelope]) -> Result<Vec<TransactWriteItem>, StoreError> {
    if envelopes.is_empty() {
        return Ok(Vec::new());
    }
    let outbox = outbox.ok_or(StoreError::Failed("built-without-outbox".into()))?;
    envelopes.iter().map(|envelope| outbox.put(envelope)).collect()
}

impl Outbox for OutboxTable {
    async fn keep(&self, envelope: &Envelope) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(envelope)?))
            // A second put would be a MODIFY in the stream, which the relay does not take; the
            // condition keeps the first one as it was.
            .condition_expression("attribute_not_exists(event_id)")
            .send()
            .await;
        conditional(put.map(|_| ())).map(|_| ())
    }
}

fn item(envelope: &Envelope) -> Result<Item, StoreError> {
    let json = serde_json::to_string(envelope).map_err(|_| StoreError::Failed("encode-event".into()))?;
    Ok(Item::from([
        (EVENT_ID.to_owned(), s(envelope.event_id.to_string())),
        ("occurred_at".to_owned(), time(envelope.occurred_at)),
        (ENVELOPE.to_owned(), s(json)),
        ("expires_at".to_owned(), n((envelope.occurred_at + KEPT_FOR).unix_timestamp())),
    ]))
}

/// The event in an outbox item's image, as the table's stream delivers it; `None` for an image
/// that is not an outbox item.
/// How an operator's command keys the events it keeps (`operator#<event id>`): no function's
/// policy lets it write such a key (`infra/template.yaml`, `KeepDomainEvents`).
pub const OPERATOR_KEY_PREFIX: &str = "operator#";

/// Who wrote an outbox item, as its key tells.
pub fn writer_in_image(image: &serde_dynamo::Item) -> Writer {
    let key = image.get(EVENT_ID).and_then(|value| serde_dynamo::from_attribute_value::<_, String>(value.clone()).ok());
    match key {
        Some(key) if key.starts_with(OPERATOR_KEY_PREFIX) => Writer::Operator,
        _ => Writer::Function,
    }
}

pub fn envelope_in_image(image: serde_dynamo::Item) -> Option<Envelope> {
    let json: String = serde_dynamo::from_attribute_value(image.into_inner().remove(ENVELOPE)?).ok()?;
    serde_json::from_str(&json).ok()
}

#[cfg(test)]
mod tests {
    use mizan::kernel::events::DomainEvent;
    use mizan::kernel::ids::AccountId;

    use super::*;

    #[test]
    fn the_relay_reads_back_the_event_an_item_keeps() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let envelope = Envelope::new(DomainEvent::AccountClosed { account_id: AccountId::new() }, now);
        let written = item(&envelope).unwrap();
        // The stream delivers the item as written, in DynamoDB's JSON.
        let image: std::collections::HashMap<String, serde_dynamo::AttributeValue> = written
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    aws_sdk_dynamodb::types::AttributeValue::S(text) => serde_dynamo::AttributeValue::S(text),
                    aws_sdk_dynamodb::types::AttributeValue::N(number) => serde_dynamo::AttributeValue::N(number),
                    other => panic!("an outbox item holds strings and numbers only, not {other:?}"),
                };
                (name, value)
            })
            .collect();
        assert_eq!(envelope_in_image(image.into()), Some(envelope));
    }

    #[test]
    fn an_image_that_is_not_an_outbox_item_reads_as_nothing() {
        let image = std::collections::HashMap::from([("pk".to_owned(), serde_dynamo::AttributeValue::S("x".into()))]);
        assert_eq!(envelope_in_image(image.into()), None);
    }
}
