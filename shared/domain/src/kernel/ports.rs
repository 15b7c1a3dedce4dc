//! The ports every context uses: keeping a domain event in the outbox, publishing it from there,
//! and recording where a request came from (P14).

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::kernel::events::Envelope;
use crate::kernel::failures::{SendError, StoreError};
use crate::kernel::ids::AccountId;

/// Where domain events wait for the relay that publishes them. An event that reports a change is
/// written by the store of that change, in the change's own transaction (the write ports take it
/// along); this port is for events that report nothing else, such as a notice.
pub trait Outbox {
    /// Keeps one event for publishing. Keeping an event whose id is already kept changes nothing.
    async fn keep(&self, envelope: &Envelope) -> Result<(), StoreError>;
}

/// The events topic, which only the relay publishes to: nothing publishes an event that is not
/// already kept in the outbox.
pub trait EventPublisher {
    /// Hands one event to its subscribers. Its id makes a retried publish harmless: consumers
    /// act once per id.
    async fn publish(&self, envelope: &Envelope) -> Result<(), SendError>;
}

/// A request whose source address is kept for a while (P14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedRequest {
    Login,
    Checkout,
}

impl RecordedRequest {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Checkout => "checkout",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Login, Self::Checkout].into_iter().find(|request| request.as_str() == text)
    }
}

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRecord {
    pub at: OffsetDateTime,
    pub request: RecordedRequest,
    pub ip: IpAddr,
}

pub trait IpRecorder {
    async fn record(
        &self,
        account: AccountId,
        request: RecordedRequest,
        ip: IpAddr,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}
