//! One invocation: an SNS delivery of domain events, or an SQS delivery of a campaign page. Every
//! message an event calls for, and every page handed on, is claimed in the deliveries table
//! before it goes, so that a redelivered event or page sends nothing twice.

use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::SqsEvent;
use mizan::accounts::account::Contacts;
use mizan::accounts::consent::Channel;
use mizan::accounts::ports::AccountStore;
use mizan::kernel::events::Envelope;
use mizan::kernel::failures::SendError;
use mizan::kernel::failures::StoreError;
use mizan::messaging::campaign::{CampaignPace, CampaignPage};
use mizan::messaging::notifications::{self, Message};
use mizan_aws::dynamodb::deliveries::Claim;
use serde_json::Value;
use time::OffsetDateTime;

use crate::Deps;
use crate::templates;

/// Fails the invocation, so Lambda retries it and, after its retries, the event lands in the
/// dead-letter queue with everything needed to replay it.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("{0} could not be read")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("event {0}: a message or page is being sent by another run")]
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

/// The function has two triggers: the events topic (SNS) and the campaign-pages queue (SQS).
pub async fn handle(deps: &Deps, invocation: Value) -> Result<(), NotificationError> {
    let source = invocation.pointer("/Records/0/EventSource").or_else(|| invocation.pointer("/Records/0/eventSource"));
    match source.and_then(Value::as_str) {
        Some("aws:sns") => {
            let event: SnsEvent =
                serde_json::from_value(invocation).map_err(|_| NotificationError::Unreadable("an SNS event".into()))?;
            for record in event.records {
                let envelope: Envelope = serde_json::from_str(&record.sns.message)
                    .map_err(|_| NotificationError::Unreadable(format!("SNS message {}", record.sns.message_id)))?;
                deliver(deps, &envelope).await?;
            }
            Ok(())
        }
        Some("aws:sqs") => {
            let event: SqsEvent =
                serde_json::from_value(invocation).map_err(|_| NotificationError::Unreadable("an SQS event".into()))?;
            for record in event.records {
                let id = record.message_id.unwrap_or_default();
                let page: CampaignPage = record
                    .body
                    .as_deref()
                    .and_then(|body| serde_json::from_str(body).ok())
                    .ok_or_else(|| NotificationError::Unreadable(format!("SQS message {id}")))?;
                deliver_page(deps, &page).await?;
            }
            Ok(())
        }
        _ => Err(NotificationError::Unreadable("an invocation from neither SNS nor SQS".into())),
    }
}

async fn deliver(deps: &Deps, envelope: &Envelope) -> Result<(), NotificationError> {
    let Some(account) = envelope.event.account_id() else {
        // A campaign is too large for one invocation: its pages go through the queue.
        return hand_on(deps, &CampaignPage::first(envelope.clone())).await;
    };
    let Some(contacts) = deps.accounts.contacts(account).await? else {
        tracing::info!(event = %envelope.event_id, %account, "the account no longer exists; nothing to send");
        return Ok(());
    };
    deliver_to(deps, envelope, &contacts, None).await
}

/// One page of a campaign: its consenting accounts at the providers' pace, then the next page
/// handed on. The page's scan only says whom to consider: each account's contacts and consent
/// are read again, consistently, right before its messages go, so an unsubscribe or a closure
/// stops the very next send.
///
/// A recipient whose message fails does not hold the campaign up: the rest of the page is sent
/// and the next page handed on, then the invocation fails so that the page is retried (what was
/// sent is skipped) and, after its retries, lands in the dead-letter queue to be replayed.
async fn deliver_page(deps: &Deps, page: &CampaignPage) -> Result<(), NotificationError> {
    let (audience, next) = deps.accounts.audience(page.start.as_ref(), deps.campaign_rates.page_size()).await?;
    let mut pace = deps.campaign_rates.pace();
    let mut first_failure = None;
    for account in audience {
        let delivered = match deps.accounts.contacts(account).await {
            Ok(Some(contacts)) => deliver_to(deps, &page.campaign, &contacts, Some(&mut pace)).await,
            Ok(None) => Ok(()),
            Err(error) => Err(error.into()),
        };
        if let Err(error) = delivered {
            tracing::error!(event = %page.campaign.event_id, %account, %error, "a recipient failed; the page goes on");
            first_failure.get_or_insert(error);
        }
    }
    let event_id = page.campaign.event_id;
    match next {
        Some(start) => hand_on(deps, &page.next(start)).await?,
        None if first_failure.is_none() => {
            deps.deliveries.record_campaign_delivered(event_id, page.number, OffsetDateTime::now_utc()).await?;
            tracing::info!(event = %event_id, pages = page.number, "campaign delivered");
        }
        None => {}
    }
    first_failure.map_or(Ok(()), Err)
}

