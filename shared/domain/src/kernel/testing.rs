//! In-memory fakes of the kernel's ports, for unit tests of use cases: they keep what was
//! handed to them and can be told to fail as the real providers do.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::{SendError, StoreError};
use crate::kernel::ids::AccountId;
use crate::kernel::ports::{EventPublisher, IpRecorder, Outbox, RecordedRequest};

/// The outbox: every event kept, in order (an id kept twice is kept once); `down` refuses them
/// all. The in-memory stores keep the events of their writes here, as the tables do in the
/// outbox table within the write's transaction.
#[derive(Default)]
pub struct OutboxEvents {
    envelopes: Mutex<Vec<Envelope>>,
    pub down: bool,
}

impl OutboxEvents {
    pub fn down() -> Self {
        Self { down: true, ..Self::default() }
    }

    pub fn envelopes(&self) -> Vec<Envelope> {
        self.envelopes.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn events(&self) -> Vec<DomainEvent> {
        self.envelopes().into_iter().map(|envelope| envelope.event).collect()
    }

    /// The newest event `pick` recognises, as it picks it (a token or code from the messages a
    /// use case asked for).
    pub fn newest<T>(&self, pick: impl FnMut(DomainEvent) -> Option<T>) -> Option<T> {
        self.events().into_iter().rev().find_map(pick)
    }

    /// Fails as the outbox table would when it cannot be written: a store checks this before it
    /// changes anything, so that its write and its events happen together or not at all.
    pub fn writable(&self) -> Result<(), StoreError> {
        if self.down {
            return Err(StoreError::Unavailable("ServiceUnavailable".into()));
        }
        Ok(())
    }

    /// Keeps events once per id, after [`Self::writable`] said yes.
    pub fn add(&self, envelopes: &[Envelope]) {
        let mut kept = self.envelopes.lock().unwrap_or_else(PoisonError::into_inner);
        for envelope in envelopes {
            if !kept.iter().any(|old| old.event_id == envelope.event_id) {
                kept.push(envelope.clone());
            }
        }
    }
}

impl Outbox for OutboxEvents {
    async fn keep(&self, envelope: &Envelope) -> Result<(), StoreError> {
        self.writable()?;
        self.add(std::slice::from_ref(envelope));
        Ok(())
    }
}

/// The events topic: every published envelope, in order; it refuses every publish once it has
/// taken `accepts` of them.
pub struct Topic {
    published: Mutex<Vec<Envelope>>,
    accepts: usize,
}

impl Default for Topic {
    fn default() -> Self {
        Self { published: Mutex::default(), accepts: usize::MAX }
    }
}

impl Topic {
    pub fn failing_after(accepts: usize) -> Self {
        Self { accepts, ..Self::default() }
    }

    pub fn published(&self) -> Vec<Envelope> {
        self.published.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl EventPublisher for Topic {
    async fn publish(&self, envelope: &Envelope) -> Result<(), SendError> {
        let mut published = self.published.lock().unwrap_or_else(PoisonError::into_inner);
        if published.len() >= self.accepts {
            return Err(SendError("ServiceUnavailable".into()));
        }
        published.push(envelope.clone());
        Ok(())
    }
}

/// The IP records table: every record kept; `down` refuses them all.
#[derive(Default)]
pub struct RecordedIps {
    records: Mutex<Vec<(AccountId, RecordedRequest, IpAddr, OffsetDateTime)>>,
    pub down: bool,
}

impl RecordedIps {
    pub fn down() -> Self {
        Self { down: true, ..Self::default() }
    }

    pub fn records(&self) -> Vec<(AccountId, RecordedRequest, IpAddr, OffsetDateTime)> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl IpRecorder for RecordedIps {
    async fn record(
        &self,
        account: AccountId,
        request: RecordedRequest,
        ip: IpAddr,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if self.down {
            return Err(StoreError::Unavailable("ProvisionedThroughputExceededException".into()));
        }
        self.records.lock().unwrap_or_else(PoisonError::into_inner).push((account, request, ip, now));
        Ok(())
    }
}
