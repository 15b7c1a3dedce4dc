//! Moving an order along its life (`lifecycle`): staff pack, ship and deliver it; staff or its
//! customer cancel it before it ships. Each step is one conditional write, so twenty clicks on
//! "ship" make one shipment and one message.

use time::{Duration, OffsetDateTime};

use crate::kernel::ids::OrderId;
use crate::kernel::problem::Problem;
use crate::ordering::lifecycle::{Actor, OrderProgress, OrderStatus, Step};
use crate::ordering::ports::OrderLifecycle;

/// Takes `step` for `by` and answers the order as it then stands. The same step again (a retry,
/// a double click) answers the order as it is and changes nothing; a step its status does not
/// allow is refused. A customer reaches only their own orders: another's is not found.
pub async fn advance(
    orders: &impl OrderLifecycle,
    id: OrderId,
    step: Step,
    by: Actor,
    recipient_kept: Duration,
    now: OffsetDateTime,
) -> Result<OrderProgress, Problem> {
    let order = orders.progress(id).await?.ok_or_else(Problem::not_found)?;
    if let Actor::Customer(customer) = by
        && order.account != customer
    {
        return Err(Problem::not_found());
    }
    if order.already_took(&step) {
        return Ok(order);
    }
    let transition =
        order.transition(&step, by, recipient_kept, now).map_err(|illegal| refusal(illegal.from, &step))?;
    let announced = order.announce(&transition);
    if orders.advance(&transition, &announced).await? {
        tracing::info!(order = %id, from = transition.from.as_str(), to = transition.to().as_str(), by = by.kind(), "order moved");
        return orders.progress(id).await?.ok_or_else(Problem::not_found);
    }
    // Moved by someone else in between: the same step is this one's answer too.
    let now_stands = orders.progress(id).await?.ok_or_else(Problem::not_found)?;
    if now_stands.already_took(&step) {
        return Ok(now_stands);
    }
    Err(refusal(now_stands.status, &step))
}

fn refusal(from: OrderStatus, step: &Step) -> Problem {
    match (from, step) {
        (OrderStatus::Shipped | OrderStatus::Delivered, Step::Cancel(_)) => Problem::order_already_shipped(),
        _ => Problem::order_transition_not_allowed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::testing::fixtures::{natural, now};
    use crate::kernel::events::DomainEvent;
    use crate::kernel::ids::AccountId;
    use crate::ordering::lifecycle::{Carrier, Shipment, TrackingCode};
    use crate::ordering::order::Order;
    use crate::ordering::testing::InMemoryShop;

    const KEPT: Duration = Duration::days(30);

    fn shop() -> InMemoryShop {
        InMemoryShop::with_products(crate::invoicing::testing::fixtures::products())
    }

    fn paid_order(shop: &InMemoryShop) -> Order {
        let order = crate::invoicing::testing::fixtures::order(AccountId::new(), natural());
        shop.add(&order);
        order
    }

    fn tipax(code: &str) -> Step {
        Step::Ship(Shipment { carrier: Carrier::Tipax, tracking_code: TrackingCode::parse(code).unwrap() })
    }

    #[tokio::test]
    async fn staff_pack_ship_and_deliver_a_paid_order_and_each_step_is_in_its_history() {
        let shop = shop();
        let order = paid_order(&shop);
        let staff = Actor::Staff(AccountId::new());
        for step in [Step::Pack, tipax("TPX-1"), Step::Deliver] {
            let target = step.target();
            let moved = advance(&shop, order.id, step, staff, KEPT, now()).await.unwrap();
            assert_eq!(moved.status, target);
            assert_eq!(moved.history.last().map(|m| (m.status, m.by)), Some((target, staff)));
        }
        let names: Vec<&str> = shop.outbox.events().iter().map(DomainEvent::type_name).collect();
        assert_eq!(names, ["OrderPacked", "OrderShipped", "OrderDelivered"]);
        assert_eq!(shop.recipient_erased_at(order.id), Some(now() + KEPT), "P15: delivery ends its purpose");
    }

    #[tokio::test]
    async fn the_same_shipment_twice_is_one_shipment_and_another_is_refused() {
        let shop = shop();
        let order = paid_order(&shop);
        let staff = Actor::Staff(AccountId::new());
        advance(&shop, order.id, Step::Pack, staff, KEPT, now()).await.unwrap();
        for _ in 0..3 {
            let shipped = advance(&shop, order.id, tipax("TPX-1"), staff, KEPT, now()).await.unwrap();
            assert_eq!(shipped.status, OrderStatus::Shipped);
        }
        let other = advance(&shop, order.id, tipax("TPX-2"), staff, KEPT, now()).await;
        assert_eq!(other.unwrap_err().code, "order-transition-not-allowed");
        let shipments = shop.outbox.events().iter().filter(|e| matches!(e, DomainEvent::OrderShipped { .. })).count();
        assert_eq!(shipments, 1);
    }

    #[tokio::test]
    async fn an_unpaid_order_is_not_packed_and_a_shipped_one_is_not_cancelled() {
        let shop = shop();
        let mut unpaid = crate::invoicing::testing::fixtures::order(AccountId::new(), natural());
        unpaid.status = OrderStatus::AwaitingPayment;
        unpaid.payment = None;
        shop.add(&unpaid);
        let staff = Actor::Staff(AccountId::new());
        let packed = advance(&shop, unpaid.id, Step::Pack, staff, KEPT, now()).await;
        assert_eq!(packed.unwrap_err().code, "order-transition-not-allowed");

        let order = paid_order(&shop);
        advance(&shop, order.id, Step::Pack, staff, KEPT, now()).await.unwrap();
        advance(&shop, order.id, tipax("TPX-1"), staff, KEPT, now()).await.unwrap();
        let cancelled = advance(&shop, order.id, Step::Cancel(None), Actor::Customer(order.account), KEPT, now()).await;
        assert_eq!(cancelled.unwrap_err().code, "order-already-shipped");
        assert_eq!(shop.progress(order.id).await.unwrap().unwrap().status, OrderStatus::Shipped);
    }

    #[tokio::test]
    async fn a_customer_cancels_their_paid_order_its_stock_returns_and_its_refund_is_announced() {
        let shop = shop();
        let order = paid_order(&shop);
        let product = &order.priced.lines[0].product_id;
        let before = shop.stock_of(product);
        let cancelled =
            advance(&shop, order.id, Step::Cancel(None), Actor::Customer(order.account), KEPT, now()).await.unwrap();
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
        assert_eq!(shop.stock_of(product), before.map(|left| left + order.priced.lines[0].quantity));
        let Some(DomainEvent::OrderCancelled { refund, by_customer: true, .. }) = shop.outbox.events().pop() else {
            panic!("no cancellation announced")
        };
        assert_eq!(refund, Some(order.priced.total));
    }

    #[tokio::test]
    async fn another_customers_order_is_not_found_and_unchanged() {
        let shop = shop();
        let order = paid_order(&shop);
        let stranger = Actor::Customer(AccountId::new());
        let refused = advance(&shop, order.id, Step::Cancel(None), stranger, KEPT, now()).await;
        assert_eq!(refused.unwrap_err().code, "not-found");
        assert_eq!(shop.progress(order.id).await.unwrap().unwrap().status, OrderStatus::Paid);
        assert!(shop.outbox.events().is_empty());
    }
}
