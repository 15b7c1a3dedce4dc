//! The printable Persian invoice page (صورتحساب فروش کالا و خدمات): right to left, Persian
//! digits, amounts grouped by thousands, self-contained (inline CSS, nothing external to load).
//!
//! Everything shown is prepared here as text, so the template (`templates/invoice.html`) only
//! lays it out; askama HTML-escapes every value. The tax id alone keeps its ASCII characters,
//! as the tax system prints and reads it, and is isolated left to right.

use askama::Template;
use mizan::invoicing::invoice::{INVOICE_PATTERN, INVOICE_TYPE, Invoice, VatCertificate};
use mizan::invoicing::ports::TaxState;
use mizan::kernel::money::Rial;
use mizan::kernel::persian_format::{persian_amount, persian_digits};
use mizan::kernel::persian_words::rials_in_words;
use mizan::kernel::solar_hijri::{tehran_date, tehran_offset};
use mizan::ordering::catalog::UnitCode;
use mizan::ordering::order::Buyer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Template)]
#[template(path = "invoice.html")]
struct InvoicePage<'a> {
    seller_name: &'a str,
    serial: String,
    tax_id: &'a str,
    /// «۱ فروردین ۱۴۰۴».
    issued_on: String,
    /// The issue time of day in Tehran, in Persian digits (shown beside the Solar Hijri date).
    issued_at_fa: String,
    tax_status: &'static str,
    /// The tax system's reference, once it accepted the invoice.
    tax_reference: Option<String>,
    /// The same instant, ISO 8601 in UTC (the `datetime` attribute, for programs).
    issued_at_iso: String,
    invoice_type: String,
    invoice_pattern: &'static str,
    invoice_subject: &'static str,
    /// The invoice a corrective or return invoice follows (its `irtaxid`).
    references: Option<&'a str>,
    seller: Vec<Field<'a>>,
    buyer_kind: &'static str,
    buyer: Vec<Field<'a>>,
    lines: Vec<Line<'a>>,
    totals: Vec<Field<'static>>,
    total_in_words: String,
    payment: Vec<Field<'a>>,
}

/// A labelled value of the seller, buyer or totals blocks.
struct Field<'a> {
    label: &'a str,
    value: String,
}

struct Line<'a> {
    row: String,
    goods_id: String,
    name: &'a str,
    quantity: String,
    unit: String,
    unit_price: String,
    discount: String,
    net: String,
    vat_rate: String,
    vat: String,
    total: String,
}

pub fn render(invoice: &Invoice, tax: Option<&TaxState>) -> Result<String, askama::Error> {
    page(invoice, tax).render()
}

/// The VAT certificate (گواهی مالیات بر ارزش افزوده) of a legal buyer's invoice, on one portrait
/// A4 page: who sold to whom, which invoice, and the VAT it carried.
#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage<'a> {
    seller_name: &'a str,
    /// When the certificate was issued: the Solar Hijri date and the time in Tehran.
    certified_on: String,
    invoice_serial: String,
    tax_id: &'a str,
    invoice_issued_on: String,
    seller: Vec<Field<'static>>,
    buyer_kind: &'static str,
    buyer: Vec<Field<'static>>,
    amounts: Vec<Field<'static>>,
    vat: String,
    vat_in_words: String,
}

pub fn render_certificate(certificate: &VatCertificate, invoice: &Invoice) -> Result<String, askama::Error> {
    let (buyer_kind, buyer) = buyer_fields(invoice);
    CertificatePage {
        seller_name: &invoice.seller_name,
        certified_on: format!(
            "{}، {}",
            tehran_date(certificate.issued_at).long_persian(),
            tehran_time_of_day(certificate.issued_at)
        ),
        invoice_serial: persian_digits(&certificate.invoice_serial.to_string()),
        tax_id: certificate.tax_id.as_str(),
        invoice_issued_on: invoice.issued_on().long_persian(),
        seller: seller_fields(invoice),
        buyer_kind,
        buyer,
        amounts: vec![
            field("مبلغ پیش از مالیات", amount(invoice.totals.after_discount)),
            field("مالیات بر ارزش افزوده", amount(certificate.vat)),
            field("مبلغ کل صورتحساب", amount(certificate.total)),
        ],
        vat: amount(certificate.vat),
        vat_in_words: rials_in_words(certificate.vat),
    }
    .render()
}

