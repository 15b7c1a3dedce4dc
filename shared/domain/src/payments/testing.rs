//! The payments context's world in memory: a gateway that customers pay on by a method call, and
//! the payments and orders tables with the conditions the use cases rely on.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

#[cfg(test)]
use crate::invoicing::testing::fixtures::{natural, order};
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
#[cfg(test)]
use crate::kernel::ids::AccountId;
use crate::kernel::ids::{OrderId, PaymentId, ProductId};
use crate::kernel::money::Rial;
use crate::kernel::testing::OutboxEvents;
use crate::ordering::lifecycle::OrderStatus;
use crate::ordering::order::Order;
use crate::payments::payment::{
    Authority, MaskedPan, Payment, PaymentStatus, RefId, Refund, RefundReference, Verified,
};
use crate::payments::ports::{
    GatewayError, PayableOrder, PaymentBook, PaymentGateway, PaymentRequest, Redirect, RefundAnswer, Settlement,
    UnpaidOrders, Verification,
};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One payment as the gateway sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPayment {
    pub amount: Rial,
    pub paid: bool,
    pub verified: bool,
    pub reversed: bool,
    /// Refunded after the reversal window, in all.
    pub refunded: Rial,
    pub ref_id: RefId,
}

/// A gateway: `pay` is the customer paying on its page. `down` fails every call; `refuses_reversal`
/// answers every reversal as the real one does past its 30 minutes.
#[derive(Default)]
pub struct InMemoryGateway {
    payments: Mutex<Vec<(Authority, GatewayPayment)>>,
    pub down: bool,
    pub refuses_reversal: bool,
}

impl InMemoryGateway {
    pub fn down() -> Self {
        Self { down: true, ..Self::default() }
    }

    pub fn refusing_reversal() -> Self {
        Self { refuses_reversal: true, ..Self::default() }
    }

    pub fn pay(&self, authority: &Authority) {
        if let Some((_, payment)) = lock(&self.payments).iter_mut().find(|(known, _)| known == authority) {
            payment.paid = true;
        }
    }

    pub fn payment(&self, authority: &Authority) -> Option<GatewayPayment> {
        lock(&self.payments).iter().find(|(known, _)| known == authority).map(|(_, payment)| payment.clone())
    }

    fn reachable(&self) -> Result<(), GatewayError> {
        if self.down { Err(GatewayError::Unavailable("timeout".into())) } else { Ok(()) }
    }
}

impl PaymentGateway for InMemoryGateway {
    async fn request(&self, request: &PaymentRequest) -> Result<Redirect, GatewayError> {
        self.reachable()?;
        let mut payments = lock(&self.payments);
        let authority =
            Authority::parse(&format!("A{:035}", payments.len() + 1)).map_err(|_| GatewayError::Refused(-9))?;
        let ref_id = RefId::parse(&format!("{}", 1_000_000 + payments.len() + 1)).ok_or(GatewayError::Refused(-9))?;
        let payment = GatewayPayment {
            amount: request.amount,
            paid: false,
            verified: false,
            reversed: false,
            refunded: Rial::new(0),
            ref_id,
        };
        payments.push((authority.clone(), payment));
        Ok(Redirect { url: format!("https://gateway.test/StartPay/{}", authority.as_str()), authority })
    }

    async fn verify(&self, authority: &Authority, amount: Rial) -> Result<Verification, GatewayError> {
        self.reachable()?;
        let mut payments = lock(&self.payments);
        let Some((_, payment)) = payments.iter_mut().find(|(known, _)| known == authority) else {
            return Ok(Verification::Refused(-54));
        };
        if payment.amount != amount {
            return Ok(Verification::Refused(-50));
        }
        if !payment.paid || payment.reversed {
            return Ok(Verification::NotPaid);
        }
        payment.verified = true;
        Ok(Verification::Paid { ref_id: Some(payment.ref_id.clone()), card_pan: MaskedPan::parse("60379986****5434") })
    }

    async fn unverified(&self) -> Result<Vec<Authority>, GatewayError> {
        self.reachable()?;
        let payments = lock(&self.payments);
        Ok(payments.iter().filter(|(_, p)| p.paid && !p.verified && !p.reversed).map(|(a, _)| a.clone()).collect())
    }

