//! The ports every context uses: publishing a domain event, and recording where a request came
//! from (P14).

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::kernel::events::Envelope;
use crate::kernel::failures::{SendError, StoreError};
use crate::kernel::ids::AccountId;

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
