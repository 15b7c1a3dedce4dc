//! What the ordering context needs from storage. The tables implement these traits in
//! `mizan-aws`; `ordering::testing` keeps them in memory.

use std::time::Duration;

use time::OffsetDateTime;

use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId, ProductId};
use crate::ordering::catalog::Product;
use crate::ordering::idempotency::{IdempotencyRecord, StoredResponse};
use crate::ordering::lifecycle::{OrderProgress, Transition};
use crate::ordering::order::{Order, Recipient, StoredOrder};

/// The products an order is priced from.
pub trait Catalog {
    /// The products of these ids that exist, in the order asked; unknown ids are left out.
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, StoreError>;
}

/// What placing an order came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    Placed,
    /// An order with this id exists already: the same checkout, retried.
    AlreadyPlaced,
    /// These products had less stock than the order asked for; nothing was written.
    OutOfStock(Vec<ProductId>),
}

/// Where orders are kept.
pub trait OrderBook {
    /// Writes the order, its recipient, the stock each line takes and the event that announces
    /// the order all at once, or nothing: not if an order of this id exists, nor if any product
    /// has less stock than its line asks.
    async fn place(&self, order: &Order, recipient: &Recipient, announced: &Envelope) -> Result<Placement, StoreError>;

    /// The order with its recipient while it is kept, if it is `owner`'s: another's is as absent
    /// as one never placed, and is not opened to find that out (P4, P13).
    async fn owned(&self, id: OrderId, owner: AccountId) -> Result<Option<StoredOrder>, StoreError>;
}

/// Orders as their life moves them: status, history, stock and recipient, never the buyer.
pub trait OrderLifecycle {
    async fn progress(&self, id: OrderId) -> Result<Option<OrderProgress>, StoreError>;

    /// Writes `transition` — the status, its milestone, the shipment — puts back the stock it
    /// releases, shortens how long the recipient is kept and keeps `announced`, all at once, on
    /// condition that the order is still `transition.from`; `false` when it was not.
    async fn advance(&self, transition: &Transition, announced: &Envelope) -> Result<bool, StoreError>;
}

/// What trying to take an idempotency key came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// This request holds the key and must run the work.
    Acquired,
    /// The key is held or done: the record that refused the lock, as it was then.
    Existing(IdempotencyRecord),
}

/// The records of idempotent requests, one per caller-scoped key.
pub trait IdempotencyStore {
    /// Takes the key in one atomic step: it is free, its record expired, or its holder is
    /// presumed crashed (past `in_progress_until`).
    async fn lock(
        &self,
        id: &str,
        payload_hash: &str,
        now: OffsetDateTime,
        in_progress_for: Duration,
    ) -> Result<Lock, StoreError>;

    /// Keeps the response for replay, provided this request still holds the key; `false` when
    /// its lock lapsed and another took the key.
    async fn complete(
        &self,
        id: &str,
        payload_hash: &str,
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Frees the key after a failure, so that a retry runs the work again.
    async fn release(&self, id: &str) -> Result<(), StoreError>;

    async fn get(&self, id: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Waits before the record is looked at again; `false` when this store cannot wait.
    async fn pause(&self, duration: Duration) -> bool;
}
