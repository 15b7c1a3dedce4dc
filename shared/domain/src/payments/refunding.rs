//! Refunding a cancelled order's payment: reversed by the gateway while it still can, refunded
//! through it after that, left to the operators when it will do neither. However often and
//! however concurrently the cancellation is delivered, the money goes back once: the gateway
//! refunds a payment at most its amount, and the payment is recorded refunded by a conditional
//! write.

use time::{Duration, OffsetDateTime};

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::PaymentId;
use crate::kernel::money::Rial;
use crate::payments::payment::{Payment, PaymentStatus, Refund};
use crate::payments::ports::{GatewayError, PaymentBook, PaymentGateway, RefundAnswer};

/// How long after a payment a reversal is worth asking for. The gateway allows 30 minutes from
/// its own record of the payment, which precedes our verification; past this a reversal would
/// only be refused.
pub const REVERSAL_WORTH_ASKING: Duration = Duration::minutes(25);

/// The gateway refunds no less than this (Zarinpal: 20,000 Rial); a smaller payment that can no
/// longer be reversed is refunded by hand.
pub const REFUND_MINIMUM: Rial = Rial::new(20_000);

/// What became of a cancellation's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Its money went back (or is due from the operators), recorded now.
    Recorded(Refund),
    /// Recorded before, by an earlier or concurrent delivery of the same cancellation.
    AlreadyRecorded,
    /// The payment never paid anything: nothing to give back.
    NothingPaid,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The gateway could not be asked now: the cancellation is delivered again later, and a
    /// refund that did go through meanwhile is found already made.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// Gives back the payment of a cancelled order, and records how, with `PaymentRefunded` when
/// the gateway took it back.
pub async fn refund_cancelled(
    book: &impl PaymentBook,
    gateway: &impl PaymentGateway,
    payment_id: PaymentId,
    now: OffsetDateTime,
) -> Result<RefundOutcome, RefundError> {
    let payment = book.payment(payment_id).await?.ok_or(StoreError::Corrupt("cancelled order's payment"))?;
    match payment.status {
        PaymentStatus::Paid => {}
        PaymentStatus::Refunded | PaymentStatus::RefundDue | PaymentStatus::Reversed => {
            return Ok(RefundOutcome::AlreadyRecorded);
        }
        PaymentStatus::Started | PaymentStatus::Failed => {
            tracing::error!(payment = %payment.id, "a cancelled order names a payment that paid nothing");
            return Ok(RefundOutcome::NothingPaid);
        }
    }
    let refund = give_back(gateway, &payment, now).await?;
    let at = now.replace_nanosecond(0).unwrap_or(now);
    let announced = refunded(&payment, &refund, at);
    if !book.record_refund(&payment, &refund, at, announced.as_ref()).await? {
        return Ok(RefundOutcome::AlreadyRecorded);
    }
    if refund == Refund::Due {
        tracing::error!(order = %payment.order_id, payment = %payment.id, "a payment must be refunded by hand");
    } else {
        tracing::info!(order = %payment.order_id, payment = %payment.id, "a cancelled order's payment went back");
    }
    Ok(RefundOutcome::Recorded(refund))
}

/// Asks the gateway for the money back: a reversal first while it may still take one, a refund
/// otherwise (or when it would not reverse).
async fn give_back(
    gateway: &impl PaymentGateway,
    payment: &Payment,
    now: OffsetDateTime,
) -> Result<Refund, GatewayError> {
    let Some(verified) = &payment.verified else { return Ok(Refund::Due) };
    if let Some(authority) = &payment.authority
        && now - verified.at < REVERSAL_WORTH_ASKING
        && gateway.reverse(authority).await?
    {
        return Ok(Refund::Reversed);
    }
    let Some(ref_id) = &verified.ref_id else {
        tracing::warn!(payment = %payment.id, "a payment without the gateway's reference cannot be refunded through it");
        return Ok(Refund::Due);
    };
    if payment.amount < REFUND_MINIMUM {
        return Ok(Refund::Due);
    }
    let description = format!("بازپرداخت سفارش لغوشدهٔ {} از قهوه میزان", payment.order_id.short_ref());
    Ok(match gateway.refund(ref_id, payment.amount, &description).await? {
        RefundAnswer::Accepted { reference } => Refund::Refunded { reference },
        RefundAnswer::AlreadyRefunded => Refund::Refunded { reference: None },
        RefundAnswer::Refused(reason) => {
            tracing::warn!(payment = %payment.id, %reason, "the gateway refused a refund");
            Refund::Due
        }
    })
}

