//! Sending email through SESv2.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::SendError;
use crate::contact::Email;

/// A rendered email: a Persian subject, an HTML part and its plain-text twin.
pub struct EmailMessage {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Mailer {
    client: Client,
    from: String,
}

fn utf8(data: String) -> Result<Content, SendError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|_| SendError("build-content".into()))
}

impl Mailer {
    /// `from` is the sender's address (SENDER_EMAIL), an identity verified in SES.
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self { client, from: from.into() }
    }

    /// Sends one message to one recipient; returns the provider's message id.
    pub async fn send(&self, to: &Email, message: EmailMessage) -> Result<String, SendError> {
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(utf8(message.subject)?)
                    .body(Body::builder().html(utf8(message.html)?).text(utf8(message.text)?).build())
                    .build(),
            )
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(content)
            .send()
            .await
            .map_err(|e| SendError::from_sdk(&e))?;
        Ok(sent.message_id.unwrap_or_default())
    }
}
