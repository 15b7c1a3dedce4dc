//! Amounts in Persian words, as written under an invoice's total («به حروف»).
//!
//! Conventions, those of cheques and invoices:
//! - «و» joins the parts of a group (`صد و ده`) and the groups (`یک میلیون و پنج`); a group that
//!   is zero says nothing, so no «و» is left dangling or doubled.
//! - A scale word always has its count, «یک هزار» rather than the spoken «هزار», like
//!   «یک میلیون»: on a financial document a bare scale word invites a digit written in front of
//!   it, and every group then reads the same way. Hundreds stay «صد» (not «یکصد»), as in
//!   `صد و ده`.
//! - Scale names (short scale, as Iranian banks and the Central Bank print them): هزار 10³,
//!   میلیون 10⁶, میلیارد 10⁹, تریلیون 10¹², کوادریلیون 10¹⁵, کوینتیلیون 10¹⁸ — enough for
//!   `u64::MAX`. «هزار میلیارد» for 10¹² is also common, but it cannot continue past 10¹⁵
//!   without stacking scale words; no invoice gets there, so the choice only has to be defined.

use crate::kernel::money::Rial;

const ONES: [&str; 9] = ["یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نه"];
const TEENS: [&str; 10] = ["ده", "یازده", "دوازده", "سیزده", "چهارده", "پانزده", "شانزده", "هفده", "هجده", "نوزده"];
const TENS: [&str; 8] = ["بیست", "سی", "چهل", "پنجاه", "شصت", "هفتاد", "هشتاد", "نود"];
const HUNDREDS: [&str; 9] = ["صد", "دویست", "سیصد", "چهارصد", "پانصد", "ششصد", "هفتصد", "هشتصد", "نهصد"];
/// Indexed by the group's position counted from the right (0 = units).
const SCALES: [&str; 7] = ["", "هزار", "میلیون", "میلیارد", "تریلیون", "کوادریلیون", "کوینتیلیون"];

const AND: &str = " و ";

/// The amount in words followed by «ریال»: `یک میلیون و پنج ریال`.
pub fn rials_in_words(amount: Rial) -> String {
    format!("{} ریال", number_in_words(amount.value()))
}

/// `n` in Persian words: `0` → «صفر», `1_000_005` → «یک میلیون و پنج».
pub fn number_in_words(n: u64) -> String {
    if n == 0 {
        return "صفر".to_owned();
    }
    let mut groups = Vec::with_capacity(SCALES.len());
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1_000);
        rest /= 1_000;
    }
    let mut parts = Vec::with_capacity(groups.len());
    for (position, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        let words = group_in_words(group);
        match SCALES.get(position).copied() {
            Some("") | None => parts.push(words),
            Some(scale) => parts.push(format!("{words} {scale}")),
        }
    }
    parts.join(AND)
}

/// A group of 1 to 999 in words.
fn group_in_words(group: u64) -> String {
    let hundreds = group / 100;
    let below_hundred = group % 100;
    let mut words = Vec::with_capacity(3);
    if hundreds > 0 {
        words.extend(word(&HUNDREDS, hundreds - 1));
    }
    match below_hundred {
        0 => {}
        1..=9 => words.extend(word(&ONES, below_hundred - 1)),
        10..=19 => words.extend(word(&TEENS, below_hundred - 10)),
        _ => {
            words.extend(word(&TENS, below_hundred / 10 - 2));
            let ones = below_hundred % 10;
            if ones > 0 {
                words.extend(word(&ONES, ones - 1));
            }
        }
    }
    words.join(AND)
}

