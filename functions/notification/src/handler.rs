//! One SNS delivery: each record's event, the messages the domain says it calls for, each
//! claimed in the deliveries table before it is sent so that a redelivered event sends nothing
//! twice.

use aws_lambda_events::sns::SnsEvent;
use mizan::account::Contacts;
use mizan::events::Envelope;
use mizan::messaging::SendError;
use mizan::notifications::{self, Channel, Message};
use mizan::storage::StoreError;
use mizan::storage::deliveries::Claim;
use time::OffsetDateTime;

use crate::Deps;
use crate::templates;

/// Fails the invocation, so Lambda retries it and, after its retries, the event lands in the
/// dead-letter queue with everything needed to replay it.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("an SNS message is not a domain event (message id {0})")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("event {0}: a message is being sent by another run")]
    InFlight(uuid::Uuid),
    #[error("a template could not be rendered: {0}")]
    Template(#[from] askama::Error),
}

/// What Lambda records of a failed invocation: our error messages carry ids and codes only.
impl From<NotificationError> for lambda_runtime::Diagnostic {
    fn from(error: NotificationError) -> Self {
        Self { error_type: "NotificationError".to_owned(), error_message: error.to_string() }
    }
}

pub async fn handle(deps: &Deps, event: SnsEvent) -> Result<(), NotificationError> {
    for record in event.records {
        let envelope: Envelope = serde_json::from_str(&record.sns.message)
            .map_err(|_| NotificationError::Unreadable(record.sns.message_id.clone()))?;
        deliver(deps, &envelope).await?;
    }
    Ok(())
}

async fn deliver(deps: &Deps, envelope: &Envelope) -> Result<(), NotificationError> {
    let Some(account) = envelope.event.account_id() else { return deliver_campaign(deps, envelope).await };
    let Some(contacts) = deps.accounts.contacts(account).await? else {
        tracing::info!(event = %envelope.event_id, %account, "the account no longer exists; nothing to send");
        return Ok(());
    };
    deliver_to(deps, envelope, &contacts).await
}

/// A campaign goes through the accounts page by page. Every message is claimed per event,
/// channel and account, so a redelivered or retried campaign resumes where it stopped and sends
/// nobody a second copy; consent is read at send time, so an unsubscribe stops the very next send.
async fn deliver_campaign(deps: &Deps, envelope: &Envelope) -> Result<(), NotificationError> {
    let mut start = None;
    let mut pages = 0_u32;
    loop {
        let (audience, next) = deps.accounts.audience(start).await?;
        for contacts in &audience {
            deliver_to(deps, envelope, contacts).await?;
        }
        pages += 1;
        start = next;
        if start.is_none() {
            tracing::info!(event = %envelope.event_id, pages, "campaign delivered");
            return Ok(());
        }
    }
}

async fn deliver_to(deps: &Deps, envelope: &Envelope, contacts: &Contacts) -> Result<(), NotificationError> {
    for message in notifications::messages_for(&envelope.event, contacts) {
        let channel = message.channel();
        // The carrier's opt-out list wins over everything for marketing SMS.
        if matches!(message, Message::Campaign { channel: Channel::Sms, .. })
            && deps.sms.opted_out(&contacts.phone).await?
        {
            continue;
        }
        let recipient = format!("{}#{}", channel.as_str(), contacts.id);
        match deps.deliveries.claim(envelope.event_id, &recipient, OffsetDateTime::now_utc()).await? {
            Claim::Granted => {}
            Claim::Sent => {
                tracing::info!(event = %envelope.event_id, channel = channel.as_str(), "already sent; skipped");
                continue;
            }
            // Failing makes Lambda retry later: by then the other run has finished, or its claim
            // has gone stale and this run sends. Reporting success here could lose the message.
            Claim::InFlight => return Err(NotificationError::InFlight(envelope.event_id)),
        }
        match send(deps, contacts, message).await {
            Ok(message_id) => {
                deps.deliveries.mark_sent(envelope.event_id, &recipient, &message_id).await?;
                tracing::info!(event = %envelope.event_id, channel = channel.as_str(), %message_id, "sent");
            }
            Err(error) => {
                tracing::error!(event = %envelope.event_id, channel = channel.as_str(), %error, "send failed; will be retried");
                // Should the release fail too, the claim goes stale and a retry still sends.
                if let Err(release) = deps.deliveries.release(envelope.event_id, &recipient).await {
                    tracing::error!(event = %envelope.event_id, error = %release, "could not release a failed claim");
                }
                return Err(error);
            }
        }
    }
    Ok(())
}

async fn send(deps: &Deps, contacts: &Contacts, message: Message) -> Result<String, NotificationError> {
    match message {
        Message::EmailVerification { token } => {
            let link = format!("{}/verify-email?token={token}", deps.storefront_url);
            Ok(deps.mailer.send(&contacts.email, templates::email_verification(&contacts.full_name, &link)?).await?)
        }
        Message::ExistingAccountNotice => {
            let login = format!("{}/login", deps.storefront_url);
            Ok(deps.mailer.send(&contacts.email, templates::existing_account(&contacts.full_name, &login)?).await?)
        }
        Message::Campaign { subject, text, channel: Channel::Email } => {
            let unsubscribe = deps.unsubscribe_link(contacts.id, Channel::Email);
            let message = templates::campaign(&contacts.full_name, &subject, &text, &unsubscribe)?;
            Ok(deps.mailer.send_marketing(&contacts.email, message, &unsubscribe).await?)
        }
        Message::Campaign { text, channel: Channel::Sms, .. } => {
            Ok(deps.sms.send(&contacts.phone, templates::campaign_sms(&text)?).await?)
        }
        Message::PhoneVerification { code } => {
            Ok(deps.sms.send(&contacts.phone, templates::phone_verification(&code)?).await?)
        }
        Message::OrderConfirmation { order_id, total, channel: Channel::Email } => {
            let link = format!("{}/orders/{order_id}", deps.storefront_url);
            Ok(deps
                .mailer
                .send(&contacts.email, templates::order_placed(&contacts.full_name, order_id, total, &link)?)
                .await?)
        }
        Message::OrderConfirmation { order_id, total, channel: Channel::Sms } => {
            Ok(deps.sms.send(&contacts.phone, templates::order_placed_sms(order_id, total)?).await?)
        }
        Message::InvoiceIssued { order_id } => {
            let link = format!("{}/orders/{order_id}/invoice", deps.storefront_url);
            Ok(deps
                .mailer
                .send(&contacts.email, templates::invoice_issued(&contacts.full_name, order_id, &link)?)
                .await?)
        }
    }
}
