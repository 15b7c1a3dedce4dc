//! Orders: who buys (P8), who receives (P15), what, and for how much.

use time::{Duration, OffsetDateTime};

use crate::accounts::contact::{IranMobile, PostalCode};
use crate::accounts::person::FullName;
use crate::kernel::form::JsonObject;
use crate::kernel::ids::AccountId;
use crate::kernel::ids::OrderId;
use crate::kernel::ids::ProductId;
use crate::kernel::problem::{FieldError, Rejection};
use crate::kernel::text::{TextBoundsError, bounded_text};
use crate::ordering::identity::{EconomicCode, EconomicCodeKind, LegalId, NationalCode};
use crate::ordering::lifecycle::{Milestone, OrderPayment, OrderProgress, OrderStatus, Shipment};
use crate::ordering::pricing::PricedOrder;

/// A cart line may not ask for more than this: no household buys more, and it keeps one
/// mistyped quantity from reserving a whole stock.
pub const MAX_QUANTITY_PER_LINE: u32 = 100;
/// DynamoDB's transaction limit (100 items) bounds an order: its lines plus the order and
/// recipient items.
pub const MAX_LINES: usize = 50;
/// The recipient is kept at most this long after the order is placed (P15): long enough to
/// ship, deliver and handle a return. Delivery or cancellation shortens it (see `lifecycle`).
pub const RECIPIENT_MAX_RETENTION: Duration = Duration::days(90);

/// A company's registered name, as typed (normalised Persian text).
#[derive(Clone, PartialEq, Eq)]
pub struct CompanyName(String);

/// A postal address, as typed (normalised Persian text).
#[derive(Clone, PartialEq, Eq)]
pub struct Address(String);

impl CompanyName {
    pub fn parse(input: &str) -> Result<Self, CompanyNameError> {
        bounded_text(input, 2, 150).map(Self).map_err(CompanyNameError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Address {
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        bounded_text(input, 10, 500).map(Self).map_err(AddressError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid company name: {0}")]
pub struct CompanyNameError(TextBoundsError);

impl Rejection for CompanyNameError {
    fn code(&self) -> &'static str {
        "company-name-invalid"
    }
    fn message(&self) -> &'static str {
        match self.0 {
            TextBoundsError::Empty => "نام شرکت را وارد کنید.",
            TextBoundsError::TooShort | TextBoundsError::TooLong => "نام شرکت باید بین ۲ تا ۱۵۰ نویسه باشد.",
            TextBoundsError::Control => "نام شرکت نویسه‌های نامعتبر دارد.",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address: {0}")]
pub struct AddressError(TextBoundsError);

impl Rejection for AddressError {
    fn code(&self) -> &'static str {
        "address-invalid"
    }
    fn message(&self) -> &'static str {
        match self.0 {
            TextBoundsError::Empty => "نشانی را وارد کنید.",
            TextBoundsError::TooShort | TextBoundsError::TooLong => "نشانی باید بین ۱۰ تا ۵۰۰ نویسه باشد.",
            TextBoundsError::Control => "نشانی نویسه‌های نامعتبر دارد.",
        }
    }
}

/// The error of a cart line (by index) whose product the catalog does not have.
pub fn unknown_product(index: usize) -> FieldError {
    FieldError::new(&format!("items[{index}].product_id"), "product-unknown", "این کالا در فهرست فروشگاه نیست.")
}

/// Who buys, as the official invoice must name them (P8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buyer {
    Natural {
        full_name: FullName,
        national_code: NationalCode,
    },
    /// A company: the official invoice also names its registered postal code.
    Legal {
        company_name: CompanyName,
        economic_code: EconomicCode,
        national_id: LegalId,
        postal_code: PostalCode,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegalBuyerError {
    #[error("a 14-digit economic code belongs to a natural person")]
    NotALegalEntity,
    #[error("the economic code is not the national id")]
    Mismatch,
}

impl Rejection for LegalBuyerError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotALegalEntity => "economic-code-not-legal",
            Self::Mismatch => "economic-code-mismatch",
        }
    }
    fn message(&self) -> &'static str {
        match self {
            Self::NotALegalEntity => {
                "کد اقتصادی ۱۴ رقمی مخصوص اشخاص حقیقی است؛ کد اقتصادی شرکت همان شناسه ملی ۱۱ رقمی آن است."
            }
            Self::Mismatch => "کد اقتصادی شرکت باید با شناسه ملی آن یکی باشد.",
        }
    }
}

impl Buyer {
    /// A legal entity's economic code is its national id (Tax Administration notice 36, 1403).
    pub fn legal(
        company_name: CompanyName,
        economic_code: EconomicCode,
        national_id: LegalId,
        postal_code: PostalCode,
    ) -> Result<Self, LegalBuyerError> {
        match (economic_code.kind(), economic_code.national_id()) {
            (EconomicCodeKind::NaturalPerson, _) | (_, None) => Err(LegalBuyerError::NotALegalEntity),
            (_, Some(id)) if id != national_id => Err(LegalBuyerError::Mismatch),
            _ => Ok(Self::Legal { company_name, economic_code, national_id, postal_code }),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Natural { .. } => "natural",
            Self::Legal { .. } => "legal",
        }
    }

