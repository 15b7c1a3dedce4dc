//! Sending what domain events call for, each message exactly once (P6, P7, P9): every message
//! an event calls for, and every campaign page handed on, is claimed in the send log before it
//! goes, so that a redelivered event or page sends nothing twice.

use std::future::Future;

use time::OffsetDateTime;

use crate::accounts::account::Contacts;
use crate::accounts::consent::Channel;
use crate::accounts::ports::AccountStore;
use crate::kernel::clock::Running;
use crate::kernel::events::Envelope;
use crate::kernel::failures::{SendError, StoreError};
use crate::messaging::campaign::{CampaignPace, CampaignPage, CampaignRates};
use crate::messaging::notifications::{self, Message};
use crate::messaging::ports::{CampaignAudience, CampaignQueue, Claim, Deliveries, Messenger};

/// Fails the invocation, so that it is retried and, after its retries, dead-lettered with
/// everything needed to replay it.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("event {0}: a message or page is being sent by another run")]
    InFlight(uuid::Uuid),
    #[error("a message could not be rendered: {0}")]
    Render(String),
}

/// What sending touches: the accounts (contacts and the campaign audience), the send log, the
/// campaign-pages queue, the messenger, and the campaign's pace.
pub struct Delivery<'a, A, D, Q, M> {
    pub accounts: &'a A,
    pub deliveries: &'a D,
    pub pages: &'a Q,
    pub messenger: &'a M,
    pub rates: &'a CampaignRates,
}

