//! An order's life after it is placed: one state machine, every step a conditional write that
//! keeps who took it, when and why in the order's history.
//!
//! ```text
//! awaiting_payment ─► paid ─► packed ─► shipped ─► delivered
//!        │   ▲          │        │
//!        ▼   │(late)    ▼        ▼
//!     expired       cancelled ◄──┘   (and awaiting_payment ─► cancelled)
//! ```
//!
//! A late payment may revive an expired order (payments take its stock again). Cancelling puts
//! the stock back; cancelling a paid order also gives the money back (payments) and undoes the
//! sale in the books with a return invoice (invoicing). Delivery and cancellation end the
//! purpose of the recipient's details, which are then kept only `RECIPIENT_KEPT_AFTER_FULFILMENT`
//! longer (P15).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::ids::{AccountId, OrderId, PaymentId};
use crate::kernel::money::Rial;
use crate::kernel::problem::Rejection;
use crate::kernel::text::{TextBoundsError, bounded_text};
use crate::ordering::order::{CartLine, RECIPIENT_MAX_RETENTION};

/// Where an order stands. Its stock is taken from placing until it expires or is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, its stock reserved, waiting to be paid until its `payment_due`.
    AwaitingPayment,
    /// The gateway confirmed the payment: the sale is made, and the order waits to be packed.
    Paid,
    Packed,
    /// Handed to a carrier, with a tracking code.
    Shipped,
    Delivered,
    /// Not paid in time: its stock went back on the shelf.
    Expired,
    /// Cancelled by the customer or the staff before it shipped: its stock went back, and its
    /// money, if it was paid.
    Cancelled,
}

impl OrderStatus {
    const ALL: [Self; 7] = [
        Self::AwaitingPayment,
        Self::Paid,
        Self::Packed,
        Self::Shipped,
        Self::Delivered,
        Self::Expired,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Packed => "packed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether an order in this status may move to `next`: the arrows of the module's diagram.
    pub fn can_become(self, next: Self) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (AwaitingPayment, Paid | Expired | Cancelled)
                | (Expired, Paid)
                | (Paid, Packed | Cancelled)
                | (Packed, Shipped | Cancelled)
                | (Shipped, Delivered)
        )
    }

    /// Paid and not yet delivered: on the staff's packing queue, and the one time staff may see
    /// who receives the parcel (P15).
    pub fn in_fulfilment(self) -> bool {
        matches!(self, Self::Paid | Self::Packed | Self::Shipped)
    }

    /// Whether the sale was made: the order was paid at some point and not given back.
    pub fn is_sold(self) -> bool {
        matches!(self, Self::Paid | Self::Packed | Self::Shipped | Self::Delivered)
    }
}

/// How long the recipient's details are kept once the order is delivered or cancelled, unless
/// configured otherwise (P15): long enough to answer a lost-parcel claim or a return.
pub const RECIPIENT_KEPT_AFTER_FULFILMENT: Duration = Duration::days(30);

/// Who carries a parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// شرکت ملی پست
    IranPost,
    /// تیپاکس
    Tipax,
    /// The store's own courier, in its city.
    Courier,
}

impl Carrier {
    const ALL: [Self; 3] = [Self::IranPost, Self::Tipax, Self::Courier];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IranPost => "iran_post",
            Self::Tipax => "tipax",
            Self::Courier => "courier",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CarrierError> {
        Self::ALL.into_iter().find(|carrier| carrier.as_str() == text).ok_or(CarrierError)
    }

    /// The carrier's name as a customer knows it.
    pub fn persian_name(self) -> &'static str {
        match self {
            Self::IranPost => "پست جمهوری اسلامی ایران",
            Self::Tipax => "تیپاکس",
            Self::Courier => "پیک فروشگاه",
        }
    }

    /// Where the customer follows the parcel; the store's courier has no public tracking.
    pub fn tracking_url(self, code: &TrackingCode) -> Option<String> {
        match self {
            Self::IranPost => Some(format!("https://tracking.post.ir/?id={}", code.as_str())),
            Self::Tipax => Some(format!("https://tipaxco.com/tracking?id={}", code.as_str())),
            Self::Courier => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown carrier")]
pub struct CarrierError;

impl Rejection for CarrierError {
    fn code(&self) -> &'static str {
        "carrier-invalid"
    }
    fn message(&self) -> &'static str {
        "شرکت حمل باید «iran_post» (پست)، «tipax» (تیپاکس) یا «courier» (پیک فروشگاه) باشد."
    }
}