/// Where the invoice stands with the tax system, in words, and the system's reference once it
/// accepted it.
fn tax_standing(tax: Option<&TaxState>) -> (&'static str, Option<String>) {
    match tax {
        None | Some(TaxState::Queued) => ("در صف ارسال به سامانهٔ مؤدیان", None),
        Some(TaxState::Sent(_)) => ("ارسال‌شده؛ در انتظار بررسی سامانهٔ مؤدیان", None),
        // An identifier to be quoted as it is, like the tax id.
        Some(TaxState::Accepted(reference)) => ("پذیرفته‌شده در سامانهٔ مؤدیان", Some(reference.0.clone())),
        Some(TaxState::Failed { .. }) => ("در دست اصلاح برای سامانهٔ مؤدیان", None),
    }
}

fn field(label: &'static str, value: String) -> Field<'static> {
    Field { label, value }
}

fn seller_fields(invoice: &Invoice) -> Vec<Field<'static>> {
    vec![
        field("نام فروشنده", invoice.seller_name.clone()),
        field("کد اقتصادی", persian_digits(invoice.seller_economic_code.as_str())),
        field("نشانی", invoice.seller_address.clone()),
        field("کد پستی", persian_digits(invoice.seller_postal_code.as_str())),
    ]
}

/// The buyer's kind in words, and what names it.
fn buyer_fields(invoice: &Invoice) -> (&'static str, Vec<Field<'static>>) {
    match &invoice.buyer {
        Buyer::Natural { full_name, national_code } => (
            "شخص حقیقی",
            vec![
                field("نام و نام خانوادگی", full_name.as_str().to_owned()),
                field("کد ملی", persian_digits(national_code.as_str())),
            ],
        ),
        Buyer::Legal { company_name, economic_code, national_id, postal_code } => (
            "شخص حقوقی",
            vec![
                field("نام شرکت", company_name.as_str().to_owned()),
                field("کد اقتصادی", persian_digits(economic_code.as_str())),
                field("شناسه ملی", persian_digits(national_id.as_str())),
                field("کد پستی", persian_digits(postal_code.as_str())),
            ],
        ),
    }
}

/// «۰۹:۳۰:۰۰ به وقت تهران».
fn tehran_time_of_day(at: OffsetDateTime) -> String {
    let tehran = at.to_offset(tehran_offset(at));
    let clock = format!("{:02}:{:02}:{:02}", tehran.hour(), tehran.minute(), tehran.second());
    format!("{} به وقت تهران", persian_digits(&clock))
}

