//! VAT and order totals, in whole Rials.
//!
//! # The VAT rate
//! Rates come from a dated table in configuration (the template's `VatRates`), because the rate
//! of a given year is set by law and was not always confirmable in advance: the rate applied is
//! the one in force at the instant the order is priced, and it is stored on every line, so an
//! order or invoice is never re-taxed with a later rate. Rates are basis points (10% = 1000), so
//! no float ever touches money.
//!
//! # Rounding
//! VAT is computed **per line**, on the line's net amount (unit price × quantity − discount):
//!
//! ```text
//! line VAT = ⌊ (net × basis_points + 5000) / 10000 ⌋      (exact value rounded half up)
//! ```
//!
//! so x.5 Rial rounds up and anything below rounds down. The order's VAT is the sum of its lines'
//! VAT, not the VAT of the order's net total: the official invoice lists VAT per item, and its
//! lines must add up to its header exactly. Exempt products carry a rate of 0 and 0 VAT.
//! Every product and sum is checked: an amount that does not fit is an error, never a wrap.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::kernel::ids::ProductId;
use crate::kernel::money::Rial;
use crate::ordering::catalog::{GoodsId, Product, UnitCode, VatClass};
use crate::ordering::order::CartLine;

/// 100% in basis points.
const FULL_RATE: u32 = 10_000;

/// A VAT rate and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatRate {
    /// 10% = 1000.
    pub basis_points: u32,
    /// The instant from which it applies.
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// The law or notice that set it, for the record.
    pub source: String,
}

/// The dated VAT rate table: never empty, ordered by strictly increasing `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatSchedule {
    rates: Vec<VatRate>,
}

#[derive(Debug, thiserror::Error)]
pub enum VatScheduleError {
    #[error("the VAT rate table is not a JSON array of {{from, percent, source}}: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("the VAT rate table is empty")]
    Empty,
    #[error("VAT rate entry {index} does not start strictly after the entry before it")]
    NotAscending { index: usize },
    #[error("VAT rate entry {index} has a negative percent")]
    Negative { index: usize },
    #[error("VAT rate entry {index} is above 100%")]
    AboveFull { index: usize },
    #[error("VAT rate entry {index} is not a plain decimal with at most 2 decimals")]
    Precision { index: usize },
}

/// One entry as written in the configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateEntry {
    #[serde(with = "time::serde::rfc3339")]
    from: OffsetDateTime,
    /// Only checked to be a JSON number here; its value is read from the number's text (see
    /// `number_tokens`), because serde_json hands a decimal over as an f64.
    #[serde(rename = "percent")]
    _percent: serde_json::Number,
    source: String,
}

impl VatSchedule {
    /// Parses the `VatRates` JSON: `[{"from": RFC 3339, "percent": 10 or 9.5, "source": text}]`.
    ///
    /// The percent is read exactly from its JSON text, not through an f64: without serde_json's
    /// `arbitrary_precision` feature a decimal such as `9.25` arrives as a float, and that
    /// feature is not an option — Cargo unifies it across the workspace, changing how every crate's
    /// `serde_json::Value` holds numbers (and breaking untagged/flattened number fields).
    pub fn from_json(json: &str) -> Result<Self, VatScheduleError> {
        let entries: Vec<RateEntry> = serde_json::from_str(json).map_err(VatScheduleError::Malformed)?;
        if entries.is_empty() {
            return Err(VatScheduleError::Empty);
        }
        // The document parsed as entries whose only number is `percent`, so its number tokens
        // are exactly the percents, in document order.
        let percents = number_tokens(json);
        if percents.len() != entries.len() {
            // Unreachable for a document serde accepted; refused rather than guessed at.
            return Err(VatScheduleError::Precision { index: percents.len().min(entries.len()) });
        }
        let mut rates: Vec<VatRate> = Vec::with_capacity(entries.len());
        for (index, (entry, percent)) in entries.into_iter().zip(percents).enumerate() {
            let basis_points = percent_to_basis_points(percent, index)?;
            if rates.last().is_some_and(|previous| previous.from >= entry.from) {
                return Err(VatScheduleError::NotAscending { index });
            }
            rates.push(VatRate { basis_points, from: entry.from, source: entry.source });
        }
        Ok(Self { rates })
    }