    /// The buyer a form gives (`type` natural with `full_name` and `national_code`, or legal
    /// with `company_name`, `economic_code`, `national_id` and `postal_code`), every mistake
    /// added to `errors`.
    pub fn from_form(form: &JsonObject, errors: &mut Vec<FieldError>) -> Option<Self> {
        match form.required_str("type", errors)? {
            "natural" => {
                let full_name = form.parsed("full_name", FullName::parse, errors);
                let national_code = form.parsed("national_code", NationalCode::parse, errors);
                Some(Self::Natural { full_name: full_name?, national_code: national_code? })
            }
            "legal" => {
                let company_name = form.parsed("company_name", CompanyName::parse, errors);
                let economic_code = form.parsed("economic_code", EconomicCode::parse, errors);
                let national_id = form.parsed("national_id", LegalId::parse, errors);
                let postal_code = form.parsed("postal_code", PostalCode::parse, errors);
                Self::legal(company_name?, economic_code?, national_id?, postal_code?)
                    .map_err(|rejection| errors.push(rejection.at(&form.path_of("economic_code"))))
                    .ok()
            }
            _ => {
                errors.push(FieldError::new(
                    &form.path_of("type"),
                    "buyer-type-invalid",
                    "نوع خریدار باید «natural» (شخص حقیقی) یا «legal» (شخص حقوقی) باشد.",
                ));
                None
            }
        }
    }
}

/// Who receives the parcel: possibly another person, known to the store for this order alone (P15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: FullName,
    pub phone: IranMobile,
    pub address: Address,
    pub postal_code: PostalCode,
}

/// An order as stored, with its recipient while it is kept (P15).
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub order: Order,
    pub recipient: Option<Recipient>,
}

/// What the customer asked for: products and quantities, nothing about prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: u32,
}

/// How long a placed order waits for its payment unless configured otherwise: long enough to
/// find a card and pass the bank's one-time password, short enough that unpaid orders do not
/// hold stock others would buy.
pub const DEFAULT_PAYMENT_WINDOW: Duration = Duration::minutes(30);

/// A priced order, ready to be stored with its stock reservations.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: OrderId,
    /// The hash of the checkout request that made the order: a retry with the same key finds
    /// its order, a different request under a reused key is refused, even after the
    /// idempotency record has expired.
    pub request_hash: String,
    pub account: AccountId,
    pub buyer: Buyer,
    pub priced: PricedOrder,
    pub status: OrderStatus,
    pub placed_at: OffsetDateTime,
    /// Unpaid by then, the order expires and its stock is released.
    pub payment_due: OffsetDateTime,
    pub payment: Option<OrderPayment>,
    pub shipment: Option<Shipment>,
    /// Every status it took, oldest first, with who moved it.
    pub history: Vec<Milestone>,
}

impl Order {
    /// When the recipient's details are erased if fulfilment never shortens it (P15).
    pub fn recipient_erasure_at(&self) -> OffsetDateTime {
        self.placed_at + RECIPIENT_MAX_RETENTION
    }

    /// The order as its life sees it, without its buyer.
    pub fn progress(&self) -> OrderProgress {
        OrderProgress {
            id: self.id,
            account: self.account,
            status: self.status,
            placed_at: self.placed_at,
            total: self.priced.total,
            lines: self.priced.cart(),
            payment: self.payment.clone(),
            shipment: self.shipment.clone(),
            history: self.history.clone(),
        }
    }
}

// Redacted like every name: a sole trader's registered name is a person's name.
crate::kernel::newtype::redacted_debug!(Address, CompanyName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p8_a_legal_buyers_economic_code_must_be_its_national_id() {
        let name = CompanyName::parse("شرکت قهوه‌پردازان").unwrap();
        let id = LegalId::parse("10380284790").unwrap();
        let postal = || PostalCode::parse("1435734561").unwrap();
        assert!(Buyer::legal(name.clone(), EconomicCode::parse("10380284790").unwrap(), id.clone(), postal()).is_ok());
        assert_eq!(
            Buyer::legal(name.clone(), EconomicCode::parse("10840096498").unwrap(), id.clone(), postal()),
            Err(LegalBuyerError::Mismatch)
        );
        assert_eq!(
            Buyer::legal(name, EconomicCode::parse("00762296450001").unwrap(), id, postal()),
            Err(LegalBuyerError::NotALegalEntity)
        );
    }

    #[test]
    fn an_order_id_is_the_same_for_the_same_customer_and_key_only() {
        let (a, b) = (AccountId::new(), AccountId::new());
        assert_eq!(OrderId::for_checkout(a, "k1"), OrderId::for_checkout(a, "k1"));
        assert_ne!(OrderId::for_checkout(a, "k1"), OrderId::for_checkout(a, "k2"));
        assert_ne!(OrderId::for_checkout(a, "k1"), OrderId::for_checkout(b, "k1"));
        let id = OrderId::for_checkout(a, "k1");
        assert_eq!(OrderId::parse(&id.to_string()), Some(id));
    }

    #[test]
    fn addresses_and_company_names_are_normalised_and_bounded() {
        assert_eq!(
            Address::parse("  تهران،  خیابان ولیعصر، كوچه ۱۲  ").unwrap().as_str(),
            "تهران، خیابان ولیعصر، کوچه ۱۲"
        );
        assert!(Address::parse("کوتاه").is_err());
        assert!(Address::parse(&"ب".repeat(501)).is_err());
        assert!(Address::parse("تهران\u{0000} خیابان ولیعصر").is_err());
        assert!(CompanyName::parse("").is_err());
    }
}
