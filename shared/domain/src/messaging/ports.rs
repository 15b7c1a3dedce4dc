//! What the messaging context needs from the world: the send log that makes every message go
//! once, the campaign audience and its queue of pages, and a messenger that renders and sends one
//! message. Implemented in `mizan-aws` and the notification function; `messaging::testing` keeps
//! them in memory.

use time::{Duration, OffsetDateTime};

use crate::accounts::account::Contacts;
use crate::accounts::contact::IranMobile;
use crate::kernel::failures::{SendError, StoreError};
use crate::kernel::ids::AccountId;
use crate::messaging::campaign::{AudienceCursor, CampaignPage};
use crate::messaging::delivery::DeliveryError;
use crate::messaging::notifications::Message;

/// A claim older than this belongs to a run that died mid-send (the function's timeout is 10 s):
/// the message is sent again. Choosing a possible duplicate over silence, since a lost
/// verification message locks a customer out; a crash between the provider's acceptance and
/// `mark_sent` is the one case that sends twice.
pub const STALE_CLAIM: Duration = Duration::minutes(1);

/// What claiming a delivery came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This run must send it.
    Granted,
    /// It went out already: nothing to do.
    Sent,
    /// Another run is sending it right now (or died doing so, not long ago): this run must
    /// neither send it nor report it done.
    InFlight,
}

/// The send log: one entry per event and delivery (`email#<account>`, `sms#<account>`,
/// `page#<n>`).
pub trait Deliveries {
    /// Claims a delivery before it is made; a claim left by a run that died is taken over once
    /// it has gone stale.
    async fn claim(&self, event_id: uuid::Uuid, delivery: &str, now: OffsetDateTime) -> Result<Claim, StoreError>;

    /// Marks a claimed delivery made, with the provider's message id.
    async fn mark_sent(&self, event_id: uuid::Uuid, delivery: &str, message_id: &str) -> Result<(), StoreError>;

    /// Gives a claim back after a failed send, so that a retry makes it.
    async fn release(&self, event_id: uuid::Uuid, delivery: &str) -> Result<(), StoreError>;

    /// Records that a campaign's last page is done, and how many pages it had.
    async fn record_campaign_delivered(
        &self,
        event_id: uuid::Uuid,
        pages: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// The accounts that consent to marketing on some channel, a page at a time.
pub trait CampaignAudience {
    async fn audience(
        &self,
        start: Option<&AudienceCursor>,
        limit: u32,
    ) -> Result<(Vec<AccountId>, Option<AudienceCursor>), StoreError>;
}

/// The queue a campaign's pages travel through, one invocation each.
pub trait CampaignQueue {
    /// Queues a page; the queue's message id.
    async fn hand_on(&self, page: &CampaignPage) -> Result<String, SendError>;
}

/// Renders one message for its recipient and hands it to its provider.
pub trait Messenger {
    /// The provider's message id.
    async fn send(&self, contacts: &Contacts, message: Message) -> Result<String, DeliveryError>;

    /// Whether the carrier's opt-out list holds the number: it wins over consent for marketing.
    async fn sms_opted_out(&self, phone: &IranMobile) -> Result<bool, SendError>;
}