    /// The rate in force at `at`: the last entry that started at or before it; `None` before
    /// the first entry.
    pub fn rate_at(&self, at: OffsetDateTime) -> Option<VatRate> {
        self.rates.iter().rev().find(|rate| rate.from <= at).cloned()
    }

    pub fn rates(&self) -> &[VatRate] {
        &self.rates
    }
}

/// The text of every number in a JSON document, in order. Meant only for a document serde_json
/// has already accepted: strings are skipped (their escapes included), and outside strings a
/// number is the only token that starts with `-` or a digit.
fn number_tokens(json: &str) -> Vec<&str> {
    let bytes = json.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => {
                i += 1;
                while let Some(&inner) = bytes.get(i) {
                    i += if inner == b'\\' { 2 } else { 1 };
                    if inner == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes.get(i).is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                    i += 1;
                }
                // Token bounds are ASCII bytes, so they are char boundaries.
                if let Some(token) = json.get(start..i) {
                    tokens.push(token);
                }
            }
            _ => i += 1,
        }
    }
    tokens
}

/// `"10"` → 1000, `"9.5"` → 950, `"9.25"` → 925. Plain decimals only: an exponent or a third
/// decimal is refused, not rounded.
fn percent_to_basis_points(text: &str, index: usize) -> Result<u32, VatScheduleError> {
    if text.starts_with('-') {
        return Err(VatScheduleError::Negative { index });
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 2 {
        return Err(VatScheduleError::Precision { index });
    }
    // JSON has no leading zeros, so more than three digits is more than 100.
    let whole: u32 = match whole.len() {
        0..=3 => whole.parse().map_err(|_| VatScheduleError::Precision { index })?,
        _ => return Err(VatScheduleError::AboveFull { index }),
    };
    let hundredths: u32 = format!("{fraction:0<2}").parse().map_err(|_| VatScheduleError::Precision { index })?;
    let basis_points = whole * 100 + hundredths;
    if basis_points > FULL_RATE {
        return Err(VatScheduleError::AboveFull { index });
    }
    Ok(basis_points)
}

/// A line of a priced order, with everything the official invoice item needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub name_fa: String,
    pub goods_id: GoodsId,
    pub unit_code: UnitCode,
    pub quantity: u32,
    pub unit_price: Rial,
    /// Always 0 for now; part of the invoice item, and already subtracted in `net`.
    pub discount: Rial,
    /// unit_price × quantity − discount.
    pub net: Rial,
    /// The rate applied to this line: 0 for an exempt product.
    pub vat_basis_points: u32,
    pub vat: Rial,
    /// net + vat.
    pub total: Rial,
}

/// An order's lines and totals, and the rate in force when it was priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedOrder {
    pub lines: Vec<PricedLine>,
    /// Σ line net.
    pub subtotal: Rial,
    /// Σ line VAT.
    pub vat: Rial,
    /// subtotal + vat.
    pub total: Rial,
    pub vat_rate: VatRate,
}

impl PricedOrder {
    /// What each line took from stock.
    pub fn cart(&self) -> Vec<CartLine> {
        self.lines
            .iter()
            .map(|line| CartLine { product_id: line.product_id.clone(), quantity: line.quantity })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("an amount of the order does not fit in a Rial")]
    Overflow,
    #[error("no VAT rate is in force at the pricing instant")]
    NoRateInForce,
}

