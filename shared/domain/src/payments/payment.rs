//! One attempt to pay an order, and what the gateway names it by.

use time::OffsetDateTime;

use crate::kernel::ids::{AccountId, OrderId, PaymentId};
use crate::kernel::money::Rial;
use crate::kernel::problem::Rejection;
use crate::payments::ports::PayableOrder;

/// The gateway's handle of one payment (Zarinpal's `authority`: 36 letters and digits). It
/// comes back in the customer's browser, so it is parsed like any input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a gateway authority is 1-64 ASCII letters and digits")]
pub struct AuthorityError;

impl Rejection for AuthorityError {
    fn code(&self) -> &'static str {
        "gateway-authority-invalid"
    }
    fn message(&self) -> &'static str {
        "شناسهٔ پرداخت درگاه معتبر نیست."
    }
}

impl Authority {
    pub fn parse(text: &str) -> Result<Self, AuthorityError> {
        let fits = (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
        fits.then(|| Self(text.to_owned())).ok_or(AuthorityError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The gateway's reference of a successful payment (Zarinpal's `ref_id`): the number the
/// customer quotes to their bank and to us, and the tracking number on the official invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefId(String);

impl RefId {
    pub fn parse(text: &str) -> Option<Self> {
        let fits = (1..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
        fits.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The card that paid, as the gateway shows it (`60379986****5434`): never a whole card number,
/// which this type refuses to hold.
#[derive(Clone, PartialEq, Eq)]
pub struct MaskedPan(String);

impl MaskedPan {
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.bytes().filter(u8::is_ascii_digit).count();
        let masked = text.bytes().filter(|b| *b == b'*').count();
        let fits = (12..=19).contains(&text.len()) && digits + masked == text.len() && masked >= 4 && digits <= 12;
        fits.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::kernel::newtype::redacted_debug!(MaskedPan);

/// Where a payment stands. Only `Started` and `Failed` may still turn out paid: a customer who
/// cancelled may have paid on a second try of the same page, and only the gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Sent to the gateway; the customer has not come back, or came back without paying.
    Started,
    /// The gateway said it was not paid (the customer cancelled, the card was refused).
    Failed,
    /// Verified by the gateway, and the order is paid by it.
    Paid,
    /// Verified, but its order could no longer take it: the gateway gave the money back.
    Reversed,
    /// Verified, but its money must go back and the gateway would not take it back (its order
    /// could no longer take it, or was cancelled): the operators refund it by hand.
    RefundDue,
    /// Paid its order, which was then cancelled: the gateway gave the money back.
    Refunded,
}

impl PaymentStatus {
    const ALL: [Self; 6] = [Self::Started, Self::Failed, Self::Paid, Self::Reversed, Self::RefundDue, Self::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Failed => "failed",
            Self::Paid => "paid",
            Self::Reversed => "reversed",
            Self::RefundDue => "refund_due",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether the gateway may still report this payment paid.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Started | Self::Failed)
    }
}

/// The gateway's number for a refund it took: what the customer quotes to their bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReference(String);

impl RefundReference {
    pub fn parse(text: &str) -> Option<Self> {
        let fits = (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        fits.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a cancelled order's payment went back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// Reversed by the gateway within its window: the whole amount, back on the card at once.
    Reversed,
    /// A refund the gateway took after its window, with its number when it gave one.
    Refunded { reference: Option<RefundReference> },
    /// The gateway would not take it back: the operators refund it by hand.
    Due,
}

/// What the gateway said of a payment it verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Absent when the gateway answered "verified before" without repeating it.
    pub ref_id: Option<RefId>,
    pub card_pan: Option<MaskedPan>,
    /// When we learned it was paid: the sale's time, on the invoice and in every period.
    pub at: OffsetDateTime,
}

/// One attempt to pay one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub order_id: OrderId,
    pub account: AccountId,
    /// The order's total when the attempt started, from our own records: what the gateway is
    /// asked to take and, later, to confirm it took.
    pub amount: Rial,
    /// Set once the gateway accepted the request.
    pub authority: Option<Authority>,
    pub status: PaymentStatus,
    pub started_at: OffsetDateTime,
    pub verified: Option<Verified>,
}

impl Payment {
    pub fn start(order: &PayableOrder, now: OffsetDateTime) -> Self {
        Self {
            id: PaymentId::new(),
            order_id: order.id,
            account: order.account,
            amount: order.total,
            authority: None,
            status: PaymentStatus::Started,
            started_at: now.replace_nanosecond(0).unwrap_or(now),
            verified: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_are_letters_and_digits_only() {
        assert!(Authority::parse("A00000000000000000000000000217885159").is_ok());
        assert!(Authority::parse("S000000000000000000000000000000abcde").is_ok());
        for bad in ["", "A0000-1", "A000'; --", "آ۱۲۳", &"A".repeat(65)] {
            assert_eq!(Authority::parse(bad), Err(AuthorityError), "{bad}");
        }
    }

    #[test]
    fn p4_a_card_number_is_kept_masked_or_not_at_all() {
        assert_eq!(
            MaskedPan::parse("60379986****5434").map(|pan| pan.as_str().to_owned()),
            Some("60379986****5434".into())
        );
        assert_eq!(MaskedPan::parse("6037998612345434"), None, "a whole card number is refused");
        assert_eq!(MaskedPan::parse("6037-****-5434"), None);
        assert!(!format!("{:?}", MaskedPan::parse("60379986****5434").unwrap()).contains("5434"));
    }

    #[test]
    fn statuses_read_back_and_only_unsettled_ones_are_open() {
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
        assert!(PaymentStatus::Failed.is_open());
        assert!(!PaymentStatus::Paid.is_open() && !PaymentStatus::Reversed.is_open());
    }
}
