//! The send log, the campaign audience and queue, and a messenger, in memory: claims are taken
//! once until they go stale, the audience pages through consenting accounts, the messenger keeps
//! what it sent and can be told to fail for one account.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::accounts::account::Contacts;
use crate::accounts::consent::Channel;
use crate::accounts::contact::IranMobile;
use crate::accounts::ports::AccountStore;
use crate::accounts::testing::InMemoryAccounts;
use crate::kernel::failures::{SendError, StoreError};
use crate::kernel::ids::AccountId;
use crate::messaging::campaign::{AudienceCursor, CampaignPage};
use crate::messaging::delivery::DeliveryError;
use crate::messaging::notifications::Message;
use crate::messaging::ports::{CampaignAudience, CampaignQueue, Claim, Deliveries, Messenger, STALE_CLAIM};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Sending(OffsetDateTime),
    Sent,
}

#[derive(Default)]
pub struct InMemoryDeliveries {
    entries: Mutex<HashMap<(uuid::Uuid, String), Entry>>,
    delivered: Mutex<HashMap<uuid::Uuid, u32>>,
}

impl InMemoryDeliveries {
    /// A claim left by a run that died mid-send.
    pub fn crashed_while_sending(&self, event_id: uuid::Uuid, delivery: &str, at: OffsetDateTime) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((event_id, delivery.to_owned()), Entry::Sending(at));
    }

    /// The pages of a campaign recorded as delivered.
    pub fn campaign_pages(&self, event_id: uuid::Uuid) -> Option<u32> {
        self.delivered.lock().unwrap_or_else(PoisonError::into_inner).get(&event_id).copied()
    }
}

impl Deliveries for InMemoryDeliveries {
    async fn claim(&self, event_id: uuid::Uuid, delivery: &str, now: OffsetDateTime) -> Result<Claim, StoreError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (event_id, delivery.to_owned());
        match entries.get(&key) {
            Some(Entry::Sent) => Ok(Claim::Sent),
            Some(Entry::Sending(at)) if now - *at < STALE_CLAIM => Ok(Claim::InFlight),
            _ => {
                entries.insert(key, Entry::Sending(now));
                Ok(Claim::Granted)
            }
        }
    }

    async fn mark_sent(&self, event_id: uuid::Uuid, delivery: &str, _message_id: &str) -> Result<(), StoreError> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((event_id, delivery.to_owned()), Entry::Sent);
        Ok(())
    }

    async fn release(&self, event_id: uuid::Uuid, delivery: &str) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(entries.get(&(event_id, delivery.to_owned())), Some(Entry::Sending(_))) {
            entries.remove(&(event_id, delivery.to_owned()));
        }
        Ok(())
    }

    async fn record_campaign_delivered(
        &self,
        event_id: uuid::Uuid,
        pages: u32,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.delivered.lock().unwrap_or_else(PoisonError::into_inner).insert(event_id, pages);
        Ok(())
    }
}

/// The accounts that consent to some marketing, in id order; the cursor is the last id read.
impl CampaignAudience for InMemoryAccounts {
    async fn audience(
        &self,
        start: Option<&AudienceCursor>,
        limit: u32,
    ) -> Result<(Vec<AccountId>, Option<AudienceCursor>), StoreError> {
        let mut ids: Vec<AccountId> = Vec::new();
        for account in self.all() {
            let consents = self.contacts(account.id).await?.is_some_and(|c| c.marketing.email || c.marketing.sms);
            if consents {
                ids.push(account.id);
            }
        }
        ids.sort_by_key(|id| id.to_string());
        let after = start.map(AudienceCursor::key);
        let page: Vec<AccountId> = ids
            .into_iter()
            .filter(|id| after.is_none_or(|after| id.to_string().as_str() > after))
            .take(usize::try_from(limit).unwrap_or(usize::MAX) + 1)
            .collect();
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if page.len() > limit {
            let page = page[..limit].to_vec();
            let next = page.last().map(|id| AudienceCursor::from_key(id.to_string()));
            return Ok((page, next));
        }
        Ok((page, None))
    }
}

/// The campaign-pages queue: every page handed on.
#[derive(Default)]
pub struct QueuedPages(Mutex<Vec<CampaignPage>>);

impl QueuedPages {
    pub fn pages(&self) -> Vec<CampaignPage> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl CampaignQueue for QueuedPages {
    async fn hand_on(&self, page: &CampaignPage) -> Result<String, SendError> {
        let mut pages = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        pages.push(page.clone());
        Ok(format!("page-{}", pages.len()))
    }
}

/// What went out, per account and channel; a provider that refuses one account's messages; the
/// carrier's opt-out list.
#[derive(Default)]
pub struct SentMessages {
    sent: Mutex<Vec<(AccountId, Channel, String)>>,
    pub refusing: Mutex<Option<AccountId>>,
    pub opted_out: Mutex<HashSet<String>>,
}

impl SentMessages {
    /// (account, channel, message kind) of every message that went out, in order.
    pub fn sent(&self) -> Vec<(AccountId, Channel, String)> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Messenger for SentMessages {
    async fn send(&self, contacts: &Contacts, message: Message) -> Result<String, DeliveryError> {
        if *self.refusing.lock().unwrap_or_else(PoisonError::into_inner) == Some(contacts.id) {
            return Err(DeliveryError::Send(SendError("Throttling".into())));
        }
        let kind = format!("{message:?}").split([' ', '{']).next().unwrap_or_default().to_owned();
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        sent.push((contacts.id, message.channel(), kind));
        Ok(format!("message-{}", sent.len()))
    }

    async fn sms_opted_out(&self, phone: &IranMobile) -> Result<bool, SendError> {
        Ok(self.opted_out.lock().unwrap_or_else(PoisonError::into_inner).contains(phone.as_e164()))
    }
}
