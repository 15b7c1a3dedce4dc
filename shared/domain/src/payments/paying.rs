//! Paying an order: opening a payment with the gateway, and the customer's return from it. Only
//! the gateway's verification makes anything paid, and an order is paid once, by a conditional
//! write, however many times and however concurrently the customer's browser comes back.

use time::OffsetDateTime;

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId, PaymentId};
use crate::kernel::problem::Problem;
use crate::ordering::lifecycle::OrderStatus;
use crate::payments::payment::{Authority, Payment, PaymentStatus, RefId, Verified};
use crate::payments::ports::{
    GatewayError, PayableOrder, PaymentBook, PaymentGateway, PaymentRequest, Settlement, Verification,
};

/// A payment opened: where to send the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub payment: PaymentId,
    pub redirect_url: String,
}

/// Opens a payment of the customer's own order for its total: refused once the order is paid or
/// its window has closed. Another payment of an unpaid order may be opened at any time (the
/// first page may have been closed); the gateway's verification keeps any of them from paying
/// twice.
pub async fn start_payment(
    book: &impl PaymentBook,
    gateway: &impl PaymentGateway,
    account: AccountId,
    order_id: OrderId,
    now: OffsetDateTime,
) -> Result<Started, Problem> {
    // Someone else's order is as absent as one that never existed.
    let order = book.order(order_id).await?.filter(|order| order.account == account).ok_or_else(Problem::not_found)?;
    match order.status {
        OrderStatus::Paid | OrderStatus::Packed | OrderStatus::Shipped | OrderStatus::Delivered => {
            return Err(Problem::order_already_paid());
        }
        OrderStatus::Expired => return Err(Problem::order_expired()),
        OrderStatus::Cancelled => return Err(Problem::order_cancelled()),
        OrderStatus::AwaitingPayment if now >= order.payment_due => return Err(Problem::order_expired()),
        OrderStatus::AwaitingPayment => {}
    }
    let payment = Payment::start(&order, now);
    book.open(&payment).await?;
    let request = PaymentRequest {
        payment: payment.id,
        order: order.id,
        amount: payment.amount,
        description: format!("سفارش {} از قهوه میزان", order.id.short_ref()),
    };
    let redirect = gateway.request(&request).await.map_err(|error| {
        tracing::error!(order = %order.id, payment = %payment.id, %error, "the gateway did not open a payment");
        Problem::payment_gateway_unavailable()
    })?;
    book.attach(payment.id, &redirect.authority).await?;
    tracing::info!(order = %order.id, payment = %payment.id, "payment started");
    Ok(Started { payment: payment.id, redirect_url: redirect.url })
}

/// What the customer is told when they come back from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Paid {
        order: OrderId,
        ref_id: Option<RefId>,
    },
    NotPaid {
        order: OrderId,
    },
    /// Paid, but the order could no longer take it: the money goes back.
    Returned {
        order: OrderId,
        reversed: bool,
    },
    /// The gateway could not say: if money was taken, the sweep settles it within minutes.
    Unconfirmed {
        order: OrderId,
    },
}

/// The gateway's word in the customer's return (`Status=OK|NOK`): a hint, never a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnStatus {
    Ok,
    NotOk,
}

/// The customer's browser back from the gateway with a payment's id (from our callback URL) and
/// its authority. A payment that is not there, or whose authority is another, is not found:
/// nothing is verified for a guessed or borrowed authority.
pub async fn return_from_gateway(
    book: &impl PaymentBook,
    gateway: &impl PaymentGateway,
    id: PaymentId,
    authority: &Authority,
    status: ReturnStatus,
    now: OffsetDateTime,
) -> Result<PaymentOutcome, Problem> {
    let payment = book.payment(id).await?.ok_or_else(Problem::not_found)?;
    if payment.authority.as_ref() != Some(authority) {
        tracing::warn!(payment = %id, "a return from the gateway named another authority");
        return Err(Problem::not_found());
    }
    if !payment.status.is_open() {
        return Ok(settled_outcome(&payment));
    }
    match status {
        // The customer cancelled: nothing to ask. Were it paid after all, the sweep finds it.
        ReturnStatus::NotOk => {
            book.fail(payment.id).await?;
            Ok(PaymentOutcome::NotPaid { order: payment.order_id })
        }
        ReturnStatus::Ok => Ok(confirm(book, gateway, &payment, now).await?),
    }
}

/// What a payment settled before comes to, told again without asking the gateway.
fn settled_outcome(payment: &Payment) -> PaymentOutcome {
    let order = payment.order_id;
    match payment.status {
        PaymentStatus::Paid | PaymentStatus::Refunded => {
            PaymentOutcome::Paid { order, ref_id: payment.verified.as_ref().and_then(|v| v.ref_id.clone()) }
        }
        PaymentStatus::Reversed => PaymentOutcome::Returned { order, reversed: true },
        PaymentStatus::RefundDue => PaymentOutcome::Returned { order, reversed: false },
        PaymentStatus::Started | PaymentStatus::Failed => PaymentOutcome::NotPaid { order },
    }
}