/// VAT on a net amount, rounded half up to a whole Rial (see the module doc).
pub fn line_vat(net: Rial, basis_points: u32) -> Result<Rial, PricingError> {
    // u64 × u32 always fits in u128, and so does adding half of the divisor.
    let exact_times_10000 = u128::from(net.value()) * u128::from(basis_points);
    let rounded = (exact_times_10000 + u128::from(FULL_RATE / 2)) / u128::from(FULL_RATE);
    u64::try_from(rounded).map(Rial::new).map_err(|_| PricingError::Overflow)
}

/// Prices `(product, quantity)` pairs at the rate in force at `at`. The caller decides which
/// products and quantities make a valid order; this only does the arithmetic.
pub fn price_order(
    items: &[(Product, u32)],
    schedule: &VatSchedule,
    at: OffsetDateTime,
) -> Result<PricedOrder, PricingError> {
    let vat_rate = schedule.rate_at(at).ok_or(PricingError::NoRateInForce)?;
    let mut lines = Vec::with_capacity(items.len());
    let (mut subtotal, mut vat) = (Rial::new(0), Rial::new(0));
    for (product, quantity) in items {
        let line = price_line(product, *quantity, &vat_rate)?;
        subtotal = subtotal.checked_add(line.net).ok_or(PricingError::Overflow)?;
        vat = vat.checked_add(line.vat).ok_or(PricingError::Overflow)?;
        lines.push(line);
    }
    let total = subtotal.checked_add(vat).ok_or(PricingError::Overflow)?;
    Ok(PricedOrder { lines, subtotal, vat, total, vat_rate })
}

