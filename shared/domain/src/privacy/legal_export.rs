//! Answering a legal request (P3): what an authority's request is, what the store holds about
//! its subject, the one document that discloses it, and the order of events that makes every
//! disclosure auditable — the audit record is written first, and an export whose record cannot
//! be written discloses nothing.
//!
//! A subject is named by customer id, email, phone or national code. The first three find an
//! account, whose data go out in full; a national code finds the orders (and their invoices)
//! whose buyer carries it, and only those: the account that placed such an order may belong to
//! someone else (a relative buying on the subject's behalf), so its profile is not the
//! subject's and would need a request of its own (by the customer id the document names).

use std::net::IpAddr;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::accounts::abuse_limits::{Limit, Window};
use crate::accounts::account::{Role, TermsAcceptance};
use crate::accounts::contact::{Email, IranMobile};
use crate::accounts::person::FullName;
use crate::accounts::ports::{AccountStore, Counters};
use crate::invoicing::invoice::{Invoice, InvoiceKind};
use crate::invoicing::ports::InvoiceBook;
use crate::invoicing::tax_id::TaxId;
use crate::kernel::clock::timestamp;
use crate::kernel::failures::StoreError;
use crate::kernel::form::JsonObject;
use crate::kernel::ids::{AccountId, OrderId};
use crate::kernel::ports::IpRecord;
use crate::kernel::problem::{FieldError, Rejection};
use crate::kernel::solar_hijri::SolarDate;
use crate::kernel::text::{ascii_digits, is_unprintable, normalize_text};
use crate::ordering::identity::NationalCode;
use crate::ordering::order::{Buyer, Order, Recipient};
use crate::privacy::account_record::AccountRecord;
use crate::privacy::audit::{Action, AuditRecord, AuditedSubject, Outcome, SubjectKey};
use crate::privacy::ports::{AccountRecords, AuditTrail, IpHistory, OrderRecords, ReviewHistory};
use crate::privacy::subject::{Subject, SubjectKind};
use crate::reviewing::ports::ReviewStore;
use crate::reviewing::review::{Change, Review, Version, Visibility};

const MAX_AUTHORITY_CHARS: usize = 200;
const MAX_REFERENCE_CHARS: usize = 64;

/// What is wrong with a field of a legal request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the authority is empty")]
    AuthorityEmpty,
    #[error("the authority is too long")]
    AuthorityTooLong,
    #[error("the authority is not written in Persian")]
    AuthorityNotPersian,
    #[error("control characters")]
    ControlCharacters,
    #[error("the reference is empty")]
    ReferenceEmpty,
    #[error("the reference is too long")]
    ReferenceTooLong,
    #[error("the reference has characters other than letters, digits and separators")]
    ReferenceInvalid,
    #[error("the date is not a Solar Hijri date written YYYY/MM/DD")]
    DateFormat,
    #[error("no such day in the Solar Hijri calendar")]
    DateInvalid,
    #[error("the date is after today")]
    DateFuture,
    #[error("not a kind of subject")]
    SubjectKind,
    #[error("not a customer id")]
    CustomerId,
}

impl Rejection for RequestError {
    fn code(&self) -> &'static str {
        match self {
            Self::AuthorityEmpty => "authority-empty",
            Self::AuthorityTooLong => "authority-too-long",
            Self::AuthorityNotPersian => "authority-not-persian",
            Self::ControlCharacters => "text-control-characters",
            Self::ReferenceEmpty => "reference-empty",
            Self::ReferenceTooLong => "reference-too-long",
            Self::ReferenceInvalid => "reference-invalid",
            Self::DateFormat => "request-date-format",
            Self::DateInvalid => "request-date-invalid",
            Self::DateFuture => "request-date-future",
            Self::SubjectKind => "subject-kind-invalid",
            Self::CustomerId => "customer-id-invalid",
        }
    }
    fn message(&self) -> &'static str {
        match self {
            Self::AuthorityEmpty => "نام مرجع درخواست‌کننده را بنویسید.",
            Self::AuthorityTooLong => "نام مرجع نباید بیش از ۲۰۰ نویسه باشد.",
            Self::AuthorityNotPersian => "نام مرجع را به فارسی بنویسید، همان‌گونه که در نامه آمده است.",
            Self::ControlCharacters => "متن نویسه‌های نامعتبر دارد.",
            Self::ReferenceEmpty => "شمارهٔ نامهٔ مرجع را بنویسید.",
            Self::ReferenceTooLong => "شمارهٔ نامه نباید بیش از ۶۴ نویسه باشد.",
            Self::ReferenceInvalid => "شمارهٔ نامه تنها می‌تواند حرف، رقم، فاصله و نشانه‌های / - _ . داشته باشد.",
            Self::DateFormat => "تاریخ نامه را به تقویم خورشیدی و به شکل ۱۴۰۴/۰۹/۰۴ بنویسید.",
            Self::DateInvalid => "چنین روزی در تقویم خورشیدی وجود ندارد.",
            Self::DateFuture => "تاریخ نامه نمی‌تواند پس از امروز باشد.",
            Self::SubjectKind => "نوع شناسه باید یکی از customer_id، email، phone یا national_code باشد.",
            Self::CustomerId => "شناسهٔ مشتری معتبر نیست.",
        }
    }
}

/// The authority that sent the request, as its letter names it: normalised Persian text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority(String);