/// A carrier's tracking code: Iran Post's are 24 digits, Tipax's shorter; letters, digits and
/// dashes, 4 to 40 of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingCode(String);

impl TrackingCode {
    pub fn parse(text: &str) -> Result<Self, TrackingCodeError> {
        let code = crate::kernel::text::ascii_digits(text.trim());
        let well_formed =
            (4..=40).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        well_formed.then_some(Self(code)).ok_or(TrackingCodeError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::kernel::newtype::text_code!(TrackingCode, TrackingCodeError);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tracking code")]
pub struct TrackingCodeError;

impl Rejection for TrackingCodeError {
    fn code(&self) -> &'static str {
        "tracking-code-invalid"
    }
    fn message(&self) -> &'static str {
        "کد رهگیری باید ۴ تا ۴۰ نویسه از حروف لاتین، رقم و خط تیره باشد."
    }
}

/// The parcel as handed to its carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: Carrier,
    pub tracking_code: TrackingCode,
}

/// Why an order was cancelled, as the person who cancelled it wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    pub fn parse(text: &str) -> Result<Self, ReasonError> {
        bounded_text(text, 3, 300).map(Self).map_err(ReasonError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Reason {
    type Error = ReasonError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Reason> for String {
    fn from(reason: Reason) -> String {
        reason.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reason: {0}")]
pub struct ReasonError(TextBoundsError);

impl Rejection for ReasonError {
    fn code(&self) -> &'static str {
        "reason-invalid"
    }
    fn message(&self) -> &'static str {
        match self.0 {
            TextBoundsError::Empty => "دلیل را بنویسید.",
            TextBoundsError::TooShort | TextBoundsError::TooLong => "دلیل باید بین ۳ تا ۳۰۰ نویسه باشد.",
            TextBoundsError::Control => "دلیل نویسه‌های نامعتبر دارد.",
        }
    }
}

/// Who moved an order. Staff are kept by account id for the store's own records; the customer
/// is only ever told "the store" or "you".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "account_id", rename_all = "snake_case")]
pub enum Actor {
    Customer(AccountId),
    Staff(AccountId),
    /// The store's own machinery: payment, expiry.
    System,
}

impl Actor {
    pub fn kind(self) -> &'static str {
        match self {
            Self::Customer(_) => "customer",
            Self::Staff(_) => "staff",
            Self::System => "system",
        }
    }
}

/// One step of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(flatten)]
    pub by: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// The payment that paid an order, as the order keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPayment {
    pub payment_id: PaymentId,
    pub paid_at: OffsetDateTime,
    /// The gateway's reference, the number the customer quotes.
    pub ref_id: Option<String>,
}

/// What staff or the customer ask of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Pack,
    Ship(Shipment),
    Deliver,
    Cancel(Option<Reason>),
}

impl Step {
    pub fn target(&self) -> OrderStatus {
        match self {
            Self::Pack => OrderStatus::Packed,
            Self::Ship(_) => OrderStatus::Shipped,
            Self::Deliver => OrderStatus::Delivered,
            Self::Cancel(_) => OrderStatus::Cancelled,
        }
    }
}

/// An order as its life sees it: where it stands and what moving it needs — never who buys it
/// (sealed, P4) or who receives it (kept apart, P15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderProgress {
    pub id: OrderId,
    pub account: AccountId,
    pub status: OrderStatus,
    pub placed_at: OffsetDateTime,
    pub total: Rial,
    pub lines: Vec<CartLine>,
    pub payment: Option<OrderPayment>,
    pub shipment: Option<Shipment>,
    pub history: Vec<Milestone>,
}