fn price_line(product: &Product, quantity: u32, rate: &VatRate) -> Result<PricedLine, PricingError> {
    let discount = Rial::new(0);
    let gross = product.price.checked_mul(quantity).ok_or(PricingError::Overflow)?;
    let net = gross.value().checked_sub(discount.value()).map(Rial::new).ok_or(PricingError::Overflow)?;
    let vat_basis_points = match product.vat_class {
        VatClass::Standard => rate.basis_points,
        VatClass::Exempt => 0,
    };
    let vat = line_vat(net, vat_basis_points)?;
    let total = net.checked_add(vat).ok_or(PricingError::Overflow)?;
    Ok(PricedLine {
        product_id: product.id.clone(),
        name_fa: product.name_fa.clone(),
        goods_id: product.goods_id.clone(),
        unit_code: product.unit_code,
        quantity,
        unit_price: product.price,
        discount,
        net,
        vat_basis_points,
        vat,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ordering::catalog::ProductKind;
    use proptest::prelude::*;
    use time::format_description::well_known::Rfc3339;

    /// The template's default, as deployed.
    const TEMPLATE_RATES: &str = r#"[{"from":"2023-03-21T00:00:00+03:30","percent":9,"source":"قانون مالیات بر ارزش افزوده، ماده ۷ (نرخ ۱۴۰۲)"},{"from":"2024-03-20T00:00:00+03:30","percent":10,"source":"قانون بودجه ۱۴۰۳"}]"#;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    fn schedule() -> VatSchedule {
        VatSchedule::from_json(TEMPLATE_RATES).unwrap()
    }

    fn product(id: &str, price: u64, vat_class: VatClass) -> Product {
        Product {
            id: ProductId::parse(id).unwrap(),
            name_fa: format!("محصول {id}"),
            kind: ProductKind::Beans,
            weight_grams: Some(250),
            unit_code: UnitCode::PACKAGE,
            price: Rial::new(price),
            vat_class,
            goods_id: GoodsId::parse("2720000118401").unwrap(),
            stock: 10,
        }
    }

    #[test]
    fn the_template_table_parses() {
        let schedule = schedule();
        assert_eq!(schedule.rates().len(), 2);
        assert_eq!(schedule.rates()[0].basis_points, 900);
        assert_eq!(schedule.rates()[1].basis_points, 1000);
        assert_eq!(schedule.rates()[1].source, "قانون بودجه ۱۴۰۳");
        assert_eq!(schedule.rates()[1].from, at("2024-03-19T20:30:00Z"));
    }

    #[test]
    fn the_rate_changes_at_the_instant_of_the_table() {
        let schedule = schedule();
        assert_eq!(schedule.rate_at(at("2023-03-20T23:59:59+03:30")), None);
        assert_eq!(schedule.rate_at(at("2023-03-21T00:00:00+03:30")).unwrap().basis_points, 900);
        assert_eq!(schedule.rate_at(at("2024-03-19T23:59:59+03:30")).unwrap().basis_points, 900);
        assert_eq!(schedule.rate_at(at("2024-03-20T00:00:00+03:30")).unwrap().basis_points, 1000);
        // The same instant written in UTC.
        assert_eq!(schedule.rate_at(at("2024-03-19T20:29:59.999Z")).unwrap().basis_points, 900);
        assert_eq!(schedule.rate_at(at("2024-03-19T20:30:00Z")).unwrap().basis_points, 1000);
        assert_eq!(schedule.rate_at(at("2026-11-01T12:00:00+03:30")).unwrap().basis_points, 1000);
    }

    #[test]
    fn percents_are_read_exactly() {
        let one = |percent: &str| {
            VatSchedule::from_json(&format!(
                r#"[{{"from":"2024-03-20T00:00:00+03:30","percent":{percent},"source":"x"}}]"#
            ))
            .map(|s| s.rates()[0].basis_points)
        };
        assert_eq!(one("10").unwrap(), 1000);
        assert_eq!(one("9.5").unwrap(), 950);
        assert_eq!(one("9.25").unwrap(), 925);
        assert_eq!(one("0.01").unwrap(), 1);
        assert_eq!(one("0").unwrap(), 0);
        assert_eq!(one("100").unwrap(), 10_000);
        assert_eq!(one("100.00").unwrap(), 10_000);
        // Values a float would blur: refused, not rounded.
        assert!(matches!(one("9.125"), Err(VatScheduleError::Precision { index: 0 })));
        assert!(matches!(one("10.0000000000000001"), Err(VatScheduleError::Precision { index: 0 })));
        assert!(matches!(one("1e1"), Err(VatScheduleError::Precision { index: 0 })));
        assert!(matches!(one("-1"), Err(VatScheduleError::Negative { index: 0 })));
        assert!(matches!(one("-0.5"), Err(VatScheduleError::Negative { index: 0 })));
        assert!(matches!(one("100.01"), Err(VatScheduleError::AboveFull { index: 0 })));
        assert!(matches!(one("101"), Err(VatScheduleError::AboveFull { index: 0 })));
        assert!(matches!(one("123456789012345678901234567890"), Err(VatScheduleError::AboveFull { index: 0 })));
        assert!(matches!(one("\"10\""), Err(VatScheduleError::Malformed(_))));
    }

    #[test]
    fn strings_with_digits_and_escapes_do_not_confuse_the_percents() {
        let json = r#"[{"source":"ماده 7، بند \"2-1\" \\","from":"2023-03-21T00:00:00+03:30","percent":9},
                       {"percent":10.5,"source":"-3 e5 \\\" 4","from":"2024-03-20T00:00:00+03:30"}]"#;
        let schedule = VatSchedule::from_json(json).unwrap();
        assert_eq!(schedule.rates().iter().map(|r| r.basis_points).collect::<Vec<_>>(), [900, 1050]);
        assert_eq!(schedule.rates()[1].source, r#"-3 e5 \" 4"#);
    }

    #[test]
    fn bad_tables_are_refused() {
        let entry = |from: &str, percent: &str| format!(r#"{{"from":"{from}","percent":{percent},"source":"x"}}"#);
        let table = |entries: &[String]| format!("[{}]", entries.join(","));
        let a = entry("2023-03-21T00:00:00+03:30", "9");
        let b = entry("2024-03-20T00:00:00+03:30", "10");
        assert!(VatSchedule::from_json(&table(&[a.clone(), b.clone()])).is_ok());
        assert!(matches!(VatSchedule::from_json("[]"), Err(VatScheduleError::Empty)));
        assert!(matches!(
            VatSchedule::from_json(&table(&[b.clone(), a.clone()])),
            Err(VatScheduleError::NotAscending { index: 1 })
        ));
        assert!(matches!(
            VatSchedule::from_json(&table(&[a.clone(), a.clone()])),
            Err(VatScheduleError::NotAscending { index: 1 })
        ));
        // The same instant in another offset is a duplicate too.
        let a_utc = entry("2023-03-20T20:30:00Z", "10");
        assert!(matches!(
            VatSchedule::from_json(&table(&[a.clone(), a_utc])),
            Err(VatScheduleError::NotAscending { index: 1 })
        ));
        assert!(matches!(
            VatSchedule::from_json(&table(&[a.clone(), entry("2024-03-20T00:00:00+03:30", "-10")])),
            Err(VatScheduleError::Negative { index: 1 })
        ));
        assert!(matches!(
            VatSchedule::from_json(&table(&[a.clone(), entry("2024-03-20T00:00:00+03:30", "120")])),
            Err(VatScheduleError::AboveFull { index: 1 })
        ));
        for malformed in [
            "",
            "{}",
            "null",
            r#"[{"from":"2024-03-20","percent":10,"source":"x"}]"#,
            r#"[{"from":"2024-03-20T00:00:00+03:30","percent":10}]"#,
            r#"[{"from":"2024-03-20T00:00:00+03:30","percent":10,"source":"x","note":1}]"#,
            r#"[{"from":"2024-03-20T00:00:00+03:30","percent":null,"source":"x"}]"#,
        ] {
            assert!(matches!(VatSchedule::from_json(malformed), Err(VatScheduleError::Malformed(_))), "{malformed}");
        }
    }

    #[test]
    fn vat_rounds_half_up_to_a_whole_rial() {
        // 10% of 15 = 1.5 → 2; of 14 = 1.4 → 1; of 25 = 2.5 → 3.
        assert_eq!(line_vat(Rial::new(15), 1000), Ok(Rial::new(2)));
        assert_eq!(line_vat(Rial::new(14), 1000), Ok(Rial::new(1)));
        assert_eq!(line_vat(Rial::new(25), 1000), Ok(Rial::new(3)));
        // 9% of 50 = 4.5 → 5; 9% of 161 = 14.49 → 14; 9% of 162 = 14.58 → 15.
        assert_eq!(line_vat(Rial::new(50), 900), Ok(Rial::new(5)));
        assert_eq!(line_vat(Rial::new(161), 900), Ok(Rial::new(14)));
        assert_eq!(line_vat(Rial::new(162), 900), Ok(Rial::new(15)));
        // 0.01% of 4999 = 0.4999 → 0; of 5000 = 0.5 → 1.
        assert_eq!(line_vat(Rial::new(4_999), 1), Ok(Rial::new(0)));
        assert_eq!(line_vat(Rial::new(5_000), 1), Ok(Rial::new(1)));
        assert_eq!(line_vat(Rial::new(u64::MAX), 0), Ok(Rial::new(0)));
        assert_eq!(line_vat(Rial::new(u64::MAX), 10_000), Ok(Rial::new(u64::MAX)));
        assert_eq!(line_vat(Rial::new(u64::MAX), 10_001), Err(PricingError::Overflow));
    }

    #[test]
    fn a_ten_percent_order() {
        let items = [
            (product("ethiopia-yirgacheffe-250g", 16_800_000, VatClass::Standard), 2),
            (product("v60-dripper-02", 31_000_005, VatClass::Standard), 1),
        ];
        let order = price_order(&items, &schedule(), at("2026-11-01T10:00:00+03:30")).unwrap();
        assert_eq!(order.vat_rate.basis_points, 1000);
        let first = &order.lines[0];
        assert_eq!((first.quantity, first.unit_price, first.discount), (2, Rial::new(16_800_000), Rial::new(0)));
        assert_eq!(
            (first.net, first.vat_basis_points, first.vat, first.total),
            (Rial::new(33_600_000), 1000, Rial::new(3_360_000), Rial::new(36_960_000))
        );
        // 10% of 31,000,005 = 3,100,000.5 → 3,100,001.
        assert_eq!((order.lines[1].vat, order.lines[1].total), (Rial::new(3_100_001), Rial::new(34_100_006)));
        assert_eq!(order.subtotal, Rial::new(64_600_005));
        assert_eq!(order.vat, Rial::new(6_460_001));
        assert_eq!(order.total, Rial::new(71_060_006));
    }

    #[test]
    fn a_nine_percent_order_before_the_change() {
        let items = [(product("kenya-aa-250g", 19_500_000, VatClass::Standard), 3)];
        let schedule = schedule();
        let before = price_order(&items, &schedule, at("2024-03-19T23:59:59+03:30")).unwrap();
        assert_eq!(before.vat_rate.basis_points, 900);
        assert_eq!(
            (before.subtotal, before.vat, before.total),
            (Rial::new(58_500_000), Rial::new(5_265_000), Rial::new(63_765_000))
        );
        let after = price_order(&items, &schedule, at("2024-03-20T00:00:00+03:30")).unwrap();
        assert_eq!((after.vat, after.lines[0].vat_basis_points), (Rial::new(5_850_000), 1000));
        assert_eq!(price_order(&items, &schedule, at("2020-01-01T00:00:00Z")), Err(PricingError::NoRateInForce));
    }

    #[test]
    fn exempt_lines_carry_no_vat() {
        let items = [
            (product("exempt-thing", 1_000_005, VatClass::Exempt), 3),
            (product("taxed-thing", 1_000, VatClass::Standard), 1),
        ];
        let order = price_order(&items, &schedule(), at("2026-11-01T10:00:00+03:30")).unwrap();
        assert_eq!((order.lines[0].vat_basis_points, order.lines[0].vat), (0, Rial::new(0)));
        assert_eq!(order.lines[0].total, Rial::new(3_000_015));
        assert_eq!(order.vat, Rial::new(100));
        assert_eq!(order.vat_rate.basis_points, 1000, "the rate in force is recorded even when a line is exempt");
    }

    #[test]
    fn order_vat_is_the_sum_of_line_vat_not_vat_of_the_sum() {
        // 100 lines of 15 Rials at 10%: each line's 1.5 rounds to 2, so 200, where 10% of the
        // 1,500 subtotal would be 150.
        let items: Vec<_> = (0..100).map(|i| (product(&format!("p{i}"), 15, VatClass::Standard), 1)).collect();
        let order = price_order(&items, &schedule(), at("2026-11-01T10:00:00+03:30")).unwrap();
        assert_eq!(order.lines.len(), 100);
        assert_eq!((order.subtotal, order.vat, order.total), (Rial::new(1_500), Rial::new(200), Rial::new(1_700)));
    }

    #[test]
    fn an_empty_order_prices_to_zero() {
        let order = price_order(&[], &schedule(), at("2026-11-01T10:00:00+03:30")).unwrap();
        assert_eq!((order.lines.len(), order.total), (0, Rial::new(0)));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let now = at("2026-11-01T10:00:00+03:30");
        let huge = [(product("huge", u64::MAX / 2, VatClass::Standard), 3)];
        assert_eq!(price_order(&huge, &schedule(), now), Err(PricingError::Overflow));
        // The net fits but net + VAT does not.
        let edge = [(product("edge", u64::MAX - 10, VatClass::Standard), 1)];
        assert_eq!(price_order(&edge, &schedule(), now), Err(PricingError::Overflow));
        // Each line fits, their sum does not.
        let many =
            [(product("a", u64::MAX / 4, VatClass::Exempt), 3), (product("b", u64::MAX / 4, VatClass::Exempt), 3)];
        assert_eq!(price_order(&many, &schedule(), now), Err(PricingError::Overflow));
        // u32::MAX × a large price.
        let max_quantity = [(product("c", 10_000_000_000, VatClass::Standard), u32::MAX)];
        assert_eq!(price_order(&max_quantity, &schedule(), now), Err(PricingError::Overflow));
    }

    #[test]
    fn a_priced_order_round_trips_through_json() {
        let items = [(product("kenya-aa-250g", 19_500_000, VatClass::Standard), 1)];
        let order = price_order(&items, &schedule(), at("2026-11-01T10:00:00+03:30")).unwrap();
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(json["lines"][0]["vat_basis_points"], 1000);
        assert_eq!(json["lines"][0]["unit_price"], 19_500_000);
        assert_eq!(json["lines"][0]["unit_code"], 1628);
        // The instant keeps the offset the table was written in.
        assert_eq!(json["vat_rate"]["from"], "2024-03-20T00:00:00+03:30");
        assert_eq!(serde_json::from_value::<PricedOrder>(json).unwrap(), order);
    }

    proptest! {
        #[test]
        fn totals_add_up_and_each_line_is_rounded_to_within_half_a_rial(
            lines in prop::collection::vec((0u64..=1_000_000_000_000, 1u32..=1000, any::<bool>()), 0..40),
            basis_points in 0u32..=FULL_RATE,
        ) {
            let schedule = VatSchedule {
                rates: vec![VatRate { basis_points, from: at("2024-03-20T00:00:00+03:30"), source: "test".into() }],
            };
            let items: Vec<_> = lines
                .iter()
                .enumerate()
                .map(|(i, &(price, quantity, exempt))| {
                    let class = if exempt { VatClass::Exempt } else { VatClass::Standard };
                    (product(&format!("p{i}"), price, class), quantity)
                })
                .collect();
            let order = price_order(&items, &schedule, at("2026-11-01T10:00:00+03:30")).unwrap();
            prop_assert_eq!(order.total.value(), order.subtotal.value() + order.vat.value());
            prop_assert_eq!(order.vat.value(), order.lines.iter().map(|l| l.vat.value()).sum::<u64>());
            prop_assert_eq!(order.subtotal.value(), order.lines.iter().map(|l| l.net.value()).sum::<u64>());
            for (line, &(price, quantity, exempt)) in order.lines.iter().zip(&lines) {
                prop_assert_eq!(line.net.value(), price * u64::from(quantity));
                prop_assert_eq!(line.total.value(), line.net.value() + line.vat.value());
                let bp = if exempt { 0 } else { basis_points };
                prop_assert_eq!(line.vat_basis_points, bp);
                // |vat − net × bp / 10000| ≤ 1/2, scaled by 10000 to stay in integers.
                let exact = i128::from(line.net.value()) * i128::from(bp);
                let off = (i128::from(line.vat.value()) * 10_000 - exact).abs();
                prop_assert!(off <= 5_000, "line vat {} is {} / 10000 Rial off", line.vat.value(), off);
                // Half up: exactly half a Rial rounds up.
                if off == 5_000 {
                    prop_assert!(i128::from(line.vat.value()) * 10_000 > exact);
                }
            }
        }

        #[test]
        fn any_text_is_refused_or_parsed_without_panicking(json in "\\PC{0,200}") {
            let _ = VatSchedule::from_json(&json);
        }

        #[test]
        fn any_two_decimal_percent_is_read_exactly(hundredths in 0u32..=10_000) {
            let text = format!("{}.{:02}", hundredths / 100, hundredths % 100);
            let json = format!(r#"[{{"from":"2024-03-20T00:00:00+03:30","percent":{text},"source":"x"}}]"#);
            prop_assert_eq!(VatSchedule::from_json(&json).unwrap().rates()[0].basis_points, hundredths);
        }
    }
}
