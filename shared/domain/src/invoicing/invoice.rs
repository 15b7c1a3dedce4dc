//! The official invoice (فاکتور رسمی) of an order and the VAT certificate of a legal-entity
//! buyer (P8), shaped for Iran's tax system (سامانه مودیان).
//!
//! An invoice is made once, from the stored order — lines, rates and totals exactly as priced —
//! and never changes afterwards: reading it never recomputes anything. A sale undone (a paid
//! order cancelled) keeps its invoice and gets a second one, the return invoice, that names it;
//! a sale whose accepted invoice named the buyer wrongly gets a corrective invoice that names it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::accounts::contact::PostalCode;
use crate::invoicing::tax_id::{MemoryId, TaxId, TaxIdError, tax_id};
use crate::kernel::ids::AccountId;
use crate::kernel::ids::OrderId;
use crate::kernel::money::Rial;
use crate::kernel::persian_words::rials_in_words;
use crate::kernel::solar_hijri::{SolarDate, tehran_date};
use crate::ordering::identity::EconomicCode;
use crate::ordering::order::{Buyer, Order};
use crate::ordering::pricing::PricedLine;

/// The store as the seller of every invoice (configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    pub name: String,
    pub economic_code: EconomicCode,
    pub address: String,
    pub postal_code: PostalCode,
    /// The store's memory id (شناسه یکتای حافظه مالیاتی), the first part of every tax id.
    pub memory_id: MemoryId,
}

/// The invoice's totals, in the tax system's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTotals {
    pub before_discount: Rial,
    pub discount: Rial,
    pub after_discount: Rial,
    pub vat: Rial,
    pub total: Rial,
}

/// How an invoice was paid, as the tax system records it (its `payments[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// The gateway's reference of the payment (`trn`); absent only when the gateway never
    /// repeated it.
    pub tracking_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub paid_at: OffsetDateTime,
    pub amount: Rial,
}

/// Payment method (`pmt`) 5: an internet payment gateway.
pub const PAYMENT_METHOD_GATEWAY: u8 = 5;

/// An issued invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub order_id: OrderId,
    /// Whose order it is: only they may read it.
    pub account: AccountId,
    /// Unique and without gaps across all invoices.
    pub serial: u64,
    pub tax_id: TaxId,
    pub issued_at: OffsetDateTime,
    pub seller_name: String,
    pub seller_economic_code: EconomicCode,
    pub seller_address: String,
    pub seller_postal_code: PostalCode,
    pub buyer: Buyer,
    pub lines: Vec<PricedLine>,
    pub totals: InvoiceTotals,
    pub payment: PaymentRecord,
    pub subject: InvoiceSubject,
}

/// What an invoice records (the tax system's `ins`): a sale; the correction of a sale's accepted
/// invoice; or the return of a sale. The last two name the invoice they follow by its tax id
/// (`irtaxid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceSubject {
    Original,
    Correction { original: TaxId },
    Return { original: TaxId },
}

/// An order has at most one invoice of each kind: its sale's, the correction of that one once the
/// tax system accepted it, and the return when the sale is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceKind {
    Sale,
    Correction,
    Return,
}

impl InvoiceKind {
    /// How requests and listings name it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sale => "sale",
            Self::Correction => "correction",
            Self::Return => "return",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Sale, Self::Correction, Self::Return].into_iter().find(|kind| kind.as_str() == text)
    }
}

impl InvoiceSubject {
    /// The tax system's `ins`: 1 original, 2 corrective, 4 sales return. (3, cancellation, undoes
    /// an invoice issued in error; every invoice here records a payment the gateway confirmed, so
    /// a sale is undone by its return instead.)
    pub fn code(&self) -> u8 {
        match self {
            Self::Original => 1,
            Self::Correction { .. } => 2,
            Self::Return { .. } => 4,
        }
    }

    /// The tax id of the invoice this one follows (`irtaxid`): the one it corrects or returns.
    pub fn references(&self) -> Option<&TaxId> {
        match self {
            Self::Original => None,
            Self::Correction { original } | Self::Return { original } => Some(original),
        }
    }

    /// The tax id of the invoice this one undoes.
    pub fn returns(&self) -> Option<&TaxId> {
        match self {
            Self::Return { original } => Some(original),
            _ => None,
        }
    }

    /// The tax id of the invoice this one corrects.
    pub fn corrects(&self) -> Option<&TaxId> {
        match self {
            Self::Correction { original } => Some(original),
            _ => None,
        }
    }

    pub fn kind(&self) -> InvoiceKind {
        match self {
            Self::Original => InvoiceKind::Sale,
            Self::Correction { .. } => InvoiceKind::Correction,
            Self::Return { .. } => InvoiceKind::Return,
        }
    }
}

