//! Numbers as a Persian reader expects them: Persian digits `۰–۹` and the Arabic thousands
//! separator «٬» (U+066C) in text shown to customers; ASCII with `,` where the reader is a
//! program or an English-language document.

/// The Persian digits, indexed by their ASCII value.
const PERSIAN_DIGITS: [char; 10] = ['۰', '۱', '۲', '۳', '۴', '۵', '۶', '۷', '۸', '۹'];

/// The Arabic thousands separator, which Persian typography uses between groups of Persian
/// digits; a Latin comma there reads as the Persian comma «،» and confuses amounts.
pub const PERSIAN_THOUSANDS_SEPARATOR: char = '\u{066C}';

/// `s` with every ASCII digit replaced by its Persian digit (U+06F0–U+06F9); everything else,
/// including Arabic-Indic digits and separators, is kept as it is.
pub fn persian_digits(s: &str) -> String {
    s.chars()
        .map(|c| {
            c.to_digit(10)
                .and_then(|d| usize::try_from(d).ok())
                .and_then(|d| PERSIAN_DIGITS.get(d))
                .copied()
                .unwrap_or(c)
        })
        .collect()
}

/// `1,250,000`: ASCII digits with a comma between groups of three.
pub fn grouped(n: u64) -> String {
    group_with(n, ',')
}

/// `۱٬۲۵۰٬۰۰۰`: Persian digits with the Persian thousands separator between groups of three.
pub fn persian_amount(n: u64) -> String {
    persian_digits(&group_with(n, PERSIAN_THOUSANDS_SEPARATOR))
}

fn group_with(n: u64, separator: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * separator.len_utf8());
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digits_become_persian_and_nothing_else_changes() {
        assert_eq!(persian_digits("0123456789"), "۰۱۲۳۴۵۶۷۸۹");
        assert_eq!(persian_digits("1404/01/01"), "۱۴۰۴/۰۱/۰۱");
        assert_eq!(persian_digits("سفارش 12 عدد"), "سفارش ۱۲ عدد");
        assert_eq!(persian_digits("٣ ۳ x-, "), "٣ ۳ x-, ");
        assert_eq!(persian_digits(""), "");
    }

    #[test]
    fn ascii_grouping() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(1_250_000), "1,250,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn persian_grouping() {
        assert_eq!(persian_amount(0), "۰");
        assert_eq!(persian_amount(999), "۹۹۹");
        assert_eq!(persian_amount(1_000), "۱٬۰۰۰");
        assert_eq!(persian_amount(1_250_000), "۱٬۲۵۰٬۰۰۰");
        assert_eq!(persian_amount(u64::MAX), "۱۸٬۴۴۶٬۷۴۴٬۰۷۳٬۷۰۹٬۵۵۱٬۶۱۵");
    }

    proptest! {
        #[test]
        fn grouping_agrees_with_rial_display(n in any::<u64>()) {
            prop_assert_eq!(grouped(n), crate::kernel::money::Rial::new(n).to_string());
        }

        #[test]
        fn persian_amount_is_the_ascii_grouping_in_persian(n in any::<u64>()) {
            let ascii: String = persian_amount(n)
                .chars()
                .map(|c| match c {
                    PERSIAN_THOUSANDS_SEPARATOR => ',',
                    '۰'..='۹' => char::from_u32(u32::from(c) - 0x06F0 + u32::from('0')).unwrap(),
                    other => other,
                })
                .collect();
            prop_assert_eq!(ascii, grouped(n));
        }

        #[test]
        fn no_ascii_digit_survives(s in ".*") {
            prop_assert!(!persian_digits(&s).chars().any(|c| c.is_ascii_digit()));
            prop_assert_eq!(persian_digits(&s).chars().count(), s.chars().count());
        }
    }
}