fn word(table: &[&'static str], index: u64) -> Option<&'static str> {
    table.get(usize::try_from(index).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_of_amounts() {
        let table: &[(u64, &str)] = &[
            (0, "صفر"),
            (1, "یک"),
            (9, "نه"),
            (10, "ده"),
            (11, "یازده"),
            (18, "هجده"),
            (20, "بیست"),
            (21, "بیست و یک"),
            (99, "نود و نه"),
            (100, "صد"),
            (101, "صد و یک"),
            (110, "صد و ده"),
            (115, "صد و پانزده"),
            (200, "دویست"),
            (305, "سیصد و پنج"),
            (600, "ششصد"),
            (999, "نهصد و نود و نه"),
            (1_000, "یک هزار"),
            (1_001, "یک هزار و یک"),
            (1_100, "یک هزار و صد"),
            (2_000, "دو هزار"),
            (12_500, "دوازده هزار و پانصد"),
            (100_000, "صد هزار"),
            (250_000, "دویست و پنجاه هزار"),
            (1_000_000, "یک میلیون"),
            (1_000_005, "یک میلیون و پنج"),
            (1_001_000, "یک میلیون و یک هزار"),
            (1_250_000, "یک میلیون و دویست و پنجاه هزار"),
            (2_000_300, "دو میلیون و سیصد"),
            (5_020_000, "پنج میلیون و بیست هزار"),
            (10_000_000, "ده میلیون"),
            (1_000_000_000, "یک میلیارد"),
            (1_200_000_000, "یک میلیارد و دویست میلیون"),
            (1_000_000_001, "یک میلیارد و یک"),
            (1_000_001_000, "یک میلیارد و یک هزار"),
            (3_000_000_000_000, "سه تریلیون"),
            (3_000_000_000_040, "سه تریلیون و چهل"),
            (7_000_000_000_000_000, "هفت کوادریلیون"),
            (1_000_000_000_000_000_000, "یک کوینتیلیون"),
            (
                u64::MAX,
                "هجده کوینتیلیون و چهارصد و چهل و شش کوادریلیون و هفتصد و چهل و چهار تریلیون و هفتاد و سه میلیارد و هفتصد و نه میلیون و پانصد و پنجاه و یک هزار و ششصد و پانزده",
            ),
        ];
        for &(n, words) in table {
            assert_eq!(number_in_words(n), words, "{n}");
        }
    }

    #[test]
    fn rials_say_their_unit() {
        assert_eq!(rials_in_words(Rial::new(0)), "صفر ریال");
        assert_eq!(rials_in_words(Rial::new(1_000_005)), "یک میلیون و پنج ریال");
        assert_eq!(rials_in_words(Rial::new(12_650_000)), "دوازده میلیون و ششصد و پنجاه هزار ریال");
    }

    #[test]
    fn every_group_of_one_to_999_is_distinct_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for n in 1..=999 {
            let words = number_in_words(n);
            assert!(seen.insert(words.clone()), "{n}: {words}");
            assert!(!words.contains("  ") && !words.contains("و و"), "{n}: {words}");
        }
    }

    /// An independent reader of the words: small numbers add up within a group, a scale word
    /// closes the group. It proves no group is lost, doubled or misplaced.
    fn read_back(words: &str) -> Option<u64> {
        if words == "صفر" {
            return Some(0);
        }
        let value_of = |w: &str| -> Option<u64> {
            let position = |table: &[&str]| table.iter().position(|t| *t == w).map(|p| p as u64);
            position(&ONES)
                .map(|p| p + 1)
                .or_else(|| position(&TEENS).map(|p| p + 10))
                .or_else(|| position(&TENS).map(|p| (p + 2) * 10))
                .or_else(|| position(&HUNDREDS).map(|p| (p + 1) * 100))
        };
        let (mut total, mut group) = (0u64, 0u64);
        for w in words.split(' ').filter(|w| *w != "و") {
            if let Some(v) = value_of(w) {
                group += v;
            } else {
                let scale = SCALES.iter().skip(1).position(|s| *s == w)? as u32 + 1;
                total = total.checked_add(group.checked_mul(1_000u64.pow(scale))?)?;
                group = 0;
            }
        }
        total.checked_add(group)
    }

    proptest! {
        #[test]
        fn words_are_well_formed(n in any::<u64>()) {
            let words = number_in_words(n);
            prop_assert!(!words.is_empty());
            prop_assert!(!words.contains("و و"));
            prop_assert!(!words.starts_with('و') && !words.starts_with(' '));
            prop_assert!(!words.ends_with(" و") && !words.ends_with(' '));
            prop_assert!(!words.contains("  "));
            prop_assert_eq!(words.contains("صفر"), n == 0);
        }

        #[test]
        fn one_scale_word_per_nonzero_group(n in any::<u64>()) {
            let words = number_in_words(n);
            let mut rest = n / 1_000;
            for scale in &SCALES[1..] {
                let present = words.split(' ').any(|w| w == *scale);
                prop_assert_eq!(present, rest % 1_000 != 0, "{} in {}", scale, &words);
                rest /= 1_000;
            }
        }

        #[test]
        fn words_read_back_to_the_number(n in any::<u64>()) {
            prop_assert_eq!(read_back(&number_in_words(n)), Some(n));
        }
    }
}
