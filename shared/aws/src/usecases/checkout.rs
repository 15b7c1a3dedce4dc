//! Placing an order (P2, P8, P15): prices and VAT from the catalog, never from the client;
//! stock reserved in the same transaction as the order; one order per checkout however often
//! it is retried.

use mizan::kernel::ports::EventPublisher;
use time::OffsetDateTime;

use crate::dynamodb::orders::{OrdersTable, Placement, StoredOrder};
use crate::dynamodb::products::ProductsTable;
use crate::notify::events_topic::EventsTopic;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::kernel::failures::SendError;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::OrderId;
use mizan::kernel::ids::ProductId;
use mizan::ordering::order::{Buyer, CartLine, Order, OrderStatus, Recipient};
use mizan::ordering::pricing::{PricingError, VatSchedule, price_order};

/// A checkout request that passed every rule of form.
#[derive(Debug)]
pub struct CheckoutRequest {
    pub cart: Vec<CartLine>,
    pub buyer: Buyer,
    pub recipient: Recipient,
}

#[derive(Debug)]
pub enum CheckoutOutcome {
    Placed(Box<StoredOrder>),
    /// These cart lines (by index) name products the catalog does not have.
    UnknownProducts(Vec<usize>),
    OutOfStock(Vec<ProductId>),
    /// The key made an order from another request: keys are single-use.
    KeyReused,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// The order is stored but its event was not published; a retry with the same key
    /// publishes it (same event id, so nothing happens twice).
    #[error("the order event could not be published: {0}")]
    Publish(#[from] SendError),
    /// An order id derived for this customer belongs to another: cannot happen short of a
    /// SHA-256 collision, but a stored order is never handed to someone else on faith.
    #[error("an existing order with this id belongs to another account")]
    Foreign,
}

pub struct Catalogue<'a> {
    pub products: &'a ProductsTable,
    pub orders: &'a OrdersTable,
    pub events: &'a EventsTopic,
    pub vat: &'a VatSchedule,
}

pub async fn place_order(
    store: &Catalogue<'_>,
    account: AccountId,
    idempotency_key: &str,
    request_hash: &str,
    request: CheckoutRequest,
    now: OffsetDateTime,
) -> Result<CheckoutOutcome, CheckoutError> {
    let id = OrderId::for_checkout(account, idempotency_key);
    // Whole seconds, as stored: the answer to the checkout and every later read agree.
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let wanted: Vec<ProductId> = request.cart.iter().map(|line| line.product_id.clone()).collect();
    let found = store.products.get_many(&wanted).await?;
    let mut items = Vec::with_capacity(request.cart.len());
    let mut unknown = Vec::new();
    for (index, line) in request.cart.iter().enumerate() {
        match found.iter().find(|product| product.id == line.product_id) {
            Some(product) => items.push((product.clone(), line.quantity)),
            None => unknown.push(index),
        }
    }
    if !unknown.is_empty() {
        return Ok(CheckoutOutcome::UnknownProducts(unknown));
    }

    let priced = price_order(&items, store.vat, now)?;
    let reservations = priced
        .lines
        .iter()
        .map(|line| store.products.reserve_stock(&line.product_id, line.quantity))
        .collect::<Result<Vec<_>, _>>()?;
    let order = Order {
        id,
        request_hash: request_hash.to_owned(),
        account,
        buyer: request.buyer,
        priced,
        status: OrderStatus::Placed,
        placed_at: now,
    };
    let stored = match store.orders.place(&order, &request.recipient, reservations).await? {
        Placement::Placed => {
            tracing::info!(order = %id, %account, lines = order.priced.lines.len(), "order placed");
            StoredOrder { order, recipient: Some(request.recipient) }
        }
        Placement::AlreadyPlaced => {
            let existing = store.orders.get(id).await?.ok_or(StoreError::Corrupt("order"))?;
            if existing.order.account != account {
                return Err(CheckoutError::Foreign);
            }
            if existing.order.request_hash != request_hash {
                return Ok(CheckoutOutcome::KeyReused);
            }
            tracing::info!(order = %id, "checkout retried; the existing order stands");
            existing
        }
        Placement::OutOfStock(products) => return Ok(CheckoutOutcome::OutOfStock(products)),
    };

    let placed = DomainEvent::OrderPlaced { order_id: id, account_id: account, total: stored.order.priced.total };
    // The same event id for every retry: its effects (messages, the invoice) happen once.
    let event = Envelope::once_per(&format!("order-placed#{id}"), placed, stored.order.placed_at);
    store.events.publish(&event).await?;
    Ok(CheckoutOutcome::Placed(Box::new(stored)))
}
