//! Money as a whole number of Rials.
//!
//! Never a float: amounts are summed, multiplied and taxed, and each step must be exact. The
//! Toman (10 Rials) that customers think in is a display unit only, chosen where text is shown.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of Rials. In JSON it is a plain integer: `1250000`. Deserialising accepts only a
/// non-negative JSON integer; a float (`12.5`, `1e6`, even `100.0`), a string (`"100"`) or a
/// negative number is refused, so no amount is ever rounded or guessed on the way in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rial(u64);

impl Rial {
    pub const fn new(rials: u64) -> Self {
        Self(rials)
    }

    pub const fn value(self) -> u64 {
        self.0
    }

    /// `None` on overflow.
    pub fn checked_add(self, other: Rial) -> Option<Rial> {
        self.0.checked_add(other.0).map(Rial)
    }

    /// The amount of `quantity` items at this price; `None` on overflow.
    pub fn checked_mul(self, quantity: u32) -> Option<Rial> {
        self.0.checked_mul(u64::from(quantity)).map(Rial)
    }
}

/// The number with ASCII thousands separators (`1,250,000`), without a unit: the caller decides
/// whether it says «ریال» or converts to Toman first.
impl fmt::Display for Rial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        f.pad(&grouped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_groups_thousands() {
        assert_eq!(Rial::new(0).to_string(), "0");
        assert_eq!(Rial::new(999).to_string(), "999");
        assert_eq!(Rial::new(1_000).to_string(), "1,000");
        assert_eq!(Rial::new(1_250_000).to_string(), "1,250,000");
        assert_eq!(Rial::new(12_345_678).to_string(), "12,345,678");
        assert_eq!(Rial::new(u64::MAX).to_string(), "18,446,744,073,709,551,615");
        assert_eq!(format!("{:>8}", Rial::new(1_000)), "   1,000");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Rial::new(1_250_000).checked_add(Rial::new(50_000)), Some(Rial::new(1_300_000)));
        assert_eq!(Rial::new(u64::MAX).checked_add(Rial::new(1)), None);
        assert_eq!(Rial::new(1_250_000).checked_mul(3), Some(Rial::new(3_750_000)));
        assert_eq!(Rial::new(1_250_000).checked_mul(0), Some(Rial::new(0)));
        assert_eq!(Rial::new(u64::MAX / 2 + 1).checked_mul(2), None);
        assert_eq!(Rial::new(7).value(), 7);
    }

    #[test]
    fn json_is_a_plain_integer() {
        assert_eq!(serde_json::to_string(&Rial::new(1_250_000)).unwrap(), "1250000");
        assert_eq!(serde_json::from_str::<Rial>("1250000").unwrap(), Rial::new(1_250_000));
        assert_eq!(serde_json::from_str::<Rial>("18446744073709551615").unwrap(), Rial::new(u64::MAX));
    }

    #[test]
    fn json_refuses_anything_but_a_non_negative_integer() {
        for json in ["12.5", "100.0", "1e6", "\"100\"", "-1", "null", "18446744073709551616", "true"] {
            assert!(serde_json::from_str::<Rial>(json).is_err(), "{json}");
        }
    }

    proptest! {
        #[test]
        fn display_drops_only_the_commas(n in any::<u64>()) {
            let shown = Rial::new(n).to_string();
            prop_assert_eq!(shown.replace(',', ""), n.to_string());
            for group in shown.split(',').skip(1) {
                prop_assert_eq!(group.len(), 3);
            }
            prop_assert!((1..=3).contains(&shown.split(',').next().unwrap().len()));
        }

        #[test]
        fn json_round_trips(n in any::<u64>()) {
            let json = serde_json::to_string(&Rial::new(n)).unwrap();
            prop_assert_eq!(serde_json::from_str::<Rial>(&json).unwrap(), Rial::new(n));
        }

        #[test]
        fn checked_arithmetic_matches_wide_arithmetic(a in any::<u64>(), b in any::<u64>(), q in any::<u32>()) {
            let sum = u128::from(a) + u128::from(b);
            prop_assert_eq!(Rial::new(a).checked_add(Rial::new(b)).map(|r| u128::from(r.value())), (sum <= u128::from(u64::MAX)).then_some(sum));
            let product = u128::from(a) * u128::from(q);
            prop_assert_eq!(Rial::new(a).checked_mul(q).map(|r| u128::from(r.value())), (product <= u128::from(u64::MAX)).then_some(product));
        }
    }
}