    async fn reverse(&self, authority: &Authority) -> Result<bool, GatewayError> {
        self.reachable()?;
        if self.refuses_reversal {
            return Ok(false);
        }
        let mut payments = lock(&self.payments);
        let Some((_, payment)) = payments.iter_mut().find(|(known, _)| known == authority) else { return Ok(false) };
        payment.reversed = payment.paid && payment.refunded.value() == 0;
        Ok(payment.reversed)
    }

    async fn refund(&self, ref_id: &RefId, amount: Rial, _description: &str) -> Result<RefundAnswer, GatewayError> {
        self.reachable()?;
        let mut payments = lock(&self.payments);
        let Some((_, payment)) = payments.iter_mut().find(|(_, payment)| &payment.ref_id == ref_id && payment.verified)
        else {
            return Ok(RefundAnswer::Refused("unknown session".into()));
        };
        let given = if payment.reversed { payment.amount } else { payment.refunded };
        if given.checked_add(amount).is_none_or(|total| total > payment.amount) {
            return Ok(if given == payment.amount {
                RefundAnswer::AlreadyRefunded
            } else {
                RefundAnswer::Refused("more than paid".into())
            });
        }
        payment.refunded = given.checked_add(amount).unwrap_or(given);
        Ok(RefundAnswer::Accepted { reference: RefundReference::parse(&format!("R{}", ref_id.as_str())) })
    }
}

/// The payments table, the orders table and the stock, with the outbox their writes keep events
/// in. `down` fails every write.
#[derive(Default)]
pub struct InMemoryTill {
    orders: Mutex<HashMap<OrderId, Order>>,
    stock: Mutex<HashMap<ProductId, u32>>,
    payments: Mutex<HashMap<PaymentId, Payment>>,
    pub outbox: OutboxEvents,
}

impl InMemoryTill {
    /// A placed order awaiting payment, its stock taken with `left` remaining.
    #[cfg(test)]
    pub fn unpaid_order(&self, left: u32) -> Order {
        let mut placed = order(AccountId::new(), natural());
        placed.status = OrderStatus::AwaitingPayment;
        self.add(&placed, left);
        placed
    }

    /// Adds a placed order, its stock already taken (`left` is what remains on the shelf).
    pub fn add(&self, order: &Order, left: u32) {
        for line in &order.priced.lines {
            lock(&self.stock).insert(line.product_id.clone(), left);
        }
        lock(&self.orders).insert(order.id, order.clone());
    }

    pub fn status(&self, id: OrderId) -> Option<OrderStatus> {
        lock(&self.orders).get(&id).map(|order| order.status)
    }

    pub fn stock_of(&self, id: &ProductId) -> Option<u32> {
        lock(&self.stock).get(id).copied()
    }

    pub fn set_stock(&self, id: &ProductId, left: u32) {
        lock(&self.stock).insert(id.clone(), left);
    }

    /// Stores `payment` as it is (a record from before a field was kept, a manual edit).
    pub fn replace_payment(&self, payment: &Payment) {
        lock(&self.payments).insert(payment.id, payment.clone());
    }

    pub fn payments(&self) -> Vec<Payment> {
        lock(&self.payments).values().cloned().collect()
    }
}

impl PaymentBook for InMemoryTill {
    async fn order(&self, id: OrderId) -> Result<Option<PayableOrder>, StoreError> {
        Ok(lock(&self.orders).get(&id).map(PayableOrder::from))
    }

    async fn open(&self, payment: &Payment) -> Result<(), StoreError> {
        self.outbox.writable()?;
        lock(&self.payments).insert(payment.id, payment.clone());
        Ok(())
    }

    async fn attach(&self, id: PaymentId, authority: &Authority) -> Result<(), StoreError> {
        self.outbox.writable()?;
        if let Some(payment) = lock(&self.payments).get_mut(&id) {
            payment.authority.get_or_insert_with(|| authority.clone());
        }
        Ok(())
    }

    async fn payment(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        Ok(lock(&self.payments).get(&id).cloned())
    }