/// Asks the gateway about an open payment and settles what it says.
pub(crate) async fn confirm(
    book: &impl PaymentBook,
    gateway: &impl PaymentGateway,
    payment: &Payment,
    now: OffsetDateTime,
) -> Result<PaymentOutcome, StoreError> {
    let order = payment.order_id;
    let Some(authority) = &payment.authority else { return Ok(PaymentOutcome::NotPaid { order }) };
    let (ref_id, card_pan) = match gateway.verify(authority, payment.amount).await {
        Ok(Verification::Paid { ref_id, card_pan }) => (ref_id, card_pan),
        Ok(Verification::NotPaid) => {
            book.fail(payment.id).await?;
            return Ok(PaymentOutcome::NotPaid { order });
        }
        Ok(Verification::Refused(code)) | Err(GatewayError::Refused(code)) => {
            // An amount that does not match, an authority not ours: tampering or a bug, for
            // the operators' alarm. Ids only in the log.
            tracing::error!(payment = %payment.id, %order, code, "the gateway refused to verify a payment");
            return Ok(PaymentOutcome::Unconfirmed { order });
        }
        Err(GatewayError::Unavailable(reason)) => {
            tracing::warn!(payment = %payment.id, %order, %reason, "a payment could not be verified now");
            return Ok(PaymentOutcome::Unconfirmed { order });
        }
    };
    let verified = Verified { ref_id, card_pan, at: now.replace_nanosecond(0).unwrap_or(now) };
    settle(book, gateway, payment, verified).await
}

/// Makes a verified payment count: the order is paid by it, or — when the order expired and its
/// stock has been sold, or another payment paid it first — its money goes back.
///
/// An expired order is revived rather than refunded while its stock can be taken again: the
/// customer paid for coffee, and a refund takes days to reach their card.
async fn settle(
    book: &impl PaymentBook,
    gateway: &impl PaymentGateway,
    payment: &Payment,
    verified: Verified,
) -> Result<PaymentOutcome, StoreError> {
    let order = book.order(payment.order_id).await?.ok_or(StoreError::Corrupt("payment order"))?;
    let announced = order_paid(&order, payment, &verified);
    let mut settlement = book.settle(payment, &verified, &order, false, &announced).await?;
    if settlement == Settlement::OrderNotAwaiting(OrderStatus::Expired) {
        settlement = book.settle(payment, &verified, &order, true, &announced).await?;
    }
    match settlement {
        Settlement::Settled => {
            tracing::info!(order = %order.id, payment = %payment.id, "order paid");
            Ok(PaymentOutcome::Paid { order: order.id, ref_id: verified.ref_id })
        }
        Settlement::AlreadySettled => {
            let settled = book.payment(payment.id).await?.ok_or(StoreError::Corrupt("payment"))?;
            Ok(settled_outcome(&settled))
        }
        Settlement::OrderNotAwaiting(_) | Settlement::SoldOut => {
            give_back(book, gateway, &order, payment, &verified).await
        }
    }
}

fn order_paid(order: &PayableOrder, payment: &Payment, verified: &Verified) -> Envelope {
    let paid = DomainEvent::OrderPaid {
        order_id: order.id,
        account_id: order.account,
        payment_id: payment.id,
        amount: payment.amount,
        paid_at: verified.at,
        ref_id: verified.ref_id.as_ref().map(|ref_id| ref_id.as_str().to_owned()),
    };
    // One per order: whichever payment settles it, the sale is announced once.
    Envelope::once_per(&format!("order-paid#{}", order.id), paid, verified.at)
}

