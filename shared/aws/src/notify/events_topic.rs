//! Publishing domain events to the events topic.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use mizan::kernel::events::Envelope;
use mizan::kernel::failures::SendError;
use mizan::kernel::ports::EventPublisher;

#[derive(Debug, Clone)]
pub struct EventsTopic {
    client: Client,
    topic_arn: String,
}

impl EventsTopic {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }
}

impl EventPublisher for EventsTopic {
    async fn publish(&self, envelope: &Envelope) -> Result<(), SendError> {
        let message = serde_json::to_string(envelope).map_err(|_| SendError("encode".into()))?;
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(envelope.event.type_name())
            .build()
            .map_err(|_| SendError("build-attribute".into()))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message)
            .message_attributes("type", kind)
            .send()
            .await
            .map_err(|e| crate::notify::send_error(&e))?;
        Ok(())
    }
}
