//! The outbox table's stream as the relay function receives it: DynamoDB stream records of new
//! outbox items, read into events in stream order, and the answer that tells Lambda where to
//! resume (`ReportBatchItemFailures`: the sequence number of the first record not relayed).

use std::future::Future;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent};
use lambda_http::service_fn;
use mizan::kernel::relay::OutboxRecord;

use crate::dynamodb::outbox::{envelope_in_image, writer_in_image};

/// Runs the relay: `relay` gets each invocation's records and answers the position of the first
/// one it could not relay.
pub async fn serve<F, Fut>(relay: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Vec<OutboxRecord<String>>) -> Fut,
    Fut: Future<Output = Option<String>> + Send,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let records = event.payload.records.into_iter().map(|record| OutboxRecord {
            // A record without a sequence number cannot be resumed from; it is named by its
            // event id, which Lambda does not know, and so fails the whole batch — never lost.
            position: record.change.sequence_number.unwrap_or(record.event_id),
            writer: writer_in_image(&record.change.new_image),
            event: envelope_in_image(record.change.new_image),
        });
        let relayed = relay(records.collect());
        async move {
            let mut response = DynamoDbEventResponse::default();
            if let Some(position) = relayed.await {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(position);
                response.batch_item_failures.push(failure);
            }
            Ok::<_, Diagnostic>(response)
        }
    }))
    .await
}
