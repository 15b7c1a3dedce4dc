//! The dispatch desk: orders as staff and customers move them after checkout — the orders table
//! (through `OrderProgressTable`, no buyer), the stock a cancelled order puts back, and the
//! outbox. A step, its stock, the recipient's shortened keeping and the step's event are one
//! transaction across those tables.

use mizan::kernel::events::Envelope;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::OrderId;
use mizan::ordering::lifecycle::{OrderProgress, Transition};
use mizan::ordering::ports::OrderLifecycle;

use super::order_progress::OrderProgressTable;
use super::outbox::OutboxTable;
use super::products::ProductsTable;
use super::{Transaction, failed_at, transact, update};

#[derive(Debug, Clone)]
pub struct Dispatch {
    pub orders: OrderProgressTable,
    pub products: ProductsTable,
    pub outbox: OutboxTable,
}

impl OrderLifecycle for Dispatch {
    async fn progress(&self, id: OrderId) -> Result<Option<OrderProgress>, StoreError> {
        self.orders.get(id).await
    }

    /// Reasons are read by position: the order first.
    async fn advance(&self, transition: &Transition, announced: &Envelope) -> Result<bool, StoreError> {
        let mut items = vec![update(self.orders.advance(transition)?)];
        if let Some(at) = transition.recipient_erased_at {
            items.push(update(self.orders.shorten_recipient(transition.order, at)?));
        }
        for line in &transition.released {
            items.push(update(self.products.release_stock(&line.product_id, line.quantity)?));
        }
        items.push(self.outbox.put(announced)?);
        match transact(self.orders.client(), items).await? {
            Transaction::Committed => Ok(true),
            Transaction::Cancelled(reasons) if failed_at(&reasons, 0) => Ok(false),
            Transaction::Cancelled(reasons) => Err(StoreError::Failed(reasons.join(","))),
        }
    }
}