impl Authority {
    pub fn parse(input: &str) -> Result<Self, RequestError> {
        let text = normalize_text(input);
        if text.chars().any(is_unprintable) {
            return Err(RequestError::ControlCharacters);
        }
        match text.chars().count() {
            0 => return Err(RequestError::AuthorityEmpty),
            n if n > MAX_AUTHORITY_CHARS => return Err(RequestError::AuthorityTooLong),
            _ => {}
        }
        // Iranian authorities are named in Persian; a name without a single Persian letter is a
        // slip (a reference number in the wrong field, a transliteration).
        if !text.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c) && c.is_alphabetic()) {
            return Err(RequestError::AuthorityNotPersian);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The request's reference number (شمارهٔ نامه), e.g. `۱۴۰۴/۱۲۳۴۵/ب`, kept with ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

impl Reference {
    pub fn parse(input: &str) -> Result<Self, RequestError> {
        let text = ascii_digits(&normalize_text(input));
        match text.chars().count() {
            0 => return Err(RequestError::ReferenceEmpty),
            n if n > MAX_REFERENCE_CHARS => return Err(RequestError::ReferenceTooLong),
            _ => {}
        }
        if !text.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '/' | '-' | '_' | '.' | '\u{200C}')) {
            return Err(RequestError::ReferenceInvalid);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The date of the request's letter: a Solar Hijri day (as Iranian official letters are dated),
/// `YYYY/MM/DD` or `YYYY-MM-DD`, Persian or ASCII digits, not after `today`.
pub fn parse_request_date(input: &str, today: SolarDate) -> Result<SolarDate, RequestError> {
    let text = ascii_digits(input.trim());
    let parts: Vec<&str> = text.split(['/', '-']).collect();
    let [year, month, day] = parts.as_slice() else { return Err(RequestError::DateFormat) };
    let digits = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
    };
    if !(digits(year, 4..=4) && digits(month, 1..=2) && digits(day, 1..=2)) {
        return Err(RequestError::DateFormat);
    }
    let (Ok(year), Ok(month), Ok(day)) = (year.parse::<i32>(), month.parse::<u8>(), day.parse::<u8>()) else {
        return Err(RequestError::DateFormat);
    };
    // A Gregorian date typed by mistake (2025/11/25) is a format error, not a far-future day.
    if !(1300..1500).contains(&year) {
        return Err(RequestError::DateFormat);
    }
    let date = SolarDate::new(year, month, day).ok_or(RequestError::DateInvalid)?;
    if date > today {
        return Err(RequestError::DateFuture);
    }
    Ok(date)
}

/// A legal request that passed every rule.
#[derive(Debug, Clone)]
pub struct LegalRequest {
    pub authority: Authority,
    pub reference: Reference,
    pub date: SolarDate,
    pub subject: Subject,
}

/// As much of a request as could be read: what the audit of a refused attempt records.
#[derive(Debug, Clone, Default)]
pub struct RequestParts {
    pub authority: Option<Authority>,
    pub reference: Option<Reference>,
    pub date: Option<SolarDate>,
    pub subject: Option<Subject>,
}

impl LegalRequest {
    /// `{"authority", "reference", "date", "subject": {"kind", "value"}}`; every invalid field
    /// is reported at once.
    pub fn parse(body: &JsonObject, today: SolarDate) -> Result<Self, Vec<FieldError>> {
        let (parts, errors) = read_parts(body, today);
        match parts {
            RequestParts {
                authority: Some(authority),
                reference: Some(reference),
                date: Some(date),
                subject: Some(subject),
            } if errors.is_empty() => Ok(Self { authority, reference, date, subject }),
            _ => Err(errors),
        }
    }

    /// What can be read of a request whatever else is wrong with it.
    pub fn parts(body: &JsonObject, today: SolarDate) -> RequestParts {
        read_parts(body, today).0
    }
}

fn read_parts(body: &JsonObject, today: SolarDate) -> (RequestParts, Vec<FieldError>) {
    let mut errors = Vec::new();
    let authority = body.parsed("authority", Authority::parse, &mut errors);
    let reference = body.parsed("reference", Reference::parse, &mut errors);
    let date = body.parsed("date", |text| parse_request_date(text, today), &mut errors);
    let subject = body.required_object("subject", &mut errors).and_then(|subject| {
        let kind =
            subject.parsed("kind", |text| SubjectKind::parse(text).ok_or(RequestError::SubjectKind), &mut errors);
        let value = subject.required_str("value", &mut errors)?;
        let field = subject.path_of("value");
        let parsed = match kind? {
            SubjectKind::CustomerId => {
                AccountId::parse(value.trim()).map(Subject::Customer).ok_or_else(|| RequestError::CustomerId.at(&field))
            }
            SubjectKind::Email => Email::parse(value).map(Subject::Email).map_err(|e| e.at(&field)),
            SubjectKind::Phone => IranMobile::parse(value).map(Subject::Phone).map_err(|e| e.at(&field)),
            SubjectKind::NationalCode => {
                NationalCode::parse(value).map(Subject::NationalCode).map_err(|e| e.at(&field))
            }
        };
        parsed.map_err(|error| errors.push(error)).ok()
    });
    (RequestParts { authority, reference, date, subject }, errors)
}

// ---------------------------------------------------------------------------------------------
// What the store holds
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct OrderHoldings {
    pub order: Order,
    /// While it is kept (P15): an erased or expired recipient is not disclosed.
    pub recipient: Option<Recipient>,
    pub invoice: Option<Invoice>,
    /// When the accepted invoice named the buyer wrongly: the corrective invoice that names it.
    pub corrective_invoice: Option<Invoice>,
    /// When the sale was undone: the return invoice that names the sale's invoice as it stood.
    pub return_invoice: Option<Invoice>,
}

#[derive(Debug, Clone)]
pub struct ReviewHoldings {
    pub review: Review,
    pub history: Vec<Version>,
}

#[derive(Debug, Clone)]
pub struct AccountHoldings {
    pub account: AccountRecord,
    pub orders: Vec<OrderHoldings>,
    pub reviews: Vec<ReviewHoldings>,
    /// Logins and orders with their addresses, while kept (P14).
    pub ip_records: Vec<IpRecord>,
}

/// Everything found about a subject.
#[derive(Debug, Clone, Default)]
pub struct Holdings {
    pub accounts: Vec<AccountHoldings>,
    /// For a national-code subject: the orders whose buyer carries the code.
    pub buyer_orders: Vec<OrderHoldings>,
}

/// The kinds of data a disclosure can contain; the audit counts each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Profile,
    ConsentChanges,
    Orders,
    Recipients,
    Invoices,
    Reviews,
    ReviewVersions,
    IpAddresses,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Self::Profile,
        Self::ConsentChanges,
        Self::Orders,
        Self::Recipients,
        Self::Invoices,
        Self::Reviews,
        Self::ReviewVersions,
        Self::IpAddresses,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::ConsentChanges => "consent_changes",
            Self::Orders => "orders",
            Self::Recipients => "recipients",
            Self::Invoices => "invoices",
            Self::Reviews => "reviews",
            Self::ReviewVersions => "review_versions",
            Self::IpAddresses => "ip_addresses",
        }
    }
}

