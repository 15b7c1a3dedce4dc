//! The relay function: the outbox table's stream (new outbox items) in, the events topic out.
//! Every function keeps its events in the outbox in the transaction of the change they report;
//! only this function publishes them.

use mizan::kernel::relay;
use mizan_aws::lambda::config;
use mizan_aws::notify::events_topic::EventsTopic;

// One thread: the records of a batch are published one after another, in stream order.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let topic = EventsTopic::new(aws_sdk_sns::Client::new(&aws), config::required("EVENTS_TOPIC_ARN")?);
    mizan_aws::lambda::outbox_stream::serve(|records| relay::relay(&topic, records)).await
}
