//! Domain events: what one function tells the others through the events topic.
//!
//! Events name accounts by id only; the notification function looks contacts up itself, so
//! addresses and phone numbers never travel through SNS (P4). The one secret an event carries
//! is a verification token or code: in clear only in its message and in the outbox table, which
//! no function reads (they may only add to it; the relay reads its stream) and which forgets it
//! with the event (15 days), long after the token (24 h) or code (15 min) stopped working.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::kernel::ids::AccountId;
use crate::kernel::ids::OrderId;
use crate::kernel::ids::PaymentId;
use crate::kernel::ids::ProductId;
use crate::kernel::ids::ReviewId;
use crate::kernel::money::Rial;
use crate::ordering::lifecycle::{Carrier, TrackingCode};

/// An event with the id that makes its effects happen once (redelivery carries the same id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(flatten)]
    pub event: DomainEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DomainEvent {
    /// A new account's email must be proven: send the link with this token.
    EmailVerificationRequested {
        account_id: AccountId,
        token: String,
    },
    /// A new account's phone must be proven: send this code by SMS.
    PhoneVerificationRequested {
        account_id: AccountId,
        code: String,
    },
    /// The owner of a verified email asked for a new password: send the link with this token.
    PasswordResetRequested {
        account_id: AccountId,
        token: String,
    },
    /// A customer asked to change their email: send the link with this token to the new address
    /// the account holds as pending, and tell the current one (until the new one is proven, the
    /// current one is the account's).
    EmailChangeRequested {
        account_id: AccountId,
        token: String,
    },
    /// A customer asked to change their mobile number: send this code to the new number the
    /// account holds as pending, and tell the current one.
    PhoneChangeRequested {
        account_id: AccountId,
        code: String,
    },
    /// An account's password was set anew, by its owner or through a reset link: tell the
    /// owner, who can act at once if it was not them.
    PasswordChanged {
        account_id: AccountId,
    },
    /// Someone tried to sign up with an email that already has an account: tell its owner.
    SignupAttemptedOnExistingAccount {
        account_id: AccountId,
    },
    /// An order was placed and awaits its payment: confirm it to the customer. Ids and the total
    /// only; whoever needs more reads the order.
    OrderPlaced {
        order_id: OrderId,
        account_id: AccountId,
        total: Rial,
    },
    /// The gateway confirmed an order's payment: issue its invoice (dated by `paid_at`, so a late
    /// delivery dates nothing differently) and send the customer a receipt. The gateway's
    /// reference (`ref_id`) is the number the customer quotes; no card number travels.
    OrderPaid {
        order_id: OrderId,
        account_id: AccountId,
        payment_id: PaymentId,
        amount: Rial,
        #[serde(with = "time::serde::rfc3339")]
        paid_at: OffsetDateTime,
        ref_id: Option<String>,
    },
    /// An order was not paid in time: its stock is back on the shelf; tell the customer.
    OrderExpired {
        order_id: OrderId,
        account_id: AccountId,
    },
    /// Staff packed a paid order.
    OrderPacked {
        order_id: OrderId,
        account_id: AccountId,
    },
    /// A parcel left with its carrier: tell the customer how to follow it.
    OrderShipped {
        order_id: OrderId,
        account_id: AccountId,
        carrier: Carrier,
        tracking_code: TrackingCode,
    },
    OrderDelivered {
        order_id: OrderId,
        account_id: AccountId,
    },
    /// An order was cancelled before it shipped, its stock put back in the same transaction.
    /// When it had been paid, `payment_id` and `refund` say what to give back (payments) and
    /// that the sale is undone in the books (invoicing: a return invoice).
    OrderCancelled {
        order_id: OrderId,
        account_id: AccountId,
        by_customer: bool,
        payment_id: Option<PaymentId>,
        refund: Option<Rial>,
    },
    /// A cancelled order's money went back through the gateway: `reference` is the gateway's
    /// number for the refund, when it gives one.
    PaymentRefunded {
        order_id: OrderId,
        account_id: AccountId,
        payment_id: PaymentId,
        amount: Rial,
        reference: Option<String>,
    },
    /// A payment came for an order that could no longer take it (expired and sold out, or paid
    /// already): its money goes back, by the gateway at once (`reversed`) or by the operators.
    PaymentReturned {
        order_id: OrderId,
        account_id: AccountId,
        payment_id: PaymentId,
        amount: Rial,
        reversed: bool,
    },
    /// An order's official invoice was issued: send it to the customer.
    InvoiceIssued {
        order_id: OrderId,
        account_id: AccountId,
    },
    /// A review was posted or reposted (ids only).
    ReviewPosted {
        review_id: ReviewId,
        product_id: ProductId,
        account_id: AccountId,
    },
    /// A marketing campaign (published by an operator): send it to every customer who consents.
    CampaignPublished {
        campaign_id: uuid::Uuid,
        subject: String,
        text: String,
    },
    /// A customer closed their account: what other functions keep of it follows (their reviews
    /// lose the name they showed).
    AccountClosed {
        account_id: AccountId,
    },
}

