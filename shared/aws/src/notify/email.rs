//! Sending email through SESv2.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, RawMessage};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use mizan::accounts::contact::Email;
use mizan::kernel::failures::SendError;

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
            .map_err(|e| crate::notify::send_error(&e))?;
        Ok(sent.message_id.unwrap_or_default())
    }

    /// Sends a marketing message with the RFC 8058 one-click headers (`List-Unsubscribe` with
    /// the HTTPS link, `List-Unsubscribe-Post`). They go in a raw MIME message because SES's
    /// simple content carries no custom headers; SES's DKIM signature then covers them.
    pub async fn send_marketing(
        &self,
        to: &Email,
        message: EmailMessage,
        unsubscribe_url: &str,
    ) -> Result<String, SendError> {
        let raw = mime(&self.from, to.as_str(), &message, unsubscribe_url);
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(
                EmailContent::builder()
                    .raw(
                        RawMessage::builder()
                            .data(Blob::new(raw))
                            .build()
                            .map_err(|_| SendError("build-raw".into()))?,
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| crate::notify::send_error(&e))?;
        Ok(sent.message_id.unwrap_or_default())
    }
}

/// A multipart/alternative message (plain text, then HTML), UTF-8, base64-encoded parts, the
/// subject RFC 2047-encoded: Persian survives every relay.
fn mime(from: &str, to: &str, message: &EmailMessage, unsubscribe_url: &str) -> Vec<u8> {
    let boundary = format!("mizan-{}", uuid::Uuid::new_v4().simple());
    let wrapped = |text: &str| {
        STANDARD
            .encode(text)
            .as_bytes()
            .chunks(76)
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: =?UTF-8?B?{subject}?=\r\nMIME-Version: 1.0\r\n\
         List-Unsubscribe: <{unsubscribe_url}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
         Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{html}\r\n\
         --{boundary}--\r\n",
        subject = STANDARD.encode(&message.subject),
        text = wrapped(&message.text),
        html = wrapped(&message.html),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p7_marketing_mail_carries_both_one_click_headers_before_its_body() {
        let message = EmailMessage {
            subject: "قهوهٔ تازه".into(), html: "<p>سلام</p>".into(), text: "سلام".into()
        };
        let raw = String::from_utf8(mime(
            "no-reply@mizancoffee.ir",
            "a@example.com",
            &message,
            "https://x/unsubscribe?token=t",
        ))
        .unwrap();
        let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(headers.contains("List-Unsubscribe: <https://x/unsubscribe?token=t>\r\n"));
        assert!(headers.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(headers.contains(&format!("Subject: =?UTF-8?B?{}?=", STANDARD.encode("قهوهٔ تازه"))));
        assert!(body.contains(&STANDARD.encode("سلام")));
    }
}
