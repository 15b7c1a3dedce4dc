//! The shop as checkout sees it: the catalog it prices from, and the orders it places with the
//! stock they take. An order, its recipient, the stock decrement of each of its lines and the
//! event that announces it are one transaction across the orders, products and outbox tables.

use mizan::kernel::events::Envelope;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::{AccountId, OrderId, ProductId};
use mizan::ordering::catalog::Product;
use mizan::ordering::order::{Order, Recipient, StoredOrder};
use mizan::ordering::ports::{Catalog, OrderBook, Placement};

use super::orders::OrdersTable;
use super::outbox::OutboxTable;
use super::products::ProductsTable;

#[derive(Debug, Clone)]
pub struct Shop {
    pub products: ProductsTable,
    pub orders: OrdersTable,
    pub outbox: OutboxTable,
}

impl Catalog for Shop {
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, StoreError> {
        self.products.get_many(ids).await
    }
}

impl OrderBook for Shop {
    async fn place(&self, order: &Order, recipient: &Recipient, announced: &Envelope) -> Result<Placement, StoreError> {
        let reservations = order
            .priced
            .lines
            .iter()
            .map(|line| self.products.reserve_stock(&line.product_id, line.quantity))
            .collect::<Result<Vec<_>, _>>()?;
        self.orders.place(order, recipient, reservations, self.outbox.put(announced)?).await
    }

    async fn owned(&self, id: OrderId, owner: AccountId) -> Result<Option<StoredOrder>, StoreError> {
        self.orders.owned_with_recipient(id, owner).await
    }
}
