//! A customer's own orders (P13, P15): someone else's order is as absent as one that never
//! existed, and the recipient shows while it is kept.

use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId};
use crate::ordering::order::StoredOrder;
use crate::ordering::ports::OrderBook;

pub async fn own_order(
    orders: &impl OrderBook,
    customer: AccountId,
    id: OrderId,
) -> Result<Option<StoredOrder>, StoreError> {
    orders.owned(id, customer).await
}