fn page<'a>(invoice: &'a Invoice, tax: Option<&TaxState>) -> InvoicePage<'a> {
    let seller = seller_fields(invoice);
    let (buyer_kind, buyer) = buyer_fields(invoice);
    let lines = invoice
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| Line {
            row: persian_digits(&(index + 1).to_string()),
            goods_id: persian_digits(line.goods_id.as_str()),
            name: &line.name_fa,
            quantity: persian_amount(u64::from(line.quantity)),
            unit: unit_name(line.unit_code),
            unit_price: amount(line.unit_price),
            discount: amount(line.discount),
            net: amount(line.net),
            vat_rate: percent(line.vat_basis_points),
            vat: amount(line.vat),
            total: amount(line.total),
        })
        .collect();
    let totals = &invoice.totals;
    let totals = vec![
        field("جمع مبلغ پیش از تخفیف", amount(totals.before_discount)),
        field("جمع تخفیف", amount(totals.discount)),
        field("جمع مبلغ پس از تخفیف", amount(totals.after_discount)),
        field("جمع مالیات بر ارزش افزوده", amount(totals.vat)),
        field("مبلغ کل صورتحساب", amount(totals.total)),
    ];
    InvoicePage {
        seller_name: &invoice.seller_name,
        serial: persian_digits(&invoice.serial.to_string()),
        tax_id: invoice.tax_id.as_str(),
        issued_on: invoice.issued_on().long_persian(),
        issued_at_fa: tehran_time_of_day(invoice.issued_at),
        tax_status: tax_standing(tax).0,
        tax_reference: tax_standing(tax).1,
        issued_at_iso: invoice.issued_at.format(&Rfc3339).unwrap_or_default(),
        invoice_type: invoice_type_name(INVOICE_TYPE),
        invoice_pattern: invoice_pattern_name(INVOICE_PATTERN),
        invoice_subject: invoice_subject_name(invoice.subject.code()),
        references: invoice.subject.references().map(|original| original.as_str()),
        seller,
        buyer_kind,
        buyer,
        lines,
        totals,
        total_in_words: invoice.total_in_words(),
        payment: vec![
            field("روش پرداخت", "درگاه پرداخت اینترنتی".to_owned()),
            field("شمارهٔ پیگیری", persian_digits(invoice.payment.tracking_number.as_deref().unwrap_or("—"))),
            field("مبلغ پرداخت‌شده (ریال)", amount(invoice.payment.amount)),
        ],
    }
}

fn amount(rials: Rial) -> String {
    persian_amount(rials.value())
}

/// The unit as the tax system's unit codes name it; an unlisted code is shown as its number.
fn unit_name(code: UnitCode) -> String {
    match code {
        UnitCode::PIECE => "عدد".to_owned(),
        UnitCode::KILOGRAM => "کیلوگرم".to_owned(),
        UnitCode::GRAM => "گرم".to_owned(),
        UnitCode::PACKAGE => "بسته".to_owned(),
        other => persian_digits(&other.value().to_string()),
    }
}

/// A rate in basis points as a Persian percentage: 1000 → «۱۰٪», 950 → «۹٫۵٪», 925 → «۹٫۲۵٪».
fn percent(basis_points: u32) -> String {
    let (whole, hundredths) = (basis_points / 100, basis_points % 100);
    let number = match hundredths {
        0 => whole.to_string(),
        h if h % 10 == 0 => format!("{whole}\u{066B}{}", h / 10),
        h => format!("{whole}\u{066B}{h:02}"),
    };
    format!("{}\u{066A}", persian_digits(&number))
}

/// Invoice type (`inty`) as the tax system names it.
fn invoice_type_name(code: u8) -> String {
    match code {
        1 => "نوع ۱ — با مشخصات خریدار".to_owned(),
        2 => "نوع ۲ — بدون مشخصات خریدار".to_owned(),
        other => format!("نوع {}", persian_digits(&other.to_string())),
    }
}

/// Invoice pattern (`inp`): only sales are issued here.
fn invoice_pattern_name(code: u8) -> &'static str {
    match code {
        1 => "الگوی فروش",
        _ => "الگوی دیگر",
    }
}