impl DomainEvent {
    /// The account the event is about; a campaign is about everyone who consents.
    pub fn account_id(&self) -> Option<AccountId> {
        Some(match self {
            Self::EmailVerificationRequested { account_id, .. }
            | Self::PhoneVerificationRequested { account_id, .. }
            | Self::PasswordResetRequested { account_id, .. }
            | Self::EmailChangeRequested { account_id, .. }
            | Self::PhoneChangeRequested { account_id, .. }
            | Self::PasswordChanged { account_id }
            | Self::SignupAttemptedOnExistingAccount { account_id }
            | Self::OrderPlaced { account_id, .. }
            | Self::OrderPaid { account_id, .. }
            | Self::OrderExpired { account_id, .. }
            | Self::OrderPacked { account_id, .. }
            | Self::OrderShipped { account_id, .. }
            | Self::OrderDelivered { account_id, .. }
            | Self::OrderCancelled { account_id, .. }
            | Self::PaymentRefunded { account_id, .. }
            | Self::PaymentReturned { account_id, .. }
            | Self::InvoiceIssued { account_id, .. }
            | Self::ReviewPosted { account_id, .. }
            | Self::AccountClosed { account_id } => *account_id,
            Self::CampaignPublished { .. } => return None,
        })
    }

    /// Whether only an operator may publish it: a campaign reaches every consenting customer, so
    /// no function — whatever its code came to — may announce one.
    pub fn operator_only(&self) -> bool {
        matches!(self, Self::CampaignPublished { .. })
    }

    /// The `type` message attribute, so subscriptions can filter without parsing bodies.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::EmailVerificationRequested { .. } => "EmailVerificationRequested",
            Self::PhoneVerificationRequested { .. } => "PhoneVerificationRequested",
            Self::PasswordResetRequested { .. } => "PasswordResetRequested",
            Self::EmailChangeRequested { .. } => "EmailChangeRequested",
            Self::PhoneChangeRequested { .. } => "PhoneChangeRequested",
            Self::PasswordChanged { .. } => "PasswordChanged",
            Self::SignupAttemptedOnExistingAccount { .. } => "SignupAttemptedOnExistingAccount",
            Self::OrderPlaced { .. } => "OrderPlaced",
            Self::OrderPaid { .. } => "OrderPaid",
            Self::OrderExpired { .. } => "OrderExpired",
            Self::OrderPacked { .. } => "OrderPacked",
            Self::OrderShipped { .. } => "OrderShipped",
            Self::OrderDelivered { .. } => "OrderDelivered",
            Self::OrderCancelled { .. } => "OrderCancelled",
            Self::PaymentRefunded { .. } => "PaymentRefunded",
            Self::PaymentReturned { .. } => "PaymentReturned",
            Self::InvoiceIssued { .. } => "InvoiceIssued",
            Self::ReviewPosted { .. } => "ReviewPosted",
            Self::CampaignPublished { .. } => "CampaignPublished",
            Self::AccountClosed { .. } => "AccountClosed",
        }
    }
}

impl Envelope {
    pub fn new(event: DomainEvent, now: OffsetDateTime) -> Self {
        Self { event_id: uuid::Uuid::now_v7(), occurred_at: now, event }
    }

    /// An event whose id is derived from what makes it unique, so that publishing it again —
    /// a retry, or a stranger repeating a request — has its effects once.
    pub fn once_per(key: &str, event: DomainEvent, now: OffsetDateTime) -> Self {
        Self { event_id: crate::kernel::ids::derived("event", &[key]), occurred_at: now, event }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_what_was_written() {
        let envelope = Envelope::new(
            DomainEvent::PhoneVerificationRequested { account_id: AccountId::new(), code: "012345".into() },
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        );
        let json = serde_json::to_string(&envelope).unwrap();
        assert!(json.contains(r#""type":"PhoneVerificationRequested""#), "{json}");
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope);
    }

    #[test]
    fn an_event_published_once_per_key_keeps_its_id() {
        let account_id = AccountId::new();
        let event = || DomainEvent::SignupAttemptedOnExistingAccount { account_id };
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(Envelope::once_per("a", event(), now).event_id, Envelope::once_per("a", event(), now).event_id);
        assert_ne!(Envelope::once_per("a", event(), now).event_id, Envelope::once_per("b", event(), now).event_id);
    }

    #[test]
    fn the_type_attribute_matches_the_serialised_tag() {
        let event = DomainEvent::SignupAttemptedOnExistingAccount { account_id: AccountId::new() };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], event.type_name());
    }
}