/// A recorded source IP (P14) and what it was recorded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosedIp {
    pub ip: IpAddr,
    pub at: OffsetDateTime,
    pub account: AccountId,
    /// `terms-acceptance`, `review-version`, `login` or `checkout`.
    pub recorded_with: &'static str,
    pub review_id: Option<String>,
}

impl Holdings {
    fn all_orders(&self) -> impl Iterator<Item = &OrderHoldings> {
        self.accounts.iter().flat_map(|a| a.orders.iter()).chain(self.buyer_orders.iter())
    }

    fn all_reviews(&self) -> impl Iterator<Item = &ReviewHoldings> {
        self.accounts.iter().flat_map(|a| a.reviews.iter())
    }

    /// Every recorded IP of the subject: the terms acceptance on the account (P5, P14), logins
    /// and orders (P14), and the author's IP of every review version (P11).
    pub fn ip_addresses(&self) -> Vec<DisclosedIp> {
        let mut found = Vec::new();
        for holdings in &self.accounts {
            let account = &holdings.account;
            if let Some(TermsAcceptance { source_ip: Some(ip), accepted_at, .. }) = &account.terms {
                found.push(DisclosedIp {
                    ip: *ip,
                    at: *accepted_at,
                    account: account.id,
                    recorded_with: "terms-acceptance",
                    review_id: None,
                });
            }
            for record in &holdings.ip_records {
                found.push(DisclosedIp {
                    ip: record.ip,
                    at: record.at,
                    account: account.id,
                    recorded_with: record.request.as_str(),
                    review_id: None,
                });
            }
            for review in &holdings.reviews {
                for version in &review.history {
                    if let Change::ByAuthor { source_ip: Some(ip) } = &version.change {
                        found.push(DisclosedIp {
                            ip: *ip,
                            at: version.at,
                            account: review.review.author,
                            recorded_with: "review-version",
                            review_id: Some(review.review.id.to_string()),
                        });
                    }
                }
            }
        }
        found
    }

    /// How many items of each category the document holds, every category listed.
    pub fn counts(&self) -> Vec<(Category, u64)> {
        let count = |n: usize| n as u64;
        Category::ALL
            .into_iter()
            .map(|category| {
                let n = match category {
                    Category::Profile => count(self.accounts.iter().filter(|a| a.account.closed_at.is_none()).count()),
                    Category::ConsentChanges => {
                        count(self.accounts.iter().map(|a| a.account.consent_history.len()).sum())
                    }
                    Category::Orders => count(self.all_orders().count()),
                    Category::Recipients => count(self.all_orders().filter(|o| o.recipient.is_some()).count()),
                    Category::Invoices => count(
                        self.all_orders()
                            .map(|o| {
                                [&o.invoice, &o.corrective_invoice, &o.return_invoice]
                                    .iter()
                                    .filter(|invoice| invoice.is_some())
                                    .count()
                            })
                            .sum(),
                    ),
                    Category::Reviews => count(self.all_reviews().count()),
                    Category::ReviewVersions => count(self.all_reviews().map(|r| r.history.len()).sum()),
                    Category::IpAddresses => count(self.ip_addresses().len()),
                };
                (category, n)
            })
            .collect()
    }

    /// The accounts whose data the document holds: those disclosed in full and the owners of
    /// the orders found by buyer code.
    pub fn account_ids(&self) -> Vec<AccountId> {
        let mut ids: Vec<AccountId> = self.accounts.iter().map(|a| a.account.id).collect();
        for order in &self.buyer_orders {
            if !ids.contains(&order.order.account) {
                ids.push(order.order.account);
            }
        }
        ids
    }
}

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

fn buyer_json(buyer: &Buyer) -> Value {
    match buyer {
        Buyer::Natural { full_name, national_code } => json!({
            "type": "natural", "full_name": full_name.as_str(), "national_code": national_code.as_str(),
        }),
        Buyer::Legal { company_name, economic_code, national_id, postal_code } => json!({
            "type": "legal", "company_name": company_name.as_str(), "economic_code": economic_code.as_str(),
            "national_id": national_id.as_str(), "postal_code": postal_code.as_str(),
        }),
    }
}

fn order_json(holdings: &OrderHoldings) -> Value {
    let order = &holdings.order;
    json!({
        "order_id": order.id.to_string(),
        "account_id": order.account,
        "placed_at": timestamp(order.placed_at),
        "status": order.status.as_str(),
        "buyer": buyer_json(&order.buyer),
        "lines": order.priced.lines,
        "subtotal": order.priced.subtotal.value(),
        "vat": order.priced.vat.value(),
        "total": order.priced.total.value(),
        "recipient": holdings.recipient.as_ref().map(|r| json!({
            "name": r.name.as_str(), "phone": r.phone.as_e164(), "address": r.address.as_str(),
            "postal_code": r.postal_code.as_str(),
        })),
        "invoice": holdings.invoice.as_ref().map(invoice_json),
        "corrective_invoice": holdings.corrective_invoice.as_ref().map(invoice_json),
        "return_invoice": holdings.return_invoice.as_ref().map(invoice_json),
    })
}