    async fn payment_by_authority(&self, authority: &Authority) -> Result<Option<Payment>, StoreError> {
        Ok(lock(&self.payments).values().find(|payment| payment.authority.as_ref() == Some(authority)).cloned())
    }

    async fn fail(&self, id: PaymentId) -> Result<(), StoreError> {
        self.outbox.writable()?;
        if let Some(payment) = lock(&self.payments).get_mut(&id).filter(|payment| payment.status.is_open()) {
            payment.status = PaymentStatus::Failed;
        }
        Ok(())
    }

    async fn settle(
        &self,
        payment: &Payment,
        verified: &Verified,
        order: &PayableOrder,
        reserve_again: bool,
        announced: &Envelope,
    ) -> Result<Settlement, StoreError> {
        self.outbox.writable()?;
        let (mut payments, mut orders, mut stock) = (lock(&self.payments), lock(&self.orders), lock(&self.stock));
        if !payments.get(&payment.id).is_some_and(|stored| stored.status.is_open()) {
            return Ok(Settlement::AlreadySettled);
        }
        let stored = orders.get_mut(&order.id).ok_or(StoreError::Corrupt("order"))?;
        let wanted = if reserve_again { OrderStatus::Expired } else { OrderStatus::AwaitingPayment };
        if stored.status != wanted {
            return Ok(Settlement::OrderNotAwaiting(stored.status));
        }
        if reserve_again {
            let short =
                order.lines.iter().any(|line| stock.get(&line.product_id).copied().unwrap_or(0) < line.quantity);
            if short {
                return Ok(Settlement::SoldOut);
            }
            for line in &order.lines {
                *stock.entry(line.product_id.clone()).or_default() -= line.quantity;
            }
        }
        stored.status = OrderStatus::Paid;
        if let Some(stored) = payments.get_mut(&payment.id) {
            stored.status = PaymentStatus::Paid;
            stored.verified = Some(verified.clone());
        }
        self.outbox.add(std::slice::from_ref(announced));
        Ok(Settlement::Settled)
    }

    async fn record_return(
        &self,
        payment: &Payment,
        verified: &Verified,
        reversed: bool,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        self.outbox.writable()?;
        let mut payments = lock(&self.payments);
        let Some(stored) = payments.get_mut(&payment.id).filter(|stored| stored.status.is_open()) else {
            return Ok(false);
        };
        stored.status = if reversed { PaymentStatus::Reversed } else { PaymentStatus::RefundDue };
        stored.verified = Some(verified.clone());
        self.outbox.add(std::slice::from_ref(announced));
        Ok(true)
    }

    async fn record_refund(
        &self,
        payment: &Payment,
        refund: &Refund,
        _at: OffsetDateTime,
        announced: Option<&Envelope>,
    ) -> Result<bool, StoreError> {
        self.outbox.writable()?;
        let mut payments = lock(&self.payments);
        let Some(stored) = payments.get_mut(&payment.id).filter(|stored| stored.status == PaymentStatus::Paid) else {
            return Ok(false);
        };
        stored.status = if *refund == Refund::Due { PaymentStatus::RefundDue } else { PaymentStatus::Refunded };
        if let Some(announced) = announced {
            self.outbox.add(std::slice::from_ref(announced));
        }
        Ok(true)
    }
}

impl UnpaidOrders for InMemoryTill {
    async fn overdue(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<PayableOrder>, StoreError> {
        let orders = lock(&self.orders);
        let due =
            orders.values().filter(|order| order.status == OrderStatus::AwaitingPayment && order.payment_due <= now);
        Ok(due.take(limit).map(PayableOrder::from).collect())
    }

    async fn expire(&self, order: &PayableOrder, announced: &Envelope) -> Result<bool, StoreError> {
        self.outbox.writable()?;
        let (mut orders, mut stock) = (lock(&self.orders), lock(&self.stock));
        let Some(stored) = orders.get_mut(&order.id).filter(|stored| stored.status == OrderStatus::AwaitingPayment)
        else {
            return Ok(false);
        };
        stored.status = OrderStatus::Expired;
        for line in &order.lines {
            *stock.entry(line.product_id.clone()).or_default() += line.quantity;
        }
        self.outbox.add(std::slice::from_ref(announced));
        Ok(true)
    }
}
