//! Sending SMS through SNS.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use mizan::accounts::contact::IranMobile;
use mizan::kernel::failures::SendError;

#[derive(Debug, Clone)]
pub struct SmsSender {
    client: Client,
}

impl SmsSender {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Sends a transactional SMS (delivered ahead of promotional traffic); returns its message id.
    pub async fn send(&self, to: &IranMobile, text: String) -> Result<String, SendError> {
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|_| SendError("build-attribute".into()))?;
        let sent = self
            .client
            .publish()
            .phone_number(to.as_e164())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", transactional)
            .send()
            .await
            .map_err(|e| crate::notify::send_error(&e))?;
        Ok(sent.message_id.unwrap_or_default())
    }

    /// Whether the number opted out of SMS at the carrier (replying STOP): marketing honours it
    /// as well as the customer's settings.
    pub async fn opted_out(&self, phone: &IranMobile) -> Result<bool, SendError> {
        let answer = self
            .client
            .check_if_phone_number_is_opted_out()
            .phone_number(phone.as_e164())
            .send()
            .await
            .map_err(|e| crate::notify::send_error(&e))?;
        Ok(answer.is_opted_out)
    }
}