/// A step that the order's status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order that is {from:?} cannot become {to:?}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// One step, ready to be written: on condition that the order is still `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub order: OrderId,
    pub from: OrderStatus,
    pub step: Step,
    pub milestone: Milestone,
    /// The stock the order holds, put back when it is cancelled.
    pub released: Vec<CartLine>,
    /// When the recipient's details go, once delivery or cancellation ended their purpose (P15).
    pub recipient_erased_at: Option<OffsetDateTime>,
}

impl Transition {
    pub fn to(&self) -> OrderStatus {
        self.milestone.status
    }

    pub fn shipment(&self) -> Option<&Shipment> {
        match &self.step {
            Step::Ship(shipment) => Some(shipment),
            _ => None,
        }
    }
}

impl OrderProgress {
    /// The transition `step` makes, taken by `by` at `now`; the recipient is then kept for
    /// `recipient_kept` at most.
    pub fn transition(
        &self,
        step: &Step,
        by: Actor,
        recipient_kept: Duration,
        now: OffsetDateTime,
    ) -> Result<Transition, IllegalTransition> {
        let to = step.target();
        if !self.status.can_become(to) {
            return Err(IllegalTransition { from: self.status, to });
        }
        let at = now.replace_nanosecond(0).unwrap_or(now);
        let ends_purpose = matches!(to, OrderStatus::Delivered | OrderStatus::Cancelled);
        let kept_until = self.placed_at + RECIPIENT_MAX_RETENTION;
        Ok(Transition {
            order: self.id,
            from: self.status,
            step: step.clone(),
            milestone: Milestone {
                status: to,
                at,
                by,
                reason: match step {
                    Step::Cancel(reason) => reason.clone(),
                    _ => None,
                },
            },
            released: if to == OrderStatus::Cancelled { self.lines.clone() } else { Vec::new() },
            recipient_erased_at: (ends_purpose && at < kept_until).then(|| (at + recipient_kept).min(kept_until)),
        })
    }

    /// Whether `step` is what already happened to this order: the same request again, which is
    /// answered with the order as it is and changes nothing.
    pub fn already_took(&self, step: &Step) -> bool {
        self.status == step.target()
            && match step {
                Step::Ship(shipment) => self.shipment.as_ref() == Some(shipment),
                _ => true,
            }
    }

    /// What the customer and the staff see of the order's life: its status, each step with when
    /// and by whom ("customer", "staff", "system" — never which staff account), the payment's
    /// reference and the parcel's tracking.
    pub fn life_view(&self) -> serde_json::Value {
        use crate::kernel::clock::timestamp;
        let history: Vec<serde_json::Value> = self
            .history
            .iter()
            .map(|step| {
                serde_json::json!({
                    "status": step.status.as_str(),
                    "at": timestamp(step.at),
                    "by": step.by.kind(),
                    "reason": step.reason.as_ref().map(Reason::as_str),
                })
            })
            .collect();
        serde_json::json!({
            "status": self.status.as_str(),
            "history": history,
            "payment": self.payment.as_ref().map(|paid| serde_json::json!({
                "paid_at": timestamp(paid.paid_at),
                "ref_id": paid.ref_id,
            })),
            "shipment": self.shipment.as_ref().map(|shipment| serde_json::json!({
                "carrier": shipment.carrier.as_str(),
                "carrier_name": shipment.carrier.persian_name(),
                "tracking_code": shipment.tracking_code.as_str(),
                "tracking_url": shipment.carrier.tracking_url(&shipment.tracking_code),
            })),
        })
    }

    /// The money a cancellation from this status gives back: all of it, once paid.
    fn refund_due(&self, from: OrderStatus) -> Option<(PaymentId, Rial)> {
        match from {
            OrderStatus::Paid | OrderStatus::Packed => self.payment.as_ref().map(|paid| (paid.payment_id, self.total)),
            _ => None,
        }
    }