/// Sends a payment's money back through the gateway, or, when it will not, leaves it to the
/// operators (an error in the log, which alarms); the customer is told either way.
async fn give_back(
    book: &impl PaymentBook,
    gateway: &impl PaymentGateway,
    order: &PayableOrder,
    payment: &Payment,
    verified: &Verified,
) -> Result<PaymentOutcome, StoreError> {
    let reversed = match &payment.authority {
        Some(authority) => gateway.reverse(authority).await.unwrap_or_else(|error| {
            tracing::warn!(payment = %payment.id, %error, "the gateway could not reverse a payment");
            false
        }),
        None => false,
    };
    if !reversed {
        tracing::error!(order = %order.id, payment = %payment.id, "a payment must be refunded by hand");
    }
    let returned = DomainEvent::PaymentReturned {
        order_id: order.id,
        account_id: order.account,
        payment_id: payment.id,
        amount: payment.amount,
        reversed,
    };
    let announced = Envelope::once_per(&format!("payment-returned#{}", payment.id), returned, verified.at);
    if !book.record_return(payment, verified, reversed, &announced).await? {
        // Settled meanwhile by a concurrent return: that one's outcome stands.
        let settled = book.payment(payment.id).await?.ok_or(StoreError::Corrupt("payment"))?;
        return Ok(settled_outcome(&settled));
    }
    tracing::info!(order = %order.id, payment = %payment.id, reversed, "a payment its order could not take goes back");
    Ok(PaymentOutcome::Returned { order: order.id, reversed })
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::invoicing::testing::fixtures::now;
    use crate::kernel::money::Rial;
    use crate::ordering::order::Order;
    use crate::payments::ports::UnpaidOrders;
    use crate::payments::testing::{InMemoryGateway, InMemoryTill};

    async fn started(till: &InMemoryTill, gateway: &InMemoryGateway, order: &Order) -> (Payment, Authority) {
        let started = start_payment(till, gateway, order.account, order.id, now()).await.unwrap();
        let payment = till.payment(started.payment).await.unwrap().unwrap();
        let authority = payment.authority.clone().unwrap();
        assert!(started.redirect_url.ends_with(authority.as_str()));
        (payment, authority)
    }

    fn order_paid_events(till: &InMemoryTill) -> usize {
        till.outbox.events().iter().filter(|event| matches!(event, DomainEvent::OrderPaid { .. })).count()
    }

    #[tokio::test]
    async fn a_payment_asks_the_gateway_for_the_orders_total_and_nothing_about_the_customer() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let (payment, authority) = started(&till, &gateway, &order).await;
        assert_eq!(payment.amount, order.priced.total);
        assert_eq!(gateway.payment(&authority).unwrap().amount, order.priced.total);
        assert_eq!(payment.status, PaymentStatus::Started);
    }

    #[tokio::test]
    async fn only_the_owner_pays_and_only_an_unpaid_order_in_its_window() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let stranger = start_payment(&till, &gateway, AccountId::new(), order.id, now()).await;
        assert_eq!(stranger.unwrap_err().code, "not-found");
        let late = start_payment(&till, &gateway, order.account, order.id, order.payment_due).await;
        assert_eq!(late.unwrap_err().code, "order-expired");
        assert!(till.payments().is_empty(), "a refused payment is not opened");
    }

    #[tokio::test]
    async fn a_gateway_that_does_not_answer_charges_nothing_and_says_so() {
        let till = InMemoryTill::default();
        let gateway = InMemoryGateway::down();
        let order = till.unpaid_order(3);
        let refused = start_payment(&till, &gateway, order.account, order.id, now()).await;
        assert_eq!(refused.unwrap_err().code, "payment-gateway-unavailable");
        assert_eq!(till.status(order.id), Some(OrderStatus::AwaitingPayment));
    }

    #[tokio::test]
    async fn a_paid_return_settles_the_order_once_however_often_it_comes_back() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let (payment, authority) = started(&till, &gateway, &order).await;
        gateway.pay(&authority);
        for _ in 0..3 {
            let outcome = return_from_gateway(&till, &gateway, payment.id, &authority, ReturnStatus::Ok, now()).await;
            assert!(matches!(outcome.unwrap(), PaymentOutcome::Paid { ref_id: Some(_), .. }));
        }
        assert_eq!(till.status(order.id), Some(OrderStatus::Paid));
        assert_eq!(order_paid_events(&till), 1);
        let Some(DomainEvent::OrderPaid { amount, paid_at, .. }) = till.outbox.events().pop() else { panic!() };
        assert_eq!((amount, paid_at), (order.priced.total, now()));
        let second = start_payment(&till, &gateway, order.account, order.id, now()).await;
        assert_eq!(second.unwrap_err().code, "order-already-paid");
    }

    #[tokio::test]
    async fn status_ok_without_a_payment_proves_nothing() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let (payment, authority) = started(&till, &gateway, &order).await;
        let outcome = return_from_gateway(&till, &gateway, payment.id, &authority, ReturnStatus::Ok, now()).await;
        assert_eq!(outcome.unwrap(), PaymentOutcome::NotPaid { order: order.id });
        assert_eq!(till.status(order.id), Some(OrderStatus::AwaitingPayment));
        assert_eq!(order_paid_events(&till), 0);
    }

    #[tokio::test]
    async fn another_payments_authority_is_not_found_and_changes_nothing() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let (mine, theirs) = (till.unpaid_order(3), till.unpaid_order(3));
        let (my_payment, _) = started(&till, &gateway, &mine).await;
        let (_, their_authority) = started(&till, &gateway, &theirs).await;
        gateway.pay(&their_authority);
        let outcome =
            return_from_gateway(&till, &gateway, my_payment.id, &their_authority, ReturnStatus::Ok, now()).await;
        assert_eq!(outcome.unwrap_err().code, "not-found");
        assert_eq!(till.status(mine.id), Some(OrderStatus::AwaitingPayment));
        assert_eq!(till.status(theirs.id), Some(OrderStatus::AwaitingPayment));
    }

    #[tokio::test]
    async fn an_amount_that_changed_in_between_is_refused_by_the_gateway() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let (mut payment, authority) = started(&till, &gateway, &order).await;
        gateway.pay(&authority);
        payment.amount = Rial::new(payment.amount.value() - 1);
        let outcome = confirm(&till, &gateway, &payment, now()).await.unwrap();
        assert_eq!(outcome, PaymentOutcome::Unconfirmed { order: order.id });
        assert_eq!(till.status(order.id), Some(OrderStatus::AwaitingPayment));
    }

    #[tokio::test]
    async fn a_cancelled_payment_leaves_the_order_payable() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let (payment, authority) = started(&till, &gateway, &order).await;
        let outcome = return_from_gateway(&till, &gateway, payment.id, &authority, ReturnStatus::NotOk, now()).await;
        assert_eq!(outcome.unwrap(), PaymentOutcome::NotPaid { order: order.id });
        let (again, authority) = started(&till, &gateway, &order).await;
        gateway.pay(&authority);
        let outcome = return_from_gateway(&till, &gateway, again.id, &authority, ReturnStatus::Ok, now()).await;
        assert!(matches!(outcome.unwrap(), PaymentOutcome::Paid { .. }));
    }

    #[tokio::test]
    async fn a_payment_after_expiry_revives_the_order_while_its_stock_lasts() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let (payment, authority) = started(&till, &gateway, &order).await;
        let expired = Envelope::new(DomainEvent::OrderExpired { order_id: order.id, account_id: order.account }, now());
        assert!(till.expire(&PayableOrder::from(&order), &expired).await.unwrap());
        gateway.pay(&authority);
        let later = now() + Duration::HOUR;
        let outcome = return_from_gateway(&till, &gateway, payment.id, &authority, ReturnStatus::Ok, later).await;
        assert!(matches!(outcome.unwrap(), PaymentOutcome::Paid { .. }));
        assert_eq!(till.status(order.id), Some(OrderStatus::Paid));
        assert_eq!(till.stock_of(&order.priced.lines[0].product_id), Some(3), "the stock is taken again");
    }

    #[tokio::test]
    async fn a_payment_after_expiry_and_sell_out_goes_back_to_the_customer() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let order = till.unpaid_order(3);
        let (payment, authority) = started(&till, &gateway, &order).await;
        let expired = Envelope::new(DomainEvent::OrderExpired { order_id: order.id, account_id: order.account }, now());
        till.expire(&PayableOrder::from(&order), &expired).await.unwrap();
        till.set_stock(&order.priced.lines[0].product_id, 0);
        gateway.pay(&authority);
        let outcome = return_from_gateway(&till, &gateway, payment.id, &authority, ReturnStatus::Ok, now()).await;
        assert_eq!(outcome.unwrap(), PaymentOutcome::Returned { order: order.id, reversed: true });
        assert!(gateway.payment(&authority).unwrap().reversed);
        assert_eq!(till.status(order.id), Some(OrderStatus::Expired));
        assert!(till.outbox.events().iter().any(|e| matches!(e, DomainEvent::PaymentReturned { reversed: true, .. })));
        let again = return_from_gateway(&till, &gateway, payment.id, &authority, ReturnStatus::Ok, now()).await;
        assert_eq!(again.unwrap(), PaymentOutcome::Returned { order: order.id, reversed: true });
    }

    #[tokio::test]
    async fn a_second_payment_of_a_paid_order_is_refunded_by_hand_when_the_gateway_will_not() {
        let till = InMemoryTill::default();
        let gateway = InMemoryGateway::refusing_reversal();
        let order = till.unpaid_order(3);
        let (first, first_authority) = started(&till, &gateway, &order).await;
        let (second, second_authority) = started(&till, &gateway, &order).await;
        gateway.pay(&first_authority);
        gateway.pay(&second_authority);
        return_from_gateway(&till, &gateway, first.id, &first_authority, ReturnStatus::Ok, now()).await.unwrap();
        let outcome = return_from_gateway(&till, &gateway, second.id, &second_authority, ReturnStatus::Ok, now()).await;
        assert_eq!(outcome.unwrap(), PaymentOutcome::Returned { order: order.id, reversed: false });
        assert_eq!(till.payment(second.id).await.unwrap().unwrap().status, PaymentStatus::RefundDue);
        assert_eq!(order_paid_events(&till), 1);
    }
}