fn invoice_json(invoice: &Invoice) -> Value {
    json!({
        "serial": invoice.serial,
        "tax_id": invoice.tax_id.as_str(),
        "subject": invoice.subject.code(),
        "returns": invoice.subject.returns().map(TaxId::as_str),
        "corrects": invoice.subject.corrects().map(TaxId::as_str),
        "issued_at": timestamp(invoice.issued_at),
        "issued_on": invoice.issued_on().to_string(),
        "buyer": buyer_json(&invoice.buyer),
        "lines": invoice.lines,
        "totals": invoice.totals,
    })
}

fn visibility(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Published => "published",
        Visibility::Hidden => "hidden",
    }
}

fn review_json(holdings: &ReviewHoldings) -> Value {
    let review = &holdings.review;
    json!({
        "review_id": review.id,
        "product_id": review.product.as_str(),
        "author_account_id": review.author,
        "display_name": review.display_name,
        "rating": review.rating,
        "text": review.text.as_str(),
        "visibility": visibility(review.visibility),
        "posted_at": timestamp(review.posted_at),
        "edited_by_store": review.edited_by_store,
        "history": holdings.history.iter().map(|version| {
            let (changed_by, source_ip, staff_id, reason) = match &version.change {
                Change::ByAuthor { source_ip } => ("author", source_ip.map(|ip| ip.to_string()), None, None),
                Change::ByStaff { staff, reason } => ("staff", None, Some(staff.to_string()), Some(reason.as_str())),
            };
            json!({
                "version": version.number, "rating": version.rating, "text": version.text.as_str(),
                "visibility": visibility(version.visibility), "at": timestamp(version.at),
                "changed_by": changed_by, "source_ip": source_ip, "staff_id": staff_id, "reason": reason,
            })
        }).collect::<Vec<_>>(),
    })
}

fn account_json(holdings: &AccountHoldings) -> Value {
    let account = &holdings.account;
    json!({
        "account_id": account.id,
        "role": account.role.map(Role::as_str),
        "created_at": account.created_at.map(timestamp),
        "closed_at": account.closed_at.map(timestamp),
        "profile": {
            "full_name": account.full_name.as_ref().map(FullName::as_str),
            "email": account.email.as_ref().map(Email::as_str),
            "email_verified": account.email_verified,
            "phone": account.phone.as_ref().map(IranMobile::as_e164),
            "phone_verified": account.phone_verified,
            "pending_email": account.pending_email.as_ref().map(Email::as_str),
            "pending_phone": account.pending_phone.as_ref().map(IranMobile::as_e164),
        },
        "terms": account.terms.as_ref().map(|terms| json!({
            "version": terms.version.as_str(),
            "accepted_at": timestamp(terms.accepted_at),
            "source_ip": terms.source_ip.map(|ip| ip.to_string()),
        })),
        "consent": { "email": account.marketing.email, "sms": account.marketing.sms },
        "consent_history": account.consent_history.iter().map(|change| json!({
            "channel": change.channel, "old": change.old, "new": change.new, "source": change.source,
            "at": timestamp(change.at),
        })).collect::<Vec<_>>(),
        "orders": holdings.orders.iter().map(order_json).collect::<Vec<_>>(),
        "reviews": holdings.reviews.iter().map(review_json).collect::<Vec<_>>(),
    })
}

/// The document handed to the authority: the request it answers, what was found, and the
/// counts the audit record holds.
pub fn document(request: &LegalRequest, holdings: &Holdings, audit_id: &str, now: OffsetDateTime) -> Value {
    json!({
        "audit_id": audit_id,
        "generated_at": timestamp(now),
        "request": {
            "authority": request.authority.as_str(),
            "reference": request.reference.as_str(),
            "date": request.date.to_string(),
            "date_gregorian": request.date.gregorian().map(|d| d.to_string()),
            "subject": { "kind": request.subject.kind().as_str(), "value": request.subject.canonical() },
        },
        "accounts": holdings.accounts.iter().map(account_json).collect::<Vec<_>>(),
        "orders_by_buyer_code": holdings.buyer_orders.iter().map(order_json).collect::<Vec<_>>(),
        "ip_addresses": holdings.ip_addresses().iter().map(|record| json!({
            "ip": record.ip.to_string(), "at": timestamp(record.at), "account_id": record.account,
            "recorded_with": record.recorded_with, "review_id": record.review_id,
        })).collect::<Vec<_>>(),
        "categories": holdings.counts().into_iter().map(|(c, n)| (c.as_str().to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
    })
}

// ---------------------------------------------------------------------------------------------
// The workflow
// ---------------------------------------------------------------------------------------------

/// The stores an export reads, and the audit trail it writes (mirroring the IAM policy).
pub struct Stores<'a, A, O, I, R, P, T> {
    pub accounts: &'a A,
    pub orders: &'a O,
    pub invoices: &'a I,
    pub reviews: &'a R,
    pub ip_records: &'a P,
    pub audit: &'a T,
}

/// Who asks, as the audit records them.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub id: AccountId,
    pub role: Role,
    pub source_ip: Option<IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading what the store holds failed: nothing was disclosed, nothing audited.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit record could not be written, so nothing was disclosed.
    #[error("the audit record could not be written: {0}")]
    Audit(StoreError),
}

/// A disclosure made: its audit id and the document.
pub struct Export {
    pub audit_id: String,
    pub document: Value,
}

fn audited_subject(key: &SubjectKey, subject: &Subject) -> AuditedSubject {
    AuditedSubject { kind: subject.kind(), fingerprint: key.fingerprint(subject), masked: subject.masked() }
}

