//! Relaying the outbox to the events topic. The outbox's records arrive in the order they were
//! written, each at a position in its stream; they are published in that order, and the first
//! one that cannot be (the topic is down, or the record cannot be read) ends the batch: the
//! stream resumes from it, so nothing after it is skipped and nothing before it is sent again.
//! An event published twice — the relay died before its batch was checkpointed — is harmless:
//! consumers act once per event id.

use crate::kernel::events::Envelope;
use crate::kernel::ports::EventPublisher;

/// Who wrote an outbox record, as its key tells: a function (in the transaction of its change),
/// or an operator's command, whose keys no function's policy lets it write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Function,
    Operator,
}

/// One record of the outbox's stream: where it is, who wrote it, and its event if it could be
/// read.
pub struct OutboxRecord<P> {
    pub position: P,
    pub writer: Writer,
    pub event: Option<Envelope>,
}

/// Publishes the records in order; returns the position of the first one that was not
/// published, from which the batch must be retried, or `None` when all were.
pub async fn relay<P: std::fmt::Display>(
    topic: &impl EventPublisher,
    records: impl IntoIterator<Item = OutboxRecord<P>>,
) -> Option<P> {
    for record in records {
        let Some(envelope) = record.event else {
            // Retried, then handed to the on-failure queue that an alarm watches: never dropped.
            tracing::error!(position = %record.position, "an outbox record could not be read");
            return Some(record.position);
        };
        if envelope.event.operator_only() != (record.writer == Writer::Operator) {
            // A campaign a function wrote (its code went wrong, or was made to), or an operator
            // record that is no campaign: refused for good, so retrying it would not help.
            tracing::error!(event = %envelope.event_id, kind = envelope.event.type_name(), writer = ?record.writer, "an outbox record its writer may not publish was refused");
            continue;
        }
        if let Err(error) = topic.publish(&envelope).await {
            tracing::warn!(event = %envelope.event_id, %error, "an event could not be published; the batch resumes from it");
            return Some(record.position);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::events::DomainEvent;
    use crate::kernel::ids::AccountId;
    use crate::kernel::testing::Topic;

    fn envelope() -> Envelope {
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        Envelope::new(DomainEvent::AccountClosed { account_id: AccountId::new() }, now)
    }

    fn records(events: &[Option<Envelope>]) -> Vec<OutboxRecord<usize>> {
        let by_function = |(position, event)| OutboxRecord { position, writer: Writer::Function, event };
        events.iter().cloned().enumerate().map(by_function).collect()
    }

    fn campaign() -> Envelope {
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let text = "تخفیف پاییزه".to_owned();
        Envelope::new(
            DomainEvent::CampaignPublished { campaign_id: uuid::Uuid::new_v4(), subject: text.clone(), text },
            now,
        )
    }

    #[tokio::test]
    async fn every_event_of_a_batch_is_published_in_order() {
        let topic = Topic::default();
        let events = [envelope(), envelope(), envelope()];
        let batch = records(&events.clone().map(Some));
        assert_eq!(relay(&topic, batch).await, None);
        assert_eq!(topic.published(), events);
    }

    #[tokio::test]
    async fn p6_p7_only_an_operators_record_can_publish_a_campaign_and_it_can_publish_nothing_else() {
        let topic = Topic::default();
        let (forged, other, genuine, misplaced) = (campaign(), envelope(), campaign(), envelope());
        let batch = vec![
            OutboxRecord { position: 0, writer: Writer::Function, event: Some(forged) },
            OutboxRecord { position: 1, writer: Writer::Function, event: Some(other.clone()) },
            OutboxRecord { position: 2, writer: Writer::Operator, event: Some(genuine.clone()) },
            OutboxRecord { position: 3, writer: Writer::Operator, event: Some(misplaced) },
        ];
        assert_eq!(relay(&topic, batch).await, None, "a refused record is not retried: retrying would not help");
        assert_eq!(topic.published(), [other, genuine]);
    }

    #[tokio::test]
    async fn an_unreadable_record_stops_the_batch_at_its_position() {
        let topic = Topic::default();
        let (first, third) = (envelope(), envelope());
        assert_eq!(relay(&topic, records(&[Some(first.clone()), None, Some(third)])).await, Some(1));
        assert_eq!(topic.published(), [first], "nothing after it is published out of order");
    }

    #[tokio::test]
    async fn a_topic_that_fails_stops_the_batch_at_the_event_it_refused() {
        let topic = Topic::failing_after(1);
        let events = [envelope(), envelope(), envelope()];
        assert_eq!(relay(&topic, records(&events.clone().map(Some))).await, Some(1));
        assert_eq!(topic.published(), events[..1]);
    }
}
