//! In-memory fakes of the kernel's ports, for unit tests of use cases: they keep what was
//! handed to them and can be told to fail as the real providers do.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::{SendError, StoreError};
use crate::kernel::ids::AccountId;
use crate::kernel::ports::{EventPublisher, IpRecorder, RecordedRequest};

/// The events topic: every published envelope, in order; `down` refuses them all.
#[derive(Default)]
pub struct PublishedEvents {
    envelopes: Mutex<Vec<Envelope>>,
    pub down: bool,
}

impl PublishedEvents {
    pub fn down() -> Self {
        Self { down: true, ..Self::default() }
    }

    pub fn envelopes(&self) -> Vec<Envelope> {
        self.envelopes.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn events(&self) -> Vec<DomainEvent> {
        self.envelopes().into_iter().map(|envelope| envelope.event).collect()
    }
}

impl EventPublisher for PublishedEvents {
    async fn publish(&self, envelope: &Envelope) -> Result<(), SendError> {
        if self.down {
            return Err(SendError("ServiceUnavailable".into()));
        }
        self.envelopes.lock().unwrap_or_else(PoisonError::into_inner).push(envelope.clone());
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