impl<A, O, I, R, P, T> Stores<'_, A, O, I, R, P, T>
where
    A: AccountStore + AccountRecords,
    O: OrderRecords,
    I: InvoiceBook,
    R: ReviewStore + ReviewHistory,
    P: IpHistory,
    T: AuditTrail,
{
    /// Everything the store holds about the subject.
    pub async fn gather(&self, subject: &Subject, now: OffsetDateTime) -> Result<Holdings, StoreError> {
        let mut holdings = Holdings::default();
        let accounts = match subject {
            Subject::Customer(id) => vec![*id],
            Subject::Email(email) => {
                let open = self.accounts.account_id_for(email).await?;
                let mut ids: Vec<AccountId> = open.into_iter().collect();
                ids.extend(self.accounts.closed_account_ids_for_email(email).await?);
                ids
            }
            Subject::Phone(phone) => self.accounts.account_ids_for_phone(phone).await?,
            Subject::NationalCode(code) => {
                for order in self.orders.orders_with_buyer_code(code).await? {
                    holdings.buyer_orders.push(self.order_holdings(order).await?);
                }
                Vec::new()
            }
        };
        for id in accounts {
            // A closed account's orders, invoices, reviews and IP records are still disclosed.
            let account = match self.accounts.legal_record(id).await? {
                Some(account) => account,
                None => match self.accounts.closed_at(id).await? {
                    Some(closed_at) => AccountRecord::closed(id, closed_at),
                    None => continue,
                },
            };
            let mut orders = Vec::new();
            for order in self.orders.order_ids_of(id).await? {
                orders.push(self.order_holdings(order).await?);
            }
            let mut reviews = Vec::new();
            for review in self.reviews.ids_by_author(id).await? {
                let Some(current) = self.reviews.get(review).await? else { continue };
                reviews.push(ReviewHoldings { history: self.reviews.history(review).await?, review: current });
            }
            let ip_records = self.ip_records.of_account(id, now).await?;
            holdings.accounts.push(AccountHoldings { account, orders, reviews, ip_records });
        }
        Ok(holdings)
    }

    async fn order_holdings(&self, id: OrderId) -> Result<OrderHoldings, StoreError> {
        let stored = self.orders.with_recipient(id).await?.ok_or(StoreError::Corrupt("order listed but missing"))?;
        let invoice = self.invoices.get(id, InvoiceKind::Sale).await?;
        let corrective_invoice = self.invoices.get(id, InvoiceKind::Correction).await?;
        let return_invoice = self.invoices.get(id, InvoiceKind::Return).await?;
        Ok(OrderHoldings {
            order: stored.order,
            recipient: stored.recipient,
            invoice,
            corrective_invoice,
            return_invoice,
        })
    }

    /// Answers a legal request: gathers, writes the audit record, and only then hands the
    /// document back. An export whose audit record fails discloses nothing.
    pub async fn export(
        &self,
        key: &SubjectKey,
        request: &LegalRequest,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Result<Export, ExportError> {
        let holdings = self.gather(&request.subject, now).await?;
        let record = AuditRecord {
            id: uuid::Uuid::new_v4(),
            at: now,
            actor: actor.id,
            actor_role: actor.role,
            source_ip: actor.source_ip,
            action: Action::Export,
            outcome: Outcome::Disclosed,
            authority: Some(request.authority.as_str().to_owned()),
            reference: Some(request.reference.as_str().to_owned()),
            request_date: Some(request.date),
            subject: Some(audited_subject(key, &request.subject)),
            accounts: holdings.account_ids(),
            categories: holdings.counts().into_iter().map(|(c, n)| (c.as_str().to_owned(), n)).collect(),
        };
        self.audit.append(&record).await.map_err(ExportError::Audit)?;
        let audit_id = record.id.to_string();
        tracing::info!(audit_id, actor = %actor.id, subject_kind = %request.subject.kind(), "legal export disclosed");
        Ok(Export { document: document(request, &holdings, &audit_id, now), audit_id })
    }
}

/// How many refused attempts of one caller are audited per window: enough to see who tries,
/// too few for one account to flood the trail.
pub const REFUSALS_AUDITED_PER_CALLER: Limit = Limit { max: 5, per: Duration::HOUR };

/// How many refused attempts of all callers together are audited per window: however many
/// accounts a flood uses, the append-only trail grows by at most this much.
pub const REFUSALS_AUDITED_IN_ALL: Limit = Limit { max: 200, per: Duration::HOUR };

/// Whether a refused attempt was written to the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalAudit {
    Recorded {
        audit_id: String,
    },
    /// Over `REFUSALS_AUDITED_PER_CALLER` or `REFUSALS_AUDITED_IN_ALL`: the attempt is refused
    /// all the same, and only logged.
    OverLimit,
}

/// Records a refused attempt (a caller without the legal role): who, when, from where, and
/// what was asked — the request's date and the subject by kind, keyed hash and masked form.
/// Nothing of the caller's own wording (authority, reference) is kept, and only so many
/// refusals are recorded per caller and in all.
pub async fn audit_refusal(
    audit: &impl AuditTrail,
    counters: &impl Counters,
    key: &SubjectKey,
    actor: Actor,
    action: Action,
    asked: RequestParts,
    now: OffsetDateTime,
) -> Result<RefusalAudit, StoreError> {
    let limits = [
        (format!("legal-refused#{}", actor.id), REFUSALS_AUDITED_PER_CALLER),
        ("legal-refused#all".to_owned(), REFUSALS_AUDITED_IN_ALL),
    ];
    for (counter, limit) in limits {
        if !counters.take(&counter, Window::at(now, limit.per), limit.max).await? {
            tracing::warn!(actor = %actor.id, action = action.as_str(), "legal route refused; over the audit limit, not recorded");
            return Ok(RefusalAudit::OverLimit);
        }
    }
    let record = AuditRecord {
        id: uuid::Uuid::new_v4(),
        at: now,
        actor: actor.id,
        actor_role: actor.role,
        source_ip: actor.source_ip,
        action,
        outcome: Outcome::Refused,
        authority: None,
        reference: None,
        request_date: asked.date,
        subject: asked.subject.as_ref().map(|subject| audited_subject(key, subject)),
        accounts: Vec::new(),
        categories: Default::default(),
    };
    audit.append(&record).await?;
    tracing::warn!(audit_id = %record.id, actor = %actor.id, role = actor.role.as_str(), action = action.as_str(), "legal route refused");
    Ok(RefusalAudit::Recorded { audit_id: record.id.to_string() })
}