/// `PaymentRefunded`, once per payment, when the gateway took the money back; none for a refund
/// left to the operators (the customer was told at cancellation that it follows).
fn refunded(payment: &Payment, refund: &Refund, at: OffsetDateTime) -> Option<Envelope> {
    let reference = match refund {
        Refund::Reversed => payment.verified.as_ref().and_then(|v| v.ref_id.as_ref()).map(|r| r.as_str().to_owned()),
        Refund::Refunded { reference } => reference.as_ref().map(|r| r.as_str().to_owned()),
        Refund::Due => return None,
    };
    let event = DomainEvent::PaymentRefunded {
        order_id: payment.order_id,
        account_id: payment.account,
        payment_id: payment.id,
        amount: payment.amount,
        reference,
    };
    Some(Envelope::once_per(&format!("payment-refunded#{}", payment.id), event, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::testing::fixtures::now;
    use crate::payments::paying::{PaymentOutcome, ReturnStatus, return_from_gateway, start_payment};
    use crate::payments::payment::RefId;
    use crate::payments::testing::{InMemoryGateway, InMemoryTill};

    /// A payment that paid its order at `now()`.
    async fn paid(till: &InMemoryTill, gateway: &InMemoryGateway) -> Payment {
        let order = till.unpaid_order(3);
        let started = start_payment(till, gateway, order.account, order.id, now()).await.unwrap();
        let payment = till.payment(started.payment).await.unwrap().unwrap();
        let authority = payment.authority.clone().unwrap();
        gateway.pay(&authority);
        let outcome = return_from_gateway(till, gateway, payment.id, &authority, ReturnStatus::Ok, now()).await;
        assert!(matches!(outcome.unwrap(), PaymentOutcome::Paid { .. }));
        till.payment(payment.id).await.unwrap().unwrap()
    }

    fn refund_events(till: &InMemoryTill) -> Vec<DomainEvent> {
        let events = till.outbox.events().into_iter();
        events.filter(|event| matches!(event, DomainEvent::PaymentRefunded { .. })).collect()
    }

    #[tokio::test]
    async fn a_payment_cancelled_soon_after_it_was_made_is_reversed_once() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let payment = paid(&till, &gateway).await;
        let soon = now() + Duration::minutes(5);
        let outcome = refund_cancelled(&till, &gateway, payment.id, soon).await.unwrap();
        assert_eq!(outcome, RefundOutcome::Recorded(Refund::Reversed));
        let at_gateway = gateway.payment(payment.authority.as_ref().unwrap()).unwrap();
        assert!(at_gateway.reversed && at_gateway.refunded.value() == 0);
        assert_eq!(till.payment(payment.id).await.unwrap().unwrap().status, PaymentStatus::Refunded);
        let again = refund_cancelled(&till, &gateway, payment.id, soon).await.unwrap();
        assert_eq!(again, RefundOutcome::AlreadyRecorded);
        let events = refund_events(&till);
        let [DomainEvent::PaymentRefunded { amount, reference, .. }] = events.as_slice() else {
            panic!("one PaymentRefunded")
        };
        assert_eq!(*amount, payment.amount);
        assert_eq!(reference.as_deref(), payment.verified.unwrap().ref_id.as_ref().map(RefId::as_str));
    }

    #[tokio::test]
    async fn after_the_reversal_window_the_whole_amount_is_refunded_with_the_gateways_reference() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let payment = paid(&till, &gateway).await;
        let later = now() + Duration::days(2);
        let outcome = refund_cancelled(&till, &gateway, payment.id, later).await.unwrap();
        let RefundOutcome::Recorded(Refund::Refunded { reference: Some(reference) }) = outcome else { panic!() };
        let at_gateway = gateway.payment(payment.authority.as_ref().unwrap()).unwrap();
        assert!(!at_gateway.reversed);
        assert_eq!(at_gateway.refunded, payment.amount);
        let events = refund_events(&till);
        let [DomainEvent::PaymentRefunded { reference: announced, .. }] = events.as_slice() else {
            panic!("one PaymentRefunded")
        };
        assert_eq!(announced.as_deref(), Some(reference.as_str()));
    }

    #[tokio::test]
    async fn a_gateway_that_will_not_reverse_is_asked_for_a_refund_instead() {
        let till = InMemoryTill::default();
        let gateway = InMemoryGateway::refusing_reversal();
        let payment = paid(&till, &gateway).await;
        let outcome = refund_cancelled(&till, &gateway, payment.id, now()).await.unwrap();
        assert!(matches!(outcome, RefundOutcome::Recorded(Refund::Refunded { reference: Some(_) })));
        assert_eq!(gateway.payment(payment.authority.as_ref().unwrap()).unwrap().refunded, payment.amount);
    }

    #[tokio::test]
    async fn a_refund_whose_answer_was_lost_is_not_made_twice() {
        let (till, gateway) = (InMemoryTill::default(), InMemoryGateway::default());
        let payment = paid(&till, &gateway).await;
        let ref_id = payment.verified.as_ref().and_then(|v| v.ref_id.clone()).unwrap();
        // The first delivery's refund reached the gateway; its answer, and the record, did not.
        gateway.refund(&ref_id, payment.amount, "lost").await.unwrap();
        let outcome = refund_cancelled(&till, &gateway, payment.id, now() + Duration::days(1)).await.unwrap();
        assert_eq!(outcome, RefundOutcome::Recorded(Refund::Refunded { reference: None }));
        assert_eq!(gateway.payment(payment.authority.as_ref().unwrap()).unwrap().refunded, payment.amount);
        assert_eq!(refund_events(&till).len(), 1);
    }

    #[tokio::test]
    async fn a_gateway_that_is_down_leaves_the_payment_paid_for_the_next_delivery() {
        let till = InMemoryTill::default();
        let mut gateway = InMemoryGateway::default();
        let payment = paid(&till, &gateway).await;
        gateway.down = true;
        let failed = refund_cancelled(&till, &gateway, payment.id, now()).await;
        assert!(matches!(failed, Err(RefundError::Gateway(GatewayError::Unavailable(_)))));
        assert_eq!(till.payment(payment.id).await.unwrap().unwrap().status, PaymentStatus::Paid);
        gateway.down = false;
        let outcome = refund_cancelled(&till, &gateway, payment.id, now()).await.unwrap();
        assert_eq!(outcome, RefundOutcome::Recorded(Refund::Reversed));
    }

    #[tokio::test]
    async fn what_the_gateway_will_not_give_back_is_left_to_the_operators_without_a_refund_message() {
        let till = InMemoryTill::default();
        let gateway = InMemoryGateway::refusing_reversal();
        let mut payment = paid(&till, &gateway).await;
        payment.verified.as_mut().unwrap().ref_id = None;
        till.replace_payment(&payment);
        let outcome = refund_cancelled(&till, &gateway, payment.id, now()).await.unwrap();
        assert_eq!(outcome, RefundOutcome::Recorded(Refund::Due));
        assert_eq!(till.payment(payment.id).await.unwrap().unwrap().status, PaymentStatus::RefundDue);
        assert!(refund_events(&till).is_empty());
        assert_eq!(gateway.payment(payment.authority.as_ref().unwrap()).unwrap().refunded.value(), 0);
    }
}
