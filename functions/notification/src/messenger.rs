//! The messenger: each message rendered from the function's templates and handed to SES or SNS.

use mizan::accounts::account::Contacts;
use mizan::accounts::consent::{Channel, Unsubscribe, UnsubscribeKeys};
use mizan::accounts::contact::IranMobile;
use mizan::accounts::verification::ContactKind;
use mizan::kernel::clock::now;
use mizan::kernel::failures::SendError;
use mizan::kernel::ids::AccountId;
use mizan::messaging::delivery::DeliveryError;
use mizan::messaging::notifications::Message;
use mizan::messaging::ports::Messenger;
use mizan_aws::notify::email::Mailer;
use mizan_aws::notify::sms::SmsSender;

use crate::templates;

pub struct TemplatedMessages {
    pub mailer: Mailer,
    pub sms: SmsSender,
    /// Where links in messages point (STOREFRONT_URL), without a trailing slash.
    pub storefront_url: String,
    /// The public HTTPS address of the API (PUBLIC_API_URL): unsubscribe links point there.
    pub api_url: String,
    pub unsubscribe_keys: UnsubscribeKeys,
}

/// A template that did not render, or a provider that refused the message.
enum Failure {
    Render(askama::Error),
    Send(SendError),
}

impl From<askama::Error> for Failure {
    fn from(error: askama::Error) -> Self {
        Self::Render(error)
    }
}

impl From<SendError> for Failure {
    fn from(error: SendError) -> Self {
        Self::Send(error)
    }
}

impl Messenger for TemplatedMessages {
    async fn send(&self, contacts: &Contacts, message: Message) -> Result<String, DeliveryError> {
        self.render_and_send(contacts, message).await.map_err(|failure| match failure {
            Failure::Render(error) => DeliveryError::Render(error.to_string()),
            Failure::Send(error) => DeliveryError::Send(error),
        })
    }

    async fn sms_opted_out(&self, phone: &IranMobile) -> Result<bool, SendError> {
        self.sms.opted_out(phone).await
    }
}

impl TemplatedMessages {
    /// The one-click link of a marketing message (P7).
    fn unsubscribe_link(&self, account: AccountId, channel: Channel) -> String {
        let grant = Unsubscribe { account, channel, issued_at: now() };
        format!("{}/unsubscribe?token={}", self.api_url, self.unsubscribe_keys.issue(grant))
    }

    /// Where a customer asks for a new password: what a notice of a change they did not make
    /// points to.
    fn reset_page(&self) -> String {
        format!("{}/password/reset", self.storefront_url)
    }

    async fn render_and_send(&self, contacts: &Contacts, message: Message) -> Result<String, Failure> {
        match message {
            Message::EmailVerification { token } => {
                let link = format!("{}/verify-email?token={token}", self.storefront_url);
                Ok(self.mailer.send(&contacts.email, templates::email_verification(&link)?).await?)
            }
            Message::PasswordReset { token } => {
                let link = format!("{}/password/reset?token={token}", self.storefront_url);
                Ok(self.mailer.send(&contacts.email, templates::password_reset(&contacts.full_name, &link)?).await?)
            }
            Message::NewEmailProof { token, to } => {
                let link = format!("{}/email/change?token={token}", self.storefront_url);
                Ok(self.mailer.send(&to, templates::new_email_proof(&link)?).await?)
            }
            Message::NewPhoneProof { code, to } => {
                Ok(self.sms.send(&to, templates::phone_verification(&code)?).await?)
            }
            Message::ContactChangeNotice { contact: ContactKind::Email } => {
                let notice = templates::email_change_notice(&contacts.full_name, &self.reset_page())?;
                Ok(self.mailer.send(&contacts.email, notice).await?)
            }
            Message::ContactChangeNotice { contact: ContactKind::Phone } => {
                Ok(self.sms.send(&contacts.phone, templates::phone_change_notice()?).await?)
            }
            Message::PasswordChangedNotice => {
                let notice = templates::password_changed(&contacts.full_name, &self.reset_page())?;
                Ok(self.mailer.send(&contacts.email, notice).await?)
            }
            Message::ExistingAccountNotice => {
                let login = format!("{}/login", self.storefront_url);
                Ok(self.mailer.send(&contacts.email, templates::existing_account(&contacts.full_name, &login)?).await?)
            }
            Message::Campaign { subject, text, channel: Channel::Email } => {
                let unsubscribe = self.unsubscribe_link(contacts.id, Channel::Email);
                let message = templates::campaign(&contacts.full_name, &subject, &text, &unsubscribe)?;
                Ok(self.mailer.send_marketing(&contacts.email, message, &unsubscribe).await?)
            }
            Message::Campaign { text, channel: Channel::Sms, .. } => {
                Ok(self.sms.send(&contacts.phone, templates::campaign_sms(&text)?).await?)
            }
            Message::PhoneVerification { code } => {
                Ok(self.sms.send(&contacts.phone, templates::phone_verification(&code)?).await?)
            }
            Message::Order { order_id, news, channel: Channel::Email } => {
                let link = format!("{}/orders/{order_id}", self.storefront_url);
                let email = templates::order_news(&contacts.full_name, order_id, &news, &link)?;
                Ok(self.mailer.send(&contacts.email, email).await?)
            }
            Message::Order { order_id, news, channel: Channel::Sms } => {
                Ok(self.sms.send(&contacts.phone, templates::order_news_sms(order_id, &news)?).await?)
            }
            Message::InvoiceIssued { order_id } => {
                let link = format!("{}/orders/{order_id}/invoice", self.storefront_url);
                Ok(self
                    .mailer
                    .send(&contacts.email, templates::invoice_issued(&contacts.full_name, order_id, &link)?)
                    .await?)
            }
        }
    }
}