    /// The event that tells the others of `transition`, once per order and status.
    pub fn announce(&self, transition: &Transition) -> Envelope {
        let (order_id, account_id) = (self.id, self.account);
        let event = match &transition.step {
            Step::Pack => DomainEvent::OrderPacked { order_id, account_id },
            Step::Ship(shipment) => DomainEvent::OrderShipped {
                order_id,
                account_id,
                carrier: shipment.carrier,
                tracking_code: shipment.tracking_code.clone(),
            },
            Step::Deliver => DomainEvent::OrderDelivered { order_id, account_id },
            Step::Cancel(_) => {
                let refund = self.refund_due(transition.from);
                DomainEvent::OrderCancelled {
                    order_id,
                    account_id,
                    by_customer: matches!(transition.milestone.by, Actor::Customer(_)),
                    payment_id: refund.map(|(payment, _)| payment),
                    refund: refund.map(|(_, amount)| amount),
                }
            }
        };
        let key = format!("order-{}#{}", transition.to().as_str(), self.id);
        Envelope::once_per(&key, event, transition.milestone.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ids::ProductId;

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn progress(status: OrderStatus) -> OrderProgress {
        OrderProgress {
            id: OrderId::for_checkout(AccountId::new(), "k"),
            account: AccountId::new(),
            status,
            placed_at: at(),
            total: Rial::new(1_090_000),
            lines: vec![CartLine { product_id: ProductId::parse("espresso-250").unwrap(), quantity: 2 }],
            payment: status.is_sold().then(|| OrderPayment {
                payment_id: PaymentId::new(),
                paid_at: at(),
                ref_id: Some("201".into()),
            }),
            shipment: None,
            history: Vec::new(),
        }
    }

    fn shipment() -> Shipment {
        Shipment { carrier: Carrier::Tipax, tracking_code: TrackingCode::parse("TPX-12345").unwrap() }
    }

    #[test]
    fn the_machine_allows_its_arrows_and_nothing_else() {
        use OrderStatus::*;
        let allowed = [
            (AwaitingPayment, Paid),
            (AwaitingPayment, Expired),
            (AwaitingPayment, Cancelled),
            (Expired, Paid),
            (Paid, Packed),
            (Paid, Cancelled),
            (Packed, Shipped),
            (Packed, Cancelled),
            (Shipped, Delivered),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from:?} → {to:?}");
            }
        }
    }