/// Queues a page, once per campaign and page number.
async fn hand_on(deps: &Deps, page: &CampaignPage) -> Result<(), NotificationError> {
    once(deps, page.campaign.event_id, &page.hand_on_key(), async { Ok(deps.campaign_pages.hand_on(page).await?) })
        .await
}

async fn deliver_to(
    deps: &Deps,
    envelope: &Envelope,
    contacts: &Contacts,
    mut pace: Option<&mut CampaignPace>,
) -> Result<(), NotificationError> {
    for message in notifications::messages_for(&envelope.event, contacts) {
        let channel = message.channel();
        // The carrier's opt-out list wins over everything for marketing SMS.
        if matches!(message, Message::Campaign { channel: Channel::Sms, .. })
            && deps.sms.opted_out(&contacts.phone).await?
        {
            continue;
        }
        let recipient = format!("{}#{}", channel.as_str(), contacts.id);
        let paced = pace.as_deref_mut();
        once(deps, envelope.event_id, &recipient, async move {
            if let Some(pace) = paced {
                pace.wait_turn(channel).await;
            }
            send(deps, contacts, message).await
        })
        .await?;
    }
    Ok(())
}

/// Does `send` unless it was done already for this event: claimed before, marked after, given
/// back if it failed. `send` answers the provider's message id.
async fn once(
    deps: &Deps,
    event_id: uuid::Uuid,
    delivery: &str,
    send: impl Future<Output = Result<String, NotificationError>>,
) -> Result<(), NotificationError> {
    match deps.deliveries.claim(event_id, delivery, OffsetDateTime::now_utc()).await? {
        Claim::Granted => {}
        Claim::Sent => {
            tracing::info!(event = %event_id, delivery = kind(delivery), "already done; skipped");
            return Ok(());
        }
        // Failing makes Lambda retry later: by then the other run has finished, or its claim
        // has gone stale and this run sends. Reporting success here could lose the message.
        Claim::InFlight => return Err(NotificationError::InFlight(event_id)),
    }
    match send.await {
        Ok(message_id) => {
            // It went out: failing now would have a retry send it again once the claim is stale.
            // An unmarked claim stays `sending` and expires with the rest of the log.
            match deps.deliveries.mark_sent(event_id, delivery, &message_id).await {
                Ok(()) => tracing::info!(event = %event_id, delivery = kind(delivery), %message_id, "sent"),
                Err(error) => {
                    tracing::error!(event = %event_id, delivery = kind(delivery), %message_id, %error, "sent, but not marked")
                }
            }
            Ok(())
        }
        Err(error) => {
            tracing::error!(event = %event_id, delivery = kind(delivery), %error, "send failed; will be retried");
            // Should the release fail too, the claim goes stale and a retry still sends.
            if let Err(release) = deps.deliveries.release(event_id, delivery).await {
                tracing::error!(event = %event_id, error = %release, "could not release a failed claim");
            }
            Err(error)
        }
    }
}

/// What a delivery key says without the account it names: `email`, `sms` or `page`.
fn kind(delivery: &str) -> &str {
    delivery.split('#').next().unwrap_or(delivery)
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
