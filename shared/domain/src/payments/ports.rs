//! What the payments context needs from the world: a payment gateway, and the tables that keep
//! payments and the orders they pay. Implemented in `mizan-aws`; `payments::testing` keeps them
//! in memory.

use time::OffsetDateTime;

use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::kernel::ids::{OrderId, PaymentId};
use crate::kernel::money::Rial;
use crate::ordering::lifecycle::OrderStatus;
use crate::ordering::order::{CartLine, Order};
use crate::payments::payment::{Authority, MaskedPan, Payment, RefId, Refund, RefundReference, Verified};

/// An order as payments see it: whose it is, what it costs, where it stands and what stock it
/// holds — never who the buyer is (their identity codes stay sealed, out of this function's
/// reach).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayableOrder {
    pub id: OrderId,
    pub account: AccountId,
    pub total: Rial,
    pub status: OrderStatus,
    pub payment_due: OffsetDateTime,
    pub lines: Vec<CartLine>,
}

impl From<&Order> for PayableOrder {
    fn from(order: &Order) -> Self {
        Self {
            id: order.id,
            account: order.account,
            total: order.priced.total,
            status: order.status,
            payment_due: order.payment_due,
            lines: order.priced.cart(),
        }
    }
}

/// What the gateway is asked to take. No contact detail of the customer goes with it (P13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub payment: PaymentId,
    pub order: OrderId,
    pub amount: Rial,
    pub description: String,
}

/// Where the customer's browser goes to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub authority: Authority,
    pub url: String,
}

/// The gateway's word on one payment: the only proof that it was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Paid, now or before (Zarinpal's 100 and 101).
    Paid { ref_id: Option<RefId>, card_pan: Option<MaskedPan> },
    /// Not paid: cancelled, or the card was refused (Zarinpal's -51). An ordinary outcome.
    NotPaid,
    /// The gateway refused the question itself — an amount that does not match, an authority
    /// that is not ours or not valid (Zarinpal's -50, -53, -54): never ordinary, always logged.
    Refused(i32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No answer in time, or an answer that is not the gateway's: nothing is known.
    #[error("the payment gateway is unavailable ({0})")]
    Unavailable(String),
    /// The gateway answered with an error code.
    #[error("the payment gateway refused the request (code {0})")]
    Refused(i32),
}

pub trait PaymentGateway {
    /// Opens a payment; the customer pays on the page of the answer's URL.
    async fn request(&self, request: &PaymentRequest) -> Result<Redirect, GatewayError>;

    /// Asks whether the payment was made, for `amount` — our own record of it, never a figure
    /// from the request. Asking again about a paid payment is harmless and answers `Paid`.
    async fn verify(&self, authority: &Authority, amount: Rial) -> Result<Verification, GatewayError>;

    /// Payments made but never verified (the customer closed the tab before coming back).
    async fn unverified(&self) -> Result<Vec<Authority>, GatewayError>;

    /// Gives a verified payment's money back; `false` when the gateway will not (too late, or
    /// not allowed from here).
    async fn reverse(&self, authority: &Authority) -> Result<bool, GatewayError>;

    /// Asks the gateway to pay `amount` of a verified payment (named by its `ref_id`) back to
    /// the card, after the window in which it could be reversed.
    async fn refund(&self, ref_id: &RefId, amount: Rial, description: &str) -> Result<RefundAnswer, GatewayError>;
}

/// The gateway's word on a refund it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundAnswer {
    /// Taken: the money is on its way back.
    Accepted { reference: Option<RefundReference> },
    /// The payment's money had gone back already (reversed, or refunded by an earlier attempt
    /// whose answer was lost): nothing more to give.
    AlreadyRefunded,
    /// Not taken (below the gateway's minimum, not this merchant's payment): in the gateway's
    /// words, for the log.
    Refused(String),
}

/// What settling a verified payment came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The payment and its order are paid, and `OrderPaid` is kept.
    Settled,
    /// This payment was settled before (a repeated or concurrent return): nothing changed.
    AlreadySettled,
    /// The order was no longer waiting for a payment; nothing changed.
    OrderNotAwaiting(OrderStatus),
    /// The order had expired and some of its stock has been sold since; nothing changed.
    SoldOut,
}

/// The payments table, and the orders it settles.
pub trait PaymentBook {
    async fn order(&self, id: OrderId) -> Result<Option<PayableOrder>, StoreError>;

    /// Keeps a new payment, before the gateway hears of it.
    async fn open(&self, payment: &Payment) -> Result<(), StoreError>;

    /// Records the gateway's handle of a payment that has none yet.
    async fn attach(&self, id: PaymentId, authority: &Authority) -> Result<(), StoreError>;

    async fn payment(&self, id: PaymentId) -> Result<Option<Payment>, StoreError>;

    async fn payment_by_authority(&self, authority: &Authority) -> Result<Option<Payment>, StoreError>;

    /// Marks an open payment failed; a payment that is settled stays as it is.
    async fn fail(&self, id: PaymentId) -> Result<(), StoreError>;

    /// Marks the payment paid, its order paid and keeps `announced`, in one transaction, only
    /// if the payment is still open and the order awaits payment. With `reserve_again` the order
    /// must instead have expired, and its lines take their stock again in the same transaction.
    async fn settle(
        &self,
        payment: &Payment,
        verified: &Verified,
        order: &PayableOrder,
        reserve_again: bool,
        announced: &Envelope,
    ) -> Result<Settlement, StoreError>;

    /// Records that a verified payment's money goes back (`reversed` by the gateway, or due from
    /// the operators) and keeps `announced`, in one transaction, if the payment is still open;
    /// `false` when it was not.
    async fn record_return(
        &self,
        payment: &Payment,
        verified: &Verified,
        reversed: bool,
        announced: &Envelope,
    ) -> Result<bool, StoreError>;

    /// Records how a paid payment's money went back (`refunded` or `refund_due`) and keeps
    /// `announced`, in one transaction, if it is still paid; `false` when it was not (recorded
    /// meanwhile by a concurrent delivery of the same cancellation).
    async fn record_refund(
        &self,
        payment: &Payment,
        refund: &Refund,
        at: OffsetDateTime,
        announced: Option<&Envelope>,
    ) -> Result<bool, StoreError>;
}

/// The orders that wait for a payment.
pub trait UnpaidOrders {
    /// Orders still awaiting payment whose `payment_due` is not after `now`, at most `limit`.
    async fn overdue(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<PayableOrder>, StoreError>;

    /// Expires the order, puts its lines' stock back and keeps `announced`, in one transaction,
    /// if it still awaits payment; `false` when it did not (paid or expired meanwhile).
    async fn expire(&self, order: &PayableOrder, announced: &Envelope) -> Result<bool, StoreError>;
}
