//! The ordering context's tables in memory, with the conditions the use cases rely on: a key is
//! taken once until its record expires or its holder is presumed crashed, and only the holder
//! completes it; an order is written with its recipient and its stock all at once or not at all.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId, ProductId};
use crate::kernel::testing::OutboxEvents;
use crate::ordering::catalog::Product;
use crate::ordering::idempotency::{COMPLETED_RECORD_TTL, IdempotencyRecord, Judgement, StoredResponse, judge, later};
use crate::ordering::lifecycle::{OrderProgress, Transition};
use crate::ordering::order::{Order, Recipient, StoredOrder};
use crate::ordering::ports::{Catalog, IdempotencyStore, Lock, OrderBook, OrderLifecycle, Placement};

#[derive(Default)]
pub struct InMemoryIdempotency {
    records: Mutex<HashMap<String, IdempotencyRecord>>,
}

impl IdempotencyStore for InMemoryIdempotency {
    async fn lock(
        &self,
        id: &str,
        payload_hash: &str,
        now: OffsetDateTime,
        in_progress_for: Duration,
    ) -> Result<Lock, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = records.get(id)
            && judge(existing, payload_hash, now) != Judgement::Expired
        {
            return Ok(Lock::Existing(existing.clone()));
        }
        let in_progress_until = later(now, in_progress_for);
        records.insert(
            id.to_owned(),
            IdempotencyRecord::InProgress { payload_hash: payload_hash.to_owned(), in_progress_until },
        );
        Ok(Lock::Acquired)
    }

    async fn complete(
        &self,
        id: &str,
        payload_hash: &str,
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        match records.get(id) {
            Some(IdempotencyRecord::InProgress { payload_hash: held, .. }) if held == payload_hash => {
                let completed = IdempotencyRecord::Completed {
                    payload_hash: payload_hash.to_owned(),
                    response: response.clone(),
                    expires_at: later(now, COMPLETED_RECORD_TTL),
                };
                records.insert(id.to_owned(), completed);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.records.lock().unwrap_or_else(PoisonError::into_inner).get(id).cloned())
    }

    async fn pause(&self, duration: Duration) -> bool {
        tokio::time::sleep(duration).await;
        true
    }
}

/// The products and orders tables, and the outbox their orders' events are kept in.
#[derive(Default)]
pub struct InMemoryShop {
    products: Mutex<HashMap<ProductId, Product>>,
    orders: Mutex<HashMap<OrderId, StoredOrder>>,
    /// When each order's recipient goes, once its life shortened the keeping (P15).
    erasures: Mutex<HashMap<OrderId, OffsetDateTime>>,
    pub outbox: OutboxEvents,
}

impl InMemoryShop {
    pub fn with_products(products: impl IntoIterator<Item = Product>) -> Self {
        let shop = Self::default();
        shop.products
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(products.into_iter().map(|p| (p.id.clone(), p)));
        shop
    }

    pub fn stock_of(&self, id: &ProductId) -> Option<u32> {
        self.products.lock().unwrap_or_else(PoisonError::into_inner).get(id).map(|product| product.stock)
    }

    pub fn restock(&self, id: &ProductId, stock: u32) {
        if let Some(product) = self.products.lock().unwrap_or_else(PoisonError::into_inner).get_mut(id) {
            product.stock = stock;
        }
    }

    pub fn all_orders(&self) -> Vec<StoredOrder> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    /// Keeps an order as it is, without a recipient, as if placed before.
    pub fn add(&self, order: &Order) {
        self.orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order.id, StoredOrder { order: order.clone(), recipient: None });
    }

    pub fn recipient_erased_at(&self, id: OrderId) -> Option<OffsetDateTime> {
        self.erasures.lock().unwrap_or_else(PoisonError::into_inner).get(&id).copied()
    }

    pub fn order_count(&self) -> usize {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Catalog for InMemoryShop {
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, StoreError> {
        let products = self.products.lock().unwrap_or_else(PoisonError::into_inner);
        let mut found: Vec<Product> = Vec::new();
        for id in ids {
            if let Some(product) = products.get(id)
                && !found.iter().any(|known| &known.id == id)
            {
                found.push(product.clone());
            }
        }
        Ok(found)
    }
}

impl OrderBook for InMemoryShop {
    async fn place(&self, order: &Order, recipient: &Recipient, announced: &Envelope) -> Result<Placement, StoreError> {
        let mut products = self.products.lock().unwrap_or_else(PoisonError::into_inner);
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        if orders.contains_key(&order.id) {
            return Ok(Placement::AlreadyPlaced);
        }
        let short: Vec<ProductId> = order
            .priced
            .lines
            .iter()
            .filter(|line| products.get(&line.product_id).is_none_or(|product| product.stock < line.quantity))
            .map(|line| line.product_id.clone())
            .collect();
        if !short.is_empty() {
            return Ok(Placement::OutOfStock(short));
        }
        self.outbox.writable()?;
        self.outbox.add(std::slice::from_ref(announced));
        for line in &order.priced.lines {
            if let Some(product) = products.get_mut(&line.product_id) {
                product.stock -= line.quantity;
            }
        }
        orders.insert(order.id, StoredOrder { order: order.clone(), recipient: Some(recipient.clone()) });
        Ok(Placement::Placed)
    }

    async fn owned(&self, id: OrderId, owner: AccountId) -> Result<Option<StoredOrder>, StoreError> {
        let orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(orders.get(&id).filter(|stored| stored.order.account == owner).cloned())
    }
}

impl OrderLifecycle for InMemoryShop {
    async fn progress(&self, id: OrderId) -> Result<Option<OrderProgress>, StoreError> {
        Ok(self.orders.lock().unwrap_or_else(PoisonError::into_inner).get(&id).map(|stored| stored.order.progress()))
    }

    async fn advance(&self, transition: &Transition, announced: &Envelope) -> Result<bool, StoreError> {
        let mut products = self.products.lock().unwrap_or_else(PoisonError::into_inner);
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = orders.get_mut(&transition.order) else { return Ok(false) };
        if stored.order.status != transition.from {
            return Ok(false);
        }
        self.outbox.writable()?;
        self.outbox.add(std::slice::from_ref(announced));
        for line in &transition.released {
            if let Some(product) = products.get_mut(&line.product_id) {
                product.stock += line.quantity;
            }
        }
        let order = &mut stored.order;
        order.status = transition.to();
        order.history.push(transition.milestone.clone());
        if let Some(shipment) = transition.shipment() {
            order.shipment = Some(shipment.clone());
        }
        if let Some(at) = transition.recipient_erased_at {
            self.erasures.lock().unwrap_or_else(PoisonError::into_inner).insert(transition.order, at);
        }
        Ok(true)
    }
}