/// Invoice subject (`ins`).
fn invoice_subject_name(code: u8) -> &'static str {
    match code {
        1 => "اصلی",
        2 => "اصلاحی",
        3 => "ابطالی",
        4 => "برگشت از فروش",
        _ => "نامشخص",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mizan::accounts::contact::PostalCode;
    use mizan::accounts::person::FullName;
    use mizan::invoicing::invoice::{InvoiceSubject, InvoiceTotals, PaymentRecord, Seller};
    use mizan::invoicing::tax_id::{MemoryId, tax_id};
    use mizan::kernel::ids::AccountId;
    use mizan::kernel::ids::OrderId;
    use mizan::kernel::ids::ProductId;
    use mizan::ordering::catalog::GoodsId;
    use mizan::ordering::identity::{EconomicCode, LegalId, NationalCode};
    use mizan::ordering::order::CompanyName;
    use mizan::ordering::pricing::PricedLine;
    use time::OffsetDateTime;

    fn seller() -> Seller {
        Seller {
            name: "قهوه میزان".to_owned(),
            economic_code: EconomicCode::parse("10380284790").unwrap(),
            address: "تهران، خیابان انقلاب، پلاک ۱۰".to_owned(),
            postal_code: PostalCode::parse("1435734561").unwrap(),
            memory_id: MemoryId::parse("DEF5GH").unwrap(),
        }
    }

    fn line(name: &str, unit_code: UnitCode, quantity: u32, unit_price: u64, basis_points: u32) -> PricedLine {
        let net = unit_price * u64::from(quantity);
        let vat = (net * u64::from(basis_points) + 5_000) / 10_000;
        PricedLine {
            product_id: ProductId::parse("arabica-250").unwrap(),
            name_fa: name.to_owned(),
            goods_id: GoodsId::parse("2720000012345").unwrap(),
            unit_code,
            quantity,
            unit_price: Rial::new(unit_price),
            discount: Rial::new(0),
            net: Rial::new(net),
            vat_basis_points: basis_points,
            vat: Rial::new(vat),
            total: Rial::new(net + vat),
        }
    }

    /// 2 × 12,345,675 at 10% and 1 × 1,000,000 at 9.5%: 27,160,485 + 1,095,000 = 28,255,485.
    fn sample(buyer: Buyer) -> Invoice {
        let seller = seller();
        // 2025-03-21 06:00 UTC: 09:30 in Tehran, 1 Farvardin 1404.
        let issued_at = OffsetDateTime::from_unix_timestamp(1_742_536_800).unwrap();
        let lines = vec![
            line("قهوه عربیکا ۲۵۰ گرمی", UnitCode::PACKAGE, 2, 12_345_675, 1000),
            line("آسیاب دستی", UnitCode::PIECE, 1, 1_000_000, 950),
        ];
        Invoice {
            order_id: OrderId::for_checkout(AccountId::new(), "k"),
            account: AccountId::new(),
            serial: 1234,
            tax_id: tax_id(&seller.memory_id, issued_at, 1234).unwrap(),
            issued_at,
            seller_name: seller.name,
            seller_economic_code: seller.economic_code,
            seller_address: seller.address,
            seller_postal_code: seller.postal_code,
            buyer,
            lines,
            totals: InvoiceTotals {
                before_discount: Rial::new(25_691_350),
                discount: Rial::new(0),
                after_discount: Rial::new(25_691_350),
                vat: Rial::new(2_564_135),
                total: Rial::new(28_255_485),
            },
            payment: PaymentRecord {
                tracking_number: Some("201".to_owned()),
                paid_at: issued_at,
                amount: Rial::new(28_255_485),
            },
            subject: InvoiceSubject::Original,
        }
    }

    fn natural() -> Buyer {
        Buyer::Natural {
            full_name: FullName::parse("مریم کاظمی").unwrap(),
            national_code: NationalCode::parse("0076229645").unwrap(),
        }
    }

    fn legal(company_name: &str) -> Buyer {
        Buyer::Legal {
            company_name: CompanyName::parse(company_name).unwrap(),
            economic_code: EconomicCode::parse("10380284790").unwrap(),
            national_id: LegalId::parse("10380284790").unwrap(),
            postal_code: PostalCode::parse("1968913456").unwrap(),
        }
    }

    /// The text a reader sees: the body without its tags (attributes included).
    fn visible_text(html: &str) -> String {
        let body = html.split_once("<body").map_or(html, |(_, body)| body);
        let mut text = String::new();
        let mut in_tag = true;
        for c in body.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    text.push(' ');
                }
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text
    }

    #[test]
    fn the_page_is_persian_right_to_left_with_persian_digits() {
        let invoice = sample(natural());
        let html = render(&invoice, None).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(html.contains(r#"<html lang="fa" dir="rtl">"#));
        assert!(html.contains("صورتحساب فروش کالا و خدمات"));
        for amount in ["۱۲٬۳۴۵٬۶۷۵", "۲۴٬۶۹۱٬۳۵۰", "۲٬۴۶۹٬۱۳۵", "۲۷٬۱۶۰٬۴۸۵", "۲۵٬۶۹۱٬۳۵۰", "۲٬۵۶۴٬۱۳۵", "۲۸٬۲۵۵٬۴۸۵"]
        {
            assert!(html.contains(amount), "missing {amount}");
        }
        assert!(html.contains("۱۰٪") && html.contains("۹٫۵٪"), "VAT rates in Persian");
        assert!(html.contains("بسته") && html.contains("عدد"), "unit names");
        assert!(html.contains("۱ فروردین ۱۴۰۴"), "the Solar Hijri date (Tehran)");
        assert!(html.contains("۰۹:۳۰:۰۰ به وقت تهران"), "the time of day in Tehran, beside the date");
        assert!(html.contains(r#"datetime="2025-03-21T06:00:00Z""#));
        assert!(html.contains("نوع ۱ — با مشخصات خریدار") && html.contains("الگوی فروش") && html.contains("اصلی"));
        assert!(html.contains("۱۲۳۴"), "the serial");
        assert!(html.contains("۰۰۷۶۲۲۹۶۴۵") && html.contains("مریم کاظمی"), "the natural buyer");
        assert!(html.contains("۱۰۳۸۰۲۸۴۷۹۰") && html.contains("۱۴۳۵۷۳۴۵۶۱"), "the seller's codes");
        assert!(html.contains(&format!(r#"<bdi dir="ltr">{}</bdi>"#, invoice.tax_id.as_str())), "the tax id, LTR");
        // Apart from the tax id, nothing a reader sees has an ASCII digit.
        let text = visible_text(&html).replace(invoice.tax_id.as_str(), "");
        assert!(!text.chars().any(|c| c.is_ascii_digit()), "ASCII digits shown: {text}");
    }

    #[test]
    fn the_total_is_written_in_words() {
        let html = render(&sample(natural()), None).unwrap();
        assert!(html.contains("به حروف"));
        assert!(html.contains("بیست و هشت میلیون و دویست و پنجاه و پنج هزار و چهارصد و هشتاد و پنج ریال"), "{html}");
    }

    #[test]
    fn p8_the_page_records_how_the_invoice_was_paid() {
        let text = visible_text(&render(&sample(natural()), None).unwrap());
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("درگاه پرداخت اینترنتی"), "{text}");
        assert!(text.contains("شمارهٔ پیگیری: ۲۰۱"), "{text}");
    }

    #[test]
    fn the_page_is_self_contained() {
        for buyer in [natural(), legal("شرکت قهوه‌پردازان پارس")] {
            let html = render(&sample(buyer), None).unwrap().to_ascii_lowercase();
            for external in ["http://", "https://", "<script", "<link", "@import", "url(", "<img", "<iframe"] {
                assert!(!html.contains(external), "found {external}");
            }
            assert!(html.contains("@media print") && html.contains("a4"), "print styles for A4");
        }
    }

    #[test]
    fn a_legal_buyer_is_named_with_its_codes() {
        let html = render(&sample(legal("شرکت قهوه‌پردازان پارس")), None).unwrap();
        assert!(html.contains("شخص حقوقی") && html.contains("شرکت قهوه‌پردازان پارس"));
        assert!(html.contains("شناسه ملی") && html.contains("۱۰۳۸۰۲۸۴۷۹۰"));
        assert!(html.contains("۱۹۶۸۹۱۳۴۵۶"), "the buyer's postal code");
        assert!(!html.contains("کد ملی"), "a company has no national code");
    }

    #[test]
    fn names_are_html_escaped() {
        let html = render(&sample(legal("<script>alert(1)</script> & \"Co\"")), None).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("& \"Co\""));
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Co&#34;"), "{html}");
    }

    #[test]
    fn p8_the_vat_certificate_is_a_printable_persian_page_naming_the_legal_buyer_and_its_vat() {
        let invoice = sample(legal("شرکت قهوه‌پردازان پارس"));
        // 2025-03-22 06:00 UTC: 2 Farvardin 1404, 09:30 in Tehran.
        let certified_at = OffsetDateTime::from_unix_timestamp(1_742_623_200).unwrap();
        let certificate = VatCertificate::for_invoice(&invoice, certified_at).unwrap();
        let html = render_certificate(&certificate, &invoice).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains(r#"<html lang="fa" dir="rtl">"#));
        assert!(html.contains("size: A4 portrait"), "one portrait page");
        let text = visible_text(&html);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("گواهی مالیات بر ارزش افزوده"), "{text}");
        assert!(text.contains("۲ فروردین ۱۴۰۴، ۰۹:۳۰:۰۰ به وقت تهران"), "when it was certified: {text}");
        assert!(text.contains("۱ فروردین ۱۴۰۴"), "the invoice's date: {text}");
        assert!(text.contains("شرکت قهوه‌پردازان پارس") && text.contains("شناسه ملی ۱۰۳۸۰۲۸۴۷۹۰"), "{text}");
        assert!(text.contains("مالیات بر ارزش افزوده ۲٬۵۶۴٬۱۳۵"), "the VAT: {text}");
        assert!(text.contains("مبلغ پیش از مالیات ۲۵٬۶۹۱٬۳۵۰") && text.contains("۲۸٬۲۵۵٬۴۸۵"), "{text}");
        assert!(text.contains("دو میلیون و پانصد و شصت و چهار هزار و صد و سی و پنج ریال"), "in words: {text}");
        assert!(html.contains(&format!(r#"<bdi dir="ltr">{}</bdi>"#, invoice.tax_id.as_str())), "the tax id, LTR");
        let text = text.replace(invoice.tax_id.as_str(), "");
        assert!(!text.chars().any(|c| c.is_ascii_digit()), "ASCII digits shown: {text}");
        let lower = html.to_ascii_lowercase();
        for external in ["http://", "https://", "<script", "<link", "@import", "url(", "<img"] {
            assert!(!lower.contains(external), "found {external}");
        }
    }

    #[test]
    fn rates_and_units_read_as_persian() {
        assert_eq!(percent(1000), "۱۰٪");
        assert_eq!(percent(950), "۹٫۵٪");
        assert_eq!(percent(925), "۹٫۲۵٪");
        assert_eq!(percent(905), "۹٫۰۵٪");
        assert_eq!(percent(0), "۰٪");
        assert_eq!(unit_name(UnitCode::KILOGRAM), "کیلوگرم");
        assert_eq!(unit_name(UnitCode::GRAM), "گرم");
        assert_eq!(unit_name(UnitCode(1612)), "۱۶۱۲");
    }

    #[test]
    fn p8_the_page_shows_the_tax_systems_reference_once_it_accepted_the_invoice() {
        use mizan::invoicing::ports::TaxReference;
        let invoice = sample(natural());
        let queued = visible_text(&render(&invoice, Some(&TaxState::Queued)).unwrap());
        assert!(queued.contains("در صف ارسال به سامانهٔ مؤدیان"), "{queued}");
        let accepted = TaxState::Accepted(TaxReference("a1b2c3-2025".to_owned()));
        let text = visible_text(&render(&invoice, Some(&accepted)).unwrap());
        assert!(text.contains("پذیرفته‌شده در سامانهٔ مؤدیان") && text.contains("a1b2c3-2025"), "{text}");
    }

    #[test]
    fn a_corrective_invoice_says_so_and_names_the_invoice_it_corrects() {
        let original = sample(natural());
        let corrective = Invoice {
            serial: original.serial + 1,
            subject: InvoiceSubject::Correction { original: original.tax_id.clone() },
            ..original.clone()
        };
        let text = visible_text(&render(&corrective, None).unwrap());
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("موضوع صورتحساب اصلاحی"), "{text}");
        assert!(text.contains(&format!("صورتحساب مرجع {}", original.tax_id.as_str())), "{text}");
        let text = visible_text(&render(&original, None).unwrap());
        assert!(!text.contains("صورتحساب مرجع"), "an original names no other: {text}");
    }
}