/// The legal export over the other contexts' fakes: a customer who signed up, ordered, reviewed
/// and logged in, then was asked about.
#[cfg(test)]
mod workflow_tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{code_hasher, limits, signup};
    use crate::invoicing::testing::InMemoryInvoices;
    use crate::kernel::ports::{IpRecorder, RecordedRequest};
    use crate::kernel::testing::RecordedIps;
    use crate::ordering::catalog::Product;
    use crate::ordering::checkout::{Checkout, CheckoutRequest, place_order};
    use crate::ordering::order::{Address, CartLine};
    use crate::ordering::pricing::VatSchedule;
    use crate::ordering::testing::InMemoryShop;
    use crate::privacy::testing::RecordedAudit;
    use crate::reviewing::testing::InMemoryReviews;

    const SEED: &str = include_str!("../../../../infra/seed/products.json");
    const RATES: &str = r#"[{"from":"2024-03-20T00:00:00+03:30","percent":10,"source":"قانون بودجه ۱۴۰۳"}]"#;
    const EMAIL: &str = "maryam@example.com";
    const CODE: &str = "0076229645";
    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 20));

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[derive(Default)]
    struct Store {
        accounts: InMemoryAccounts,
        shop: InMemoryShop,
        invoices: InMemoryInvoices,
        reviews: InMemoryReviews,
        ips: RecordedIps,
    }

    impl Store {
        /// A customer who signed up from `IP`, ordered once as a natural buyer and logged in.
        async fn with_customer() -> (Self, AccountId) {
            let product = serde_json::from_str::<Vec<Product>>(SEED).unwrap().remove(0);
            let store = Self { shop: InMemoryShop::with_products([product.clone()]), ..Self::default() };
            register(
                &store.accounts,
                &store.accounts.outbox,
                &code_hasher(),
                &limits(),
                signup(EMAIL),
                Some(IP),
                now(),
            )
            .await
            .unwrap();
            let id = store.accounts.account_id_for(&Email::parse(EMAIL).unwrap()).await.unwrap().unwrap();
            let vat = VatSchedule::from_json(RATES).unwrap();
            let checkout = Checkout {
                shop: &store.shop,
                vat: &vat,
                payment_window: crate::ordering::order::DEFAULT_PAYMENT_WINDOW,
            };
            let request = CheckoutRequest {
                cart: vec![CartLine { product_id: product.id, quantity: 1 }],
                buyer: Buyer::Natural {
                    full_name: FullName::parse("مریم کاظمی").unwrap(),
                    national_code: NationalCode::parse(CODE).unwrap(),
                },
                recipient: Recipient {
                    name: FullName::parse("رضا احمدی").unwrap(),
                    phone: IranMobile::parse("09121112233").unwrap(),
                    address: Address::parse("تهران، خیابان ولیعصر، کوچه بهار، پلاک ۱۲").unwrap(),
                    postal_code: crate::accounts::contact::PostalCode::parse("1968913456").unwrap(),
                },
            };
            place_order(&checkout, id, "k1", "h1", request, now()).await.unwrap();
            store.ips.record(id, RecordedRequest::Login, IP, now()).await.unwrap();
            (store, id)
        }

        fn stores<'a, T>(
            &'a self,
            audit: &'a T,
        ) -> Stores<'a, InMemoryAccounts, InMemoryShop, InMemoryInvoices, InMemoryReviews, RecordedIps, T> {
            Stores {
                accounts: &self.accounts,
                orders: &self.shop,
                invoices: &self.invoices,
                reviews: &self.reviews,
                ip_records: &self.ips,
                audit,
            }
        }
    }

    fn request(kind: &str, value: &str) -> LegalRequest {
        let body = json!({
            "authority": "دادسرای عمومی و انقلاب ناحیه ۲ تهران",
            "reference": "۱۴۰۵/۱۲۳۴۵/ب",
            "date": "۱۴۰۵/۰۹/۰۱",
            "subject": { "kind": kind, "value": value },
        });
        let Value::Object(map) = body else { unreachable!("an object") };
        LegalRequest::parse(&JsonObject::new(map), SolarDate::new(1405, 10, 1).unwrap()).unwrap()
    }

    fn key() -> SubjectKey {
        SubjectKey::new(b"a-test-key-of-thirty-two-bytes!!").unwrap()
    }

    fn legal_staff() -> Actor {
        Actor { id: AccountId::new(), role: Role::Legal, source_ip: Some(IP) }
    }

    #[tokio::test]
    async fn p3_an_export_by_email_discloses_the_account_its_order_with_recipient_and_its_addresses() {
        let ((store, id), audit) = (Store::with_customer().await, RecordedAudit::default());
        let export = store.stores(&audit).export(&key(), &request("email", EMAIL), legal_staff(), now()).await.unwrap();
        let records = audit.records();
        assert_eq!(records.len(), 1, "audited before it was answered");
        assert_eq!(records[0].id.to_string(), export.audit_id);
        assert_eq!(records[0].accounts, [id]);
        assert_eq!(export.document["accounts"][0]["orders"][0]["recipient"]["postal_code"], "1968913456");
        let ips: Vec<&str> = export.document["ip_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["recorded_with"].as_str().unwrap())
            .collect();
        assert_eq!(ips, ["terms-acceptance", "login"], "P14: signup's and the login's address");
    }

    #[tokio::test]
    async fn p3_p4_the_audit_names_the_subject_by_keyed_hash_and_mask_never_in_clear() {
        let ((store, _), audit) = (Store::with_customer().await, RecordedAudit::default());
        store.stores(&audit).export(&key(), &request("email", EMAIL), legal_staff(), now()).await.unwrap();
        let subject = audit.records()[0].subject.clone().unwrap();
        assert_eq!(subject.masked, "m***@***.com");
        assert_eq!(subject.fingerprint, key().fingerprint(&Subject::Email(Email::parse(EMAIL).unwrap())));
        assert!(!format!("{:?}", audit.records()).contains(EMAIL));
    }

    #[tokio::test]
    async fn p3_a_national_code_finds_the_orders_that_carry_it_and_names_no_account() {
        let ((store, _), audit) = (Store::with_customer().await, RecordedAudit::default());
        let export =
            store.stores(&audit).export(&key(), &request("national_code", CODE), legal_staff(), now()).await.unwrap();
        assert_eq!(export.document["orders_by_buyer_code"].as_array().map(Vec::len), Some(1));
        assert_eq!(export.document["accounts"].as_array().map(Vec::len), Some(0));
    }

    #[tokio::test]
    async fn p3_p8_an_orders_corrective_invoice_is_disclosed_beside_the_invoice_it_corrects() {
        use crate::invoicing::invoice::Invoice;
        use crate::invoicing::issuance::issue;
        use crate::invoicing::ports::InvoiceBook;
        use crate::invoicing::testing::PlacedOrderList;
        use crate::invoicing::testing::fixtures::{self, paid, seller};
        use crate::ordering::order::Order;

        let ((store, id), audit) = (Store::with_customer().await, RecordedAudit::default());
        let order_id = OrderId::for_checkout(id, "k1");
        let (orders, seller) = (PlacedOrderList::default(), seller());
        let placed = store.shop.with_recipient(order_id).await.unwrap().unwrap().order;
        // As the invoice function sees it once paid.
        let order = Order { payment: fixtures::order(id, placed.buyer.clone()).payment, ..placed };
        orders.add(order.clone());
        issue(&orders, &store.invoices, &seller, order_id, &paid(&order)).await.unwrap();
        let sale = store.invoices.get(order_id, InvoiceKind::Sale).await.unwrap().unwrap();
        let correct = |serial| Invoice::correcting(&sale, sale.buyer.clone(), &seller, serial, now());
        store.invoices.issue(order_id, InvoiceKind::Correction, correct, &[]).await.unwrap().unwrap();

        let export = store.stores(&audit).export(&key(), &request("email", EMAIL), legal_staff(), now()).await.unwrap();
        let disclosed = &export.document["accounts"][0]["orders"][0];
        assert_eq!(
            (disclosed["invoice"]["subject"].as_u64(), disclosed["invoice"]["serial"].as_u64()),
            (Some(1), Some(sale.serial))
        );
        assert_eq!(disclosed["corrective_invoice"]["subject"], 2);
        assert_eq!(disclosed["corrective_invoice"]["corrects"].as_str(), Some(sale.tax_id.as_str()));
    }

    #[tokio::test]
    async fn p3_an_export_whose_audit_cannot_be_written_discloses_nothing() {
        let ((store, _), audit) = (Store::with_customer().await, RecordedAudit::down());
        let outcome = store.stores(&audit).export(&key(), &request("email", EMAIL), legal_staff(), now()).await;
        assert!(matches!(outcome, Err(ExportError::Audit(_))));
    }

    #[tokio::test]
    async fn p3_a_closed_account_is_still_disclosed_by_id_email_or_phone_without_its_erased_profile() {
        let ((store, id), audit) = (Store::with_customer().await, RecordedAudit::default());
        let phone = store.accounts.all()[0].phone.as_e164().to_owned();
        let closed = crate::kernel::events::Envelope::new(
            crate::kernel::events::DomainEvent::AccountClosed { account_id: id },
            now(),
        );
        crate::accounts::ports::AccountStore::close(&store.accounts, id, &Email::parse(EMAIL).unwrap(), now(), &closed)
            .await
            .unwrap();
        let export = store
            .stores(&audit)
            .export(&key(), &request("customer_id", &id.to_string()), legal_staff(), now())
            .await
            .unwrap();
        let account = &export.document["accounts"][0];
        assert_eq!(account["orders"].as_array().map(Vec::len), Some(1), "orders stay (tax law)");
        assert!(account["profile"]["email"].is_null() && account["profile"]["full_name"].is_null());
        assert_eq!(account["closed_at"], timestamp(now()));
        for (kind, value) in [("email", EMAIL), ("phone", phone.as_str())] {
            let export =
                store.stores(&audit).export(&key(), &request(kind, value), legal_staff(), now()).await.unwrap();
            let found = export.document["accounts"].as_array().cloned().unwrap_or_default();
            assert_eq!(found.len(), 1, "{kind}");
            assert_eq!(found[0]["account_id"], id.to_string(), "{kind}");
        }
    }

    fn refused_request() -> RequestParts {
        let body = json!({ "authority": "دادگاه", "reference": "هرچه بخواهد", "subject": { "kind": "email", "value": EMAIL } });
        let Value::Object(map) = body else { unreachable!("an object") };
        LegalRequest::parts(&JsonObject::new(map), SolarDate::new(1405, 10, 1).unwrap())
    }

    fn customer() -> Actor {
        Actor { id: AccountId::new(), role: Role::Customer, source_ip: None }
    }

    #[tokio::test]
    async fn p3_a_refused_attempt_is_audited_with_the_subject_hashed_and_none_of_the_callers_words() {
        let (audit, counters) = (RecordedAudit::default(), InMemoryAccounts::default());
        let customer = customer();
        let audited =
            audit_refusal(&audit, &counters, &key(), customer, Action::Export, refused_request(), now()).await;
        assert!(matches!(audited.unwrap(), RefusalAudit::Recorded { .. }));
        let record = &audit.records()[0];
        assert_eq!((record.outcome, record.actor), (Outcome::Refused, customer.id));
        assert_eq!(record.subject.as_ref().map(|s| s.masked.as_str()), Some("m***@***.com"));
        assert_eq!((&record.authority, &record.reference), (&None, &None), "no free text of the caller's");
        assert!(record.accounts.is_empty());
    }

    #[tokio::test]
    async fn p3_refusals_cannot_flood_the_audit_trail() {
        let (audit, counters, key) = (RecordedAudit::default(), InMemoryAccounts::default(), key());
        let refuse =
            |actor, at| audit_refusal(&audit, &counters, &key, actor, Action::List, RequestParts::default(), at);
        let persistent = customer();
        for _ in 0..REFUSALS_AUDITED_PER_CALLER.max {
            assert!(matches!(refuse(persistent, now()).await.unwrap(), RefusalAudit::Recorded { .. }));
        }
        assert_eq!(refuse(persistent, now()).await.unwrap(), RefusalAudit::OverLimit);
        let next_hour = now() + REFUSALS_AUDITED_PER_CALLER.per;
        assert!(matches!(refuse(persistent, next_hour).await.unwrap(), RefusalAudit::Recorded { .. }));

        let mut flood = 0;
        while refuse(customer(), now()).await.unwrap() != RefusalAudit::OverLimit {
            flood += 1;
        }
        assert_eq!(flood, REFUSALS_AUDITED_IN_ALL.max - REFUSALS_AUDITED_PER_CALLER.max, "every account counts in all");
        assert_eq!(audit.records().len() as u32, REFUSALS_AUDITED_IN_ALL.max + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> SolarDate {
        SolarDate::new(1405, 9, 4).unwrap()
    }

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => JsonObject::new(map),
            _ => unreachable!("tests pass objects"),
        }
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
    }

    #[test]
    fn p3_a_request_names_authority_reference_date_and_subject() {
        let body = object(json!({
            "authority": "دادسرای عمومي و انقلاب تهران",
            "reference": "۱۴۰۵/۱۲۳۴۵/ب",
            "date": "۱۴۰۵/۰۹/۰۱",
            "subject": { "kind": "phone", "value": "۰۹۱۲ ۳۴۵ ۶۷۸۹" },
        }));
        let request = LegalRequest::parse(&body, today()).unwrap();
        assert_eq!(request.authority.as_str(), "دادسرای عمومی و انقلاب تهران", "Arabic yeh normalised");
        assert_eq!(request.reference.as_str(), "1405/12345/ب");
        assert_eq!(request.date, SolarDate::new(1405, 9, 1).unwrap());
        assert_eq!(request.subject.canonical(), "+989123456789");
        assert_eq!(request.subject.masked(), "+989*******89");
    }

    #[test]
    fn p3_every_bad_field_is_reported_at_once() {
        let body = object(json!({
            "authority": "Tehran court",
            "reference": "12<script>",
            "date": "2026-11-25",
            "subject": { "kind": "passport", "value": "x" },
        }));
        let errors = LegalRequest::parse(&body, today()).unwrap_err();
        assert_eq!(
            codes(&errors),
            [
                ("authority", "authority-not-persian"),
                ("reference", "reference-invalid"),
                ("date", "request-date-format"),
                ("subject.kind", "subject-kind-invalid"),
            ]
        );
        let errors = LegalRequest::parse(&object(json!({})), today()).unwrap_err();
        assert_eq!(
            codes(&errors),
            [("authority", "required"), ("reference", "required"), ("date", "required"), ("subject", "required")]
        );
    }

    #[test]
    fn p3_subject_values_are_checked_by_their_own_parsers() {
        for (kind, value, code) in [
            ("customer_id", "not-a-uuid", "customer-id-invalid"),
            ("email", "no-at-sign", "email-at-sign"),
            ("phone", "12345", "mobile-format"),
            ("national_code", "0076229640", "national-code-checksum"),
        ] {
            let body = object(json!({
                "authority": "دادگاه", "reference": "1", "date": "1405/09/04",
                "subject": { "kind": kind, "value": value },
            }));
            let errors = LegalRequest::parse(&body, today()).unwrap_err();
            assert_eq!(codes(&errors), [("subject.value", code)], "{kind}");
        }
    }

    #[test]
    fn request_dates_are_solar_hijri_days_up_to_today() {
        assert_eq!(parse_request_date("1405-9-4", today()), Ok(today()));
        assert_eq!(parse_request_date("1405/09/05", today()), Err(RequestError::DateFuture));
        assert_eq!(parse_request_date("1404/12/30", today()), Err(RequestError::DateInvalid), "1404 is common");
        for bad in ["", "1405/09", "14050904", "2026/11/25", "1405/009/04", "۱۴۰۵.۰۹.۰۴"] {
            assert_eq!(parse_request_date(bad, today()), Err(RequestError::DateFormat), "{bad}");
        }
    }

    #[test]
    fn p3_masked_subjects_reveal_no_value() {
        let email = Subject::Email(Email::parse("Maryam.Kazemi@example.com").unwrap());
        assert_eq!(email.masked(), "m***@***.com");
        let code = Subject::NationalCode(NationalCode::parse("0076229645").unwrap());
        assert_eq!(code.masked(), "********45");
    }

    #[test]
    fn p3_refused_attempts_keep_what_could_be_read() {
        let body = object(
            json!({ "authority": "دادگاه", "reference": "", "subject": { "kind": "email", "value": "a@example.com" } }),
        );
        let parts = LegalRequest::parts(&body, today());
        assert!(parts.authority.is_some() && parts.reference.is_none() && parts.date.is_none());
        assert_eq!(parts.subject.map(|s| s.kind()), Some(SubjectKind::Email));
    }

    #[test]
    fn p3_an_empty_holding_counts_zero_in_every_category() {
        let counts = Holdings::default().counts();
        assert_eq!(counts.len(), Category::ALL.len());
        assert!(counts.iter().all(|(_, n)| *n == 0));
    }
}