impl<A, D, Q, M> Delivery<'_, A, D, Q, M>
where
    A: AccountStore + CampaignAudience,
    D: Deliveries,
    Q: CampaignQueue,
    M: Messenger,
{
    /// The messages one event calls for, to its account's contacts as they are now; a campaign's
    /// first page handed on.
    pub async fn deliver(&self, envelope: &Envelope, now: OffsetDateTime) -> Result<(), DeliveryError> {
        let clock = Running::from(now);
        let Some(account) = envelope.event.account_id() else {
            // A campaign is too large for one invocation: its pages go through the queue.
            return self.hand_on(&CampaignPage::first(envelope.clone()), &clock).await;
        };
        let Some(contacts) = self.accounts.contacts(account).await? else {
            tracing::info!(event = %envelope.event_id, %account, "the account no longer exists; nothing to send");
            return Ok(());
        };
        self.deliver_to(envelope, &contacts, None, &clock).await
    }

    /// One page of a campaign: its consenting accounts at the providers' pace, then the next page
    /// handed on. The page's scan only says whom to consider: each account's contacts and consent
    /// are read again, consistently, right before its messages go, so an unsubscribe or a closure
    /// stops the very next send.
    ///
    /// A recipient whose message fails does not hold the campaign up: the rest of the page is sent
    /// and the next page handed on, then the invocation fails so that the page is retried (what was
    /// sent is skipped) and, after its retries, lands in the dead-letter queue to be replayed.
    pub async fn deliver_page(&self, page: &CampaignPage, now: OffsetDateTime) -> Result<(), DeliveryError> {
        // Sending a page takes a while at the providers' pace: each claim is stamped when it is
        // made, so that its staleness counts from then.
        let clock = Running::from(now);
        let (audience, next) = self.accounts.audience(page.start.as_ref(), self.rates.page_size()).await?;
        let mut pace = self.rates.pace();
        let mut first_failure = None;
        for account in audience {
            let delivered = match self.accounts.contacts(account).await {
                Ok(Some(contacts)) => self.deliver_to(&page.campaign, &contacts, Some(&mut pace), &clock).await,
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
            Some(start) => self.hand_on(&page.next(start), &clock).await?,
            None if first_failure.is_none() => {
                self.deliveries.record_campaign_delivered(event_id, page.number, clock.now()).await?;
                tracing::info!(event = %event_id, pages = page.number, "campaign delivered");
            }
            None => {}
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Queues a page, once per campaign and page number.
    async fn hand_on(&self, page: &CampaignPage, clock: &Running) -> Result<(), DeliveryError> {
        self.once(page.campaign.event_id, &page.hand_on_key(), clock, async { Ok(self.pages.hand_on(page).await?) })
            .await
    }

    async fn deliver_to(
        &self,
        envelope: &Envelope,
        contacts: &Contacts,
        mut pace: Option<&mut CampaignPace>,
        clock: &Running,
    ) -> Result<(), DeliveryError> {
        for message in notifications::messages_for(&envelope.event, contacts) {
            let channel = message.channel();
            // The carrier's opt-out list wins over everything for marketing SMS.
            if matches!(message, Message::Campaign { channel: Channel::Sms, .. })
                && self.messenger.sms_opted_out(&contacts.phone).await?
            {
                continue;
            }
            let recipient = format!("{}#{}", message.slot(), contacts.id);
            let paced = pace.as_deref_mut();
            self.once(envelope.event_id, &recipient, clock, async move {
                if let Some(pace) = paced {
                    pace.wait_turn(channel).await;
                }
                self.messenger.send(contacts, message).await
            })
            .await?;
        }
        Ok(())
    }

    /// Does `send` unless it was done already for this event: claimed before, marked after, given
    /// back if it failed. `send` answers the provider's message id.
    async fn once(
        &self,
        event_id: uuid::Uuid,
        delivery: &str,
        clock: &Running,
        send: impl Future<Output = Result<String, DeliveryError>>,
    ) -> Result<(), DeliveryError> {
        match self.deliveries.claim(event_id, delivery, clock.now()).await? {
            Claim::Granted => {}
            Claim::Sent => {
                tracing::info!(event = %event_id, delivery = kind(delivery), "already done; skipped");
                return Ok(());
            }
            // Failing makes Lambda retry later: by then the other run has finished, or its claim
            // has gone stale and this run sends. Reporting success here could lose the message.
            Claim::InFlight => return Err(DeliveryError::InFlight(event_id)),
        }
        match send.await {
            Ok(message_id) => {
                // It went out: failing now would have a retry send it again once the claim is stale.
                // An unmarked claim stays `sending` and expires with the rest of the log.
                match self.deliveries.mark_sent(event_id, delivery, &message_id).await {
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
                if let Err(release) = self.deliveries.release(event_id, delivery).await {
                    tracing::error!(event = %event_id, error = %release, "could not release a failed claim");
                }
                Err(error)
            }
        }
    }
}

/// What a delivery key says without the account it names: `email`, `sms` or `page`.
fn kind(delivery: &str) -> &str {
    delivery.split('#').next().unwrap_or(delivery)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::account::MarketingConsent;
    use crate::accounts::contact::Email;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{code_hasher, limits, signup};
    use crate::kernel::events::DomainEvent;
    use crate::kernel::ids::{AccountId, OrderId};
    use crate::kernel::money::Rial;
    use crate::messaging::campaign::SendsPerSecond;
    use crate::messaging::ports::STALE_CLAIM;
    use crate::messaging::testing::{InMemoryDeliveries, QueuedPages, SentMessages};

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    struct World {
        accounts: InMemoryAccounts,
        deliveries: InMemoryDeliveries,
        pages: QueuedPages,
        messenger: SentMessages,
        rates: CampaignRates,
    }

    impl World {
        /// One send a second per channel: twenty accounts a page.
        fn new() -> Self {
            let one = SendsPerSecond::parse("1").unwrap();
            Self {
                accounts: InMemoryAccounts::default(),
                deliveries: InMemoryDeliveries::default(),
                pages: QueuedPages::default(),
                messenger: SentMessages::default(),
                rates: CampaignRates { email: one, sms: one },
            }
        }

        fn delivery(&self) -> Delivery<'_, InMemoryAccounts, InMemoryDeliveries, QueuedPages, SentMessages> {
            Delivery {
                accounts: &self.accounts,
                deliveries: &self.deliveries,
                pages: &self.pages,
                messenger: &self.messenger,
                rates: &self.rates,
            }
        }

        async fn customer(&self, email: &str, verified: bool, marketing: MarketingConsent) -> AccountId {
            register(&self.accounts, &self.accounts.outbox, &code_hasher(), &limits(), signup(email), None, now())
                .await
                .unwrap();
            let id = self.accounts.account_id_for(&Email::parse(email).unwrap()).await.unwrap().unwrap();
            if verified {
                self.accounts.verify_contacts(id);
            }
            self.accounts.consent(id, marketing);
            id
        }
    }

    fn order_placed(account: AccountId) -> Envelope {
        let order_id = OrderId::for_checkout(account, "k1");
        let event = DomainEvent::OrderPlaced { order_id, account_id: account, total: Rial::new(18_480_000) };
        Envelope::once_per(&format!("order-placed#{order_id}"), event, now())
    }

    fn campaign() -> Envelope {
        let event = DomainEvent::CampaignPublished {
            campaign_id: uuid::Uuid::new_v4(),
            subject: "قهوهٔ تازهٔ کنیا".to_owned(),
            text: "برداشت تازه رسید.".to_owned(),
        };
        Envelope::new(event, now())
    }

    #[tokio::test]
    async fn p9_an_order_confirmation_goes_to_the_proven_contacts_once_however_often_it_is_delivered() {
        let world = World::new();
        let id = world.customer("m@example.com", true, MarketingConsent::default()).await;
        let placed = order_placed(id);
        for _ in 0..3 {
            world.delivery().deliver(&placed, now()).await.unwrap();
        }
        let channels: Vec<Channel> = world.messenger.sent().into_iter().map(|(_, channel, _)| channel).collect();
        assert_eq!(channels, [Channel::Email, Channel::Sms]);
    }

    #[tokio::test]
    async fn a_refused_message_is_given_back_and_its_retry_sends_it_once() {
        let world = World::new();
        let id = world.customer("m@example.com", true, MarketingConsent::default()).await;
        let placed = order_placed(id);
        *world.messenger.refusing.lock().unwrap() = Some(id);
        assert!(matches!(world.delivery().deliver(&placed, now()).await, Err(DeliveryError::Send(_))));
        *world.messenger.refusing.lock().unwrap() = None;
        world.delivery().deliver(&placed, now()).await.unwrap();
        assert_eq!(world.messenger.sent().len(), 2);
    }

    #[tokio::test]
    async fn a_message_another_run_is_sending_fails_this_run_until_its_claim_goes_stale() {
        let world = World::new();
        let id = world.customer("m@example.com", true, MarketingConsent::default()).await;
        let placed = order_placed(id);
        world.deliveries.crashed_while_sending(placed.event_id, &format!("email#{id}"), now());
        assert!(matches!(world.delivery().deliver(&placed, now()).await, Err(DeliveryError::InFlight(_))));
        world.delivery().deliver(&placed, now() + STALE_CLAIM).await.unwrap();
        assert_eq!(world.messenger.sent().len(), 2, "the stale claim is taken over");
    }

    #[tokio::test(start_paused = true)]
    async fn p6_p7_p9_a_campaign_reaches_proven_consenting_contacts_only() {
        let world = World::new();
        let email_only = MarketingConsent { email: true, sms: false };
        let wants = world.customer("wants@example.com", true, email_only).await;
        world.customer("declines@example.com", true, MarketingConsent::default()).await;
        world.customer("unproven@example.com", false, MarketingConsent { email: true, sms: true }).await;
        let published = campaign();
        world.delivery().deliver(&published, now()).await.unwrap();
        let first = world.pages.pages();
        assert_eq!(first.len(), 1, "the campaign's first page is handed on, not sent inline");
        world.delivery().deliver_page(&first[0], now()).await.unwrap();
        assert_eq!(world.messenger.sent(), [(wants, Channel::Email, "Campaign".to_owned())]);
        assert_eq!(world.deliveries.campaign_pages(published.event_id), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_campaign_goes_page_by_page_and_a_retried_page_sends_nobody_a_second_copy() {
        let world = World::new();
        let consent = MarketingConsent { email: true, sms: false };
        for i in 0..25 {
            world.customer(&format!("c{i}@example.com"), true, consent).await;
        }
        let published = campaign();
        world.delivery().deliver(&published, now()).await.unwrap();
        let first = world.pages.pages()[0].clone();
        world.delivery().deliver_page(&first, now()).await.unwrap();
        world.delivery().deliver_page(&first, now()).await.unwrap();
        assert_eq!(world.messenger.sent().len(), 20);
        let pages = world.pages.pages();
        assert_eq!(pages.len(), 2, "the second page is handed on once");
        assert_eq!(world.deliveries.campaign_pages(published.event_id), None);
        world.delivery().deliver_page(&pages[1], now()).await.unwrap();
        assert_eq!(world.messenger.sent().len(), 25);
        assert_eq!(world.deliveries.campaign_pages(published.event_id), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_recipient_does_not_hold_the_page_up_but_fails_it_for_a_retry() {
        let world = World::new();
        let consent = MarketingConsent { email: true, sms: false };
        let stuck = world.customer("stuck@example.com", true, consent).await;
        world.customer("fine@example.com", true, consent).await;
        let published = campaign();
        world.delivery().deliver(&published, now()).await.unwrap();
        let page = world.pages.pages()[0].clone();
        *world.messenger.refusing.lock().unwrap() = Some(stuck);
        assert!(world.delivery().deliver_page(&page, now()).await.is_err());
        assert_eq!(world.messenger.sent().len(), 1, "the other recipient got theirs");
        *world.messenger.refusing.lock().unwrap() = None;
        world.delivery().deliver_page(&page, now()).await.unwrap();
        assert_eq!(world.messenger.sent().len(), 2, "the retry sends the missing one only");
    }

    #[tokio::test(start_paused = true)]
    async fn p7_a_number_on_the_carriers_opt_out_list_gets_no_marketing_sms() {
        let world = World::new();
        world.customer("m@example.com", true, MarketingConsent { email: false, sms: true }).await;
        world.messenger.opted_out.lock().unwrap().insert("+989123456789".to_owned());
        world.delivery().deliver(&campaign(), now()).await.unwrap();
        let page = world.pages.pages()[0].clone();
        world.delivery().deliver_page(&page, now()).await.unwrap();
        assert!(world.messenger.sent().is_empty());
    }
}