    #[test]
    fn statuses_and_carriers_read_back_what_they_write() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        for carrier in Carrier::ALL {
            assert_eq!(Carrier::parse(carrier.as_str()), Ok(carrier));
        }
        assert!(Carrier::parse("dhl").is_err());
    }

    #[test]
    fn tracking_codes_are_short_latin_codes_typed_in_any_digits() {
        assert_eq!(TrackingCode::parse(" ۱۲۳۴۵۶۷۸۹۰۱۲ ").unwrap().as_str(), "123456789012");
        for bad in ["", "12", "a b c d", "<script>", &"9".repeat(41)] {
            assert!(TrackingCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shipping_a_packed_order_keeps_its_carrier_and_who_shipped_it() {
        let order = progress(OrderStatus::Packed);
        let staff = AccountId::new();
        let transition = order.transition(&Step::Ship(shipment()), Actor::Staff(staff), Duration::DAY, at()).unwrap();
        assert_eq!((transition.from, transition.to()), (OrderStatus::Packed, OrderStatus::Shipped));
        assert_eq!(transition.milestone.by, Actor::Staff(staff));
        assert_eq!(transition.shipment(), Some(&shipment()));
        assert!(transition.released.is_empty());
        assert_eq!(transition.recipient_erased_at, None, "the parcel still has to reach its recipient");
        let Envelope { event: DomainEvent::OrderShipped { carrier, tracking_code, .. }, .. } =
            order.announce(&transition)
        else {
            panic!("not a shipment")
        };
        assert_eq!((carrier, tracking_code.as_str()), (Carrier::Tipax, "TPX-12345"));
    }

    #[test]
    fn an_illegal_step_is_refused_with_where_the_order_stands() {
        let shipped = progress(OrderStatus::Shipped);
        let refused = shipped.transition(&Step::Cancel(None), Actor::System, Duration::DAY, at());
        assert_eq!(refused, Err(IllegalTransition { from: OrderStatus::Shipped, to: OrderStatus::Cancelled }));
        assert!(
            progress(OrderStatus::AwaitingPayment).transition(&Step::Pack, Actor::System, Duration::DAY, at()).is_err()
        );
    }

    #[test]
    fn p15_delivery_and_cancellation_shorten_how_long_the_recipient_is_kept() {
        let kept = Duration::days(30);
        let delivered = progress(OrderStatus::Shipped).transition(&Step::Deliver, Actor::System, kept, at()).unwrap();
        assert_eq!(delivered.recipient_erased_at, Some(at() + kept));
        // Never longer than the order's own limit from placing.
        let late = at() + RECIPIENT_MAX_RETENTION - Duration::days(1);
        let delivered_late =
            progress(OrderStatus::Shipped).transition(&Step::Deliver, Actor::System, kept, late).unwrap();
        assert_eq!(delivered_late.recipient_erased_at, Some(at() + RECIPIENT_MAX_RETENTION));
        let cancelled = progress(OrderStatus::Paid).transition(&Step::Cancel(None), Actor::System, kept, at()).unwrap();
        assert_eq!(cancelled.recipient_erased_at, Some(at() + kept));
    }

    #[test]
    fn cancelling_puts_the_stock_back_and_refunds_only_what_was_paid() {
        let customer = AccountId::new();
        let paid = progress(OrderStatus::Packed);
        let transition = paid.transition(&Step::Cancel(None), Actor::Customer(customer), Duration::DAY, at()).unwrap();
        assert_eq!(transition.released, paid.lines);
        let DomainEvent::OrderCancelled { by_customer, payment_id, refund, .. } = paid.announce(&transition).event
        else {
            panic!("not a cancellation")
        };
        assert!(by_customer);
        assert_eq!(payment_id, paid.payment.as_ref().map(|p| p.payment_id));
        assert_eq!(refund, Some(paid.total));

        let unpaid = progress(OrderStatus::AwaitingPayment);
        let reason = Reason::parse("مشتری منصرف شد").unwrap();
        let transition =
            unpaid.transition(&Step::Cancel(Some(reason)), Actor::Staff(customer), Duration::DAY, at()).unwrap();
        assert_eq!(transition.released, unpaid.lines);
        let DomainEvent::OrderCancelled { refund: None, by_customer: false, .. } = unpaid.announce(&transition).event
        else {
            panic!("an unpaid order has nothing to refund")
        };
    }

    #[test]
    fn a_repeated_step_is_recognised_and_a_different_shipment_is_not() {
        let mut shipped = progress(OrderStatus::Shipped);
        shipped.shipment = Some(shipment());
        assert!(shipped.already_took(&Step::Ship(shipment())));
        let other = Shipment { carrier: Carrier::IranPost, tracking_code: TrackingCode::parse("1234").unwrap() };
        assert!(!shipped.already_took(&Step::Ship(other)));
        assert!(!shipped.already_took(&Step::Deliver));
    }

    #[test]
    fn an_announcement_is_made_once_per_order_and_status() {
        let order = progress(OrderStatus::Paid);
        let pack = |now| order.transition(&Step::Pack, Actor::System, Duration::DAY, now).unwrap();
        let first = order.announce(&pack(at()));
        let again = order.announce(&pack(at() + Duration::SECOND));
        assert_eq!(first.event_id, again.event_id);
    }

    #[test]
    fn a_milestone_reads_back_what_was_written() {
        let milestone = Milestone {
            status: OrderStatus::Cancelled,
            at: at(),
            by: Actor::Staff(AccountId::new()),
            reason: Some(Reason::parse("ناموجود").unwrap()),
        };
        let json = serde_json::to_value(&milestone).unwrap();
        assert_eq!(json["by"], "staff");
        assert_eq!(serde_json::from_value::<Milestone>(json).unwrap(), milestone);
        let system = Milestone { status: OrderStatus::Expired, at: at(), by: Actor::System, reason: None };
        assert_eq!(serde_json::from_value::<Milestone>(serde_json::to_value(&system).unwrap()).unwrap(), system);
    }
}