/// Invoice type (`inty`) 1: the buyer is identified by their code, as every buyer here is.
pub const INVOICE_TYPE: u8 = 1;
/// Invoice pattern (`inp`) 1: a sale.
pub const INVOICE_PATTERN: u8 = 1;

impl Invoice {
    /// The invoice of `order`, numbered `serial`, issued when it was paid: the sale's moment
    /// decides its day, its month and its VAT period, however late the invoice is made.
    pub fn issue(order: &Order, seller: &Seller, serial: u64, payment: &PaymentRecord) -> Result<Self, TaxIdError> {
        let now = payment.paid_at.replace_nanosecond(0).unwrap_or(payment.paid_at);
        let priced = &order.priced;
        let discount = priced.lines.iter().try_fold(Rial::new(0), |sum, line| sum.checked_add(line.discount));
        let discount = discount.unwrap_or(Rial::new(0));
        Ok(Self {
            order_id: order.id,
            account: order.account,
            serial,
            tax_id: tax_id(&seller.memory_id, now, serial)?,
            issued_at: now,
            seller_name: seller.name.clone(),
            seller_economic_code: seller.economic_code.clone(),
            seller_address: seller.address.clone(),
            seller_postal_code: seller.postal_code.clone(),
            buyer: order.buyer.clone(),
            lines: priced.lines.clone(),
            totals: InvoiceTotals {
                before_discount: priced.subtotal.checked_add(discount).unwrap_or(priced.subtotal),
                discount,
                after_discount: priced.subtotal,
                vat: priced.vat,
                total: priced.total,
            },
            payment: payment.clone(),
            subject: InvoiceSubject::Original,
        })
    }

    /// The return invoice of `original`, numbered `serial`, issued when its sale was undone
    /// (`at`): the same buyer, lines and totals, now given back.
    pub fn returning(original: &Invoice, seller: &Seller, serial: u64, at: OffsetDateTime) -> Result<Self, TaxIdError> {
        let at = at.replace_nanosecond(0).unwrap_or(at);
        Ok(Self {
            serial,
            tax_id: tax_id(&seller.memory_id, at, serial)?,
            issued_at: at,
            subject: InvoiceSubject::Return { original: original.tax_id.clone() },
            ..original.clone()
        })
    }

    /// The corrective invoice of `accepted`, naming `buyer` instead, numbered `serial`, issued
    /// `at`: the same sale — lines, totals, payment — under its own serial and tax id.
    pub fn correcting(
        accepted: &Invoice,
        buyer: Buyer,
        seller: &Seller,
        serial: u64,
        at: OffsetDateTime,
    ) -> Result<Self, TaxIdError> {
        let at = at.replace_nanosecond(0).unwrap_or(at);
        Ok(Self {
            serial,
            tax_id: tax_id(&seller.memory_id, at, serial)?,
            issued_at: at,
            buyer,
            subject: InvoiceSubject::Correction { original: accepted.tax_id.clone() },
            ..accepted.clone()
        })
    }

    /// The issue date in the Solar Hijri calendar, Tehran time.
    pub fn issued_on(&self) -> SolarDate {
        tehran_date(self.issued_at)
    }

    /// «به حروف»: the total in Persian words.
    pub fn total_in_words(&self) -> String {
        rials_in_words(self.totals.total)
    }

    /// Buyer type (`tob`): 1 natural person, 2 legal entity.
    pub fn buyer_type(&self) -> u8 {
        match self.buyer {
            Buyer::Natural { .. } => 1,
            Buyer::Legal { .. } => 2,
        }
    }
}

/// The VAT certificate (گواهی ارزش افزوده) a legal-entity buyer may ask for: the VAT it paid on
/// one invoice, to offset against its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatCertificate {
    pub order_id: OrderId,
    pub invoice_serial: u64,
    pub tax_id: TaxId,
    pub issued_at: OffsetDateTime,
    pub vat: Rial,
    pub total: Rial,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a VAT certificate is for legal-entity buyers only")]
pub struct NotALegalEntity;

impl VatCertificate {
    pub fn for_invoice(invoice: &Invoice, now: OffsetDateTime) -> Result<Self, NotALegalEntity> {
        match invoice.buyer {
            Buyer::Legal { .. } => Ok(Self {
                order_id: invoice.order_id,
                invoice_serial: invoice.serial,
                tax_id: invoice.tax_id.clone(),
                issued_at: now.replace_nanosecond(0).unwrap_or(now),
                vat: invoice.totals.vat,
                total: invoice.totals.total,
            }),
            Buyer::Natural { .. } => Err(NotALegalEntity),
        }
    }
}
