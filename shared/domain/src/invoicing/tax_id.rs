//! The 22-character tax id (شماره منحصر به فرد مالیاتی) every invoice sent to the tax system
//! (سامانه مودیان) carries.
//!
//! Layout, upper-case: the seller's 6-character memory id (شناسه یکتای حافظه مالیاتی), the
//! issue day as 5 hex digits, the invoice serial as 10 hex digits, and a Verhoeff check digit.
//! The issue day is `floor(unix_seconds / 86400)`, a UTC day, not a Tehran one. The check digit is
//! computed over a decimal string: the memory id with each letter replaced by its ASCII code
//! (A = 65 … Z = 90), then the day zero-padded to 6 digits, then the serial zero-padded to 12.
//! Those decimal widths are tighter than the hex ones, so they set the limits: a day up to
//! 999,999 (the year 4707) and a serial up to 999,999,999,999.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

const MEMORY_ID_LEN: usize = 6;
const DAYS_HEX_LEN: usize = 5;
const SERIAL_HEX_LEN: usize = 10;
const TAX_ID_LEN: usize = MEMORY_ID_LEN + DAYS_HEX_LEN + SERIAL_HEX_LEN + 1;
const MAX_DAYS: u64 = 999_999;
const MAX_SERIAL: u64 = 999_999_999_999;
const SECONDS_PER_DAY: i64 = 86_400;

// Verhoeff's tables: the dihedral group D5's multiplication, the position permutation, and the
// inverse. Every entry is below 10, so a digit looked up in one is a valid index into the others.
const MULTIPLICATION: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const PERMUTATION: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
const INVERSE: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Runs Verhoeff's checksum over `digits`, the rightmost taking position `first_position`.
/// `None` if any character is not an ASCII digit.
fn verhoeff_state(digits: &str, first_position: usize) -> Option<u8> {
    let mut state = 0u8;
    for (i, c) in digits.chars().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let digit = usize::from(u8::try_from(c).ok()? - b'0');
        let permuted = PERMUTATION.get((i + first_position) % 8)?.get(digit)?;
        state = *MULTIPLICATION.get(usize::from(state))?.get(usize::from(*permuted))?;
    }
    Some(state)
}

/// The Verhoeff check digit to append to `digits`; `None` if any character is not an ASCII
/// digit (Persian digits must be mapped first, never guessed at here).
pub fn verhoeff_check_digit(digits: &str) -> Option<u8> {
    // Appending the check digit shifts every digit one position to the left.
    let state = verhoeff_state(digits, 1)?;
    INVERSE.get(usize::from(state)).copied()
}

/// Whether `digits_with_check` ends in the right Verhoeff check digit for the digits before it.
/// False for an empty string or any character that is not an ASCII digit.
pub fn verhoeff_valid(digits_with_check: &str) -> bool {
    !digits_with_check.is_empty() && verhoeff_state(digits_with_check, 0) == Some(0)
}

/// The seller's memory id, issued by the tax system: 6 characters, ASCII upper-case letters and
/// digits. It comes from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemoryId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryIdError {
    #[error("memory id must be exactly 6 characters (upper-case letters A-Z and digits 0-9), got {0}")]
    Length(usize),
    #[error("memory id may hold only upper-case letters A-Z and digits 0-9; character {position} is {character:?}")]
    Character { position: usize, character: char },
}

impl MemoryId {
    /// Accepts the id as the tax system prints it; surrounding whitespace, as a configuration
    /// value may carry, is ignored, but case is not folded: a lower-case id is a typo to fix at
    /// its source.
    pub fn parse(input: &str) -> Result<MemoryId, MemoryIdError> {
        let id = input.trim();
        if let Some((position, character)) =
            id.chars().enumerate().find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit()))
        {
            return Err(MemoryIdError::Character { position: position + 1, character });
        }
        if id.len() != MEMORY_ID_LEN {
            return Err(MemoryIdError::Length(id.len()));
        }
        Ok(MemoryId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The memory id's part of the Verhoeff input: a letter becomes its two-digit ASCII code.
    fn decimal(&self) -> String {
        self.0.chars().map(|c| if c.is_ascii_digit() { c.to_string() } else { u32::from(c).to_string() }).collect()
    }
}

crate::kernel::newtype::text_code!(MemoryId, MemoryIdError);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdError {
    #[error("invoice serial {0} does not fit a tax id (at most 999,999,999,999)")]
    SerialOutOfRange(u64),
    #[error("issue time {0} does not fit a tax id (from 1970-01-01 to 999,999 days later, in the year 4707)")]
    IssuedOutOfRange(OffsetDateTime),
    #[error("not a tax id: {0}")]
    Malformed(&'static str),
    #[error("tax id check digit does not match")]
    CheckDigit,
}

/// A tax id that has the right layout and check digit: built by [`tax_id`] or accepted by
/// [`TaxId::parse`]. In JSON it is the plain 22-character string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxId(String);

/// The tax id of the invoice numbered `serial`, issued at `issued_at` by the seller whose memory
/// id is `memory_id`. Refuses a serial or a day that does not fit the id rather than truncating
/// it: a truncated id would name another invoice.
pub fn tax_id(memory_id: &MemoryId, issued_at: OffsetDateTime, serial: u64) -> Result<TaxId, TaxIdError> {
    if serial > MAX_SERIAL {
        return Err(TaxIdError::SerialOutOfRange(serial));
    }
    let days = u64::try_from(issued_at.unix_timestamp().div_euclid(SECONDS_PER_DAY))
        .ok()
        .filter(|days| *days <= MAX_DAYS)
        .ok_or(TaxIdError::IssuedOutOfRange(issued_at))?;
    let check = check_digit(memory_id, days, serial).ok_or(TaxIdError::CheckDigit)?;
    Ok(TaxId(format!("{}{days:05X}{serial:010X}{check}", memory_id.as_str())))
}

fn check_digit(memory_id: &MemoryId, days: u64, serial: u64) -> Option<u8> {
    verhoeff_check_digit(&verhoeff_input(memory_id, days, serial))
}

fn verhoeff_input(memory_id: &MemoryId, days: u64, serial: u64) -> String {
    format!("{}{days:06}{serial:012}", memory_id.decimal())
}

/// `Some` value of `text` read as upper-case hex; `None` if any character is not `0-9A-F`
/// (`from_str_radix` alone would also take lower case and a leading `+`).
fn upper_hex(text: &str) -> Option<u64> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

impl TaxId {
    /// Accepts a tax id only if it has the layout and a check digit that matches; the
    /// standalone validator for ids received from elsewhere.
    pub fn parse(input: &str) -> Result<TaxId, TaxIdError> {
        if !input.is_ascii() || input.len() != TAX_ID_LEN {
            return Err(TaxIdError::Malformed(
                "expected 22 ASCII characters: memory id, 5 and 10 hex digits, a check digit",
            ));
        }
        let field = |from: usize, len: usize| input.get(from..from + len).unwrap_or_default();
        let memory_id = MemoryId::parse(field(0, MEMORY_ID_LEN))
            .map_err(|_| TaxIdError::Malformed("the first 6 characters are not a memory id"))?;
        let days = upper_hex(field(MEMORY_ID_LEN, DAYS_HEX_LEN))
            .filter(|days| *days <= MAX_DAYS)
            .ok_or(TaxIdError::Malformed("characters 7-11 are not an issue day"))?;
        let serial = upper_hex(field(MEMORY_ID_LEN + DAYS_HEX_LEN, SERIAL_HEX_LEN))
            .filter(|serial| *serial <= MAX_SERIAL)
            .ok_or(TaxIdError::Malformed("characters 12-21 are not a serial"))?;
        let check = field(TAX_ID_LEN - 1, 1);
        if check_digit(&memory_id, days, serial).map(|d| d.to_string()) != Some(check.to_owned()) {
            return Err(TaxIdError::CheckDigit);
        }
        Ok(TaxId(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this id was issued under `memory_id`, i.e. by that seller's memory.
    pub fn has_memory_id(&self, memory_id: &MemoryId) -> bool {
        self.0.starts_with(memory_id.as_str())
    }
}

crate::kernel::newtype::text_code!(TaxId, TaxIdError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(year: i32, month: u8, day: u8) -> OffsetDateTime {
        time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day)
            .unwrap()
            .midnight()
            .assume_utc()
    }

    fn memory(id: &str) -> MemoryId {
        MemoryId::parse(id).unwrap()
    }

    #[test]
    fn domain_rules_vector() {
        let id = tax_id(&memory("DEF5GH"), day(2020, 7, 20), 12).unwrap();
        assert_eq!(id.as_str(), "DEF5GH0481F000000000C2");
        assert_eq!(id.to_string(), "DEF5GH0481F000000000C2");
        assert_eq!(verhoeff_input(&memory("DEF5GH"), 18_463, 12), concat!("68697057172", "018463", "000000000012"));
        // Any second of that UTC day gives the same id; the next UTC day does not.
        let late = day(2020, 7, 20) + time::Duration::seconds(86_399);
        assert_eq!(tax_id(&memory("DEF5GH"), late, 12).unwrap(), id);
        assert_ne!(tax_id(&memory("DEF5GH"), late + time::Duration::seconds(1), 12).unwrap(), id);
        assert_eq!(TaxId::parse("DEF5GH0481F000000000C2").unwrap(), id);
        assert!(id.has_memory_id(&memory("DEF5GH")));
        assert!(!id.has_memory_id(&memory("DEF5GI")));
    }

    #[test]
    fn standard_verhoeff_vectors() {
        assert_eq!(verhoeff_check_digit("236"), Some(3));
        assert_eq!(verhoeff_check_digit("12345"), Some(1));
        assert_eq!(verhoeff_check_digit("142857"), Some(0));
        assert_eq!(verhoeff_check_digit("123456789012"), Some(0));
        assert_eq!(verhoeff_check_digit("8473643095483728456789"), Some(2));
        assert_eq!(verhoeff_check_digit(""), Some(0));
        assert!(verhoeff_valid("2363"));
        assert!(verhoeff_valid("123451"));
        assert!(verhoeff_valid("1428570"));
        assert!(!verhoeff_valid("2364"));
        assert!(!verhoeff_valid("123415"));
        assert!(!verhoeff_valid(""));
    }

    #[test]
    fn verhoeff_refuses_anything_but_ascii_digits() {
        for input in ["12a", "۱۲۳", "1 2", "-1", "+12", "١٢"] {
            assert_eq!(verhoeff_check_digit(input), None, "{input}");
            assert!(!verhoeff_valid(input), "{input}");
        }
    }

    #[test]
    fn memory_id_from_configuration() {
        assert_eq!(memory("A1B2C3").as_str(), "A1B2C3");
        assert_eq!(memory(" A1B2C3\n").as_str(), "A1B2C3");
        assert_eq!(MemoryId::parse("A1B2C"), Err(MemoryIdError::Length(5)));
        assert_eq!(MemoryId::parse("A1B2C3D"), Err(MemoryIdError::Length(7)));
        assert_eq!(MemoryId::parse(""), Err(MemoryIdError::Length(0)));
        assert_eq!(MemoryId::parse("a1B2C3"), Err(MemoryIdError::Character { position: 1, character: 'a' }));
        assert_eq!(MemoryId::parse("A1B-C3"), Err(MemoryIdError::Character { position: 4, character: '-' }));
        assert!(matches!(MemoryId::parse("A1B2C۳"), Err(MemoryIdError::Character { .. })));
        assert_eq!(
            MemoryId::parse("a1B2C3").unwrap_err().to_string(),
            "memory id may hold only upper-case letters A-Z and digits 0-9; character 1 is 'a'"
        );
        assert_eq!("A1B2C3".parse::<MemoryId>().unwrap(), memory("A1B2C3"));
        assert_eq!(serde_json::from_str::<MemoryId>("\"A1B2C3\"").unwrap(), memory("A1B2C3"));
        assert!(serde_json::from_str::<MemoryId>("\"a1b2c3\"").is_err());
    }

    #[test]
    fn out_of_range_is_refused_not_truncated() {
        let id = memory("DEF5GH");
        let now = day(2025, 3, 21);
        assert!(tax_id(&id, now, 999_999_999_999).is_ok());
        assert_eq!(tax_id(&id, now, 1_000_000_000_000), Err(TaxIdError::SerialOutOfRange(1_000_000_000_000)));
        assert_eq!(tax_id(&id, now, 1 << 40), Err(TaxIdError::SerialOutOfRange(1 << 40)));
        assert_eq!(tax_id(&id, now, u64::MAX), Err(TaxIdError::SerialOutOfRange(u64::MAX)));
        let before_epoch = day(1969, 12, 31) + time::Duration::seconds(86_399);
        assert_eq!(tax_id(&id, before_epoch, 1), Err(TaxIdError::IssuedOutOfRange(before_epoch)));
        assert!(tax_id(&id, day(1970, 1, 1), 1).is_ok());
        let last = OffsetDateTime::from_unix_timestamp(999_999 * 86_400 + 86_399).unwrap();
        assert!(tax_id(&id, last, 1).is_ok());
        let too_late = last + time::Duration::seconds(1);
        assert_eq!(tax_id(&id, too_late, 1), Err(TaxIdError::IssuedOutOfRange(too_late)));
    }

    #[test]
    fn parse_refuses_what_is_not_a_tax_id() {
        for bad in [
            "",
            "DEF5GH0481F000000000C",
            "DEF5GH0481F000000000C22",
            "def5gh0481F000000000C2",
            "DEF5GH0481f000000000C2",
            "DEF5GH0481F000000000c2",
            "DEF5GH+481F000000000C2",
            "DEF5GH0481F+00000000C2",
            "DEF5GH0481F000000000CX",
            "DEF5GHF4240000000000C2",
            "DEF5GH0481FE8D4A510002",
            "DEF5GH0481F000000000C۲",
        ] {
            assert!(TaxId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TaxId::parse("DEF5GH0481F000000000C3"), Err(TaxIdError::CheckDigit));
        assert_eq!(TaxId::parse("DEF5GH0481F000000000D2"), Err(TaxIdError::CheckDigit));
    }

    #[test]
    fn json_is_the_plain_string() {
        let id = TaxId::parse("DEF5GH0481F000000000C2").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"DEF5GH0481F000000000C2\"");
        assert_eq!(serde_json::from_str::<TaxId>("\"DEF5GH0481F000000000C2\"").unwrap(), id);
        assert!(serde_json::from_str::<TaxId>("\"DEF5GH0481F000000000C3\"").is_err());
    }

    proptest! {
        #[test]
        fn every_computed_id_validates(
            memory_id in "[A-Z0-9]{6}",
            days in 0u64..=MAX_DAYS,
            second in 0i64..86_400,
            serial in 0u64..=MAX_SERIAL,
        ) {
            let memory_id = memory(&memory_id);
            let at = OffsetDateTime::from_unix_timestamp(days as i64 * 86_400 + second).unwrap();
            let id = tax_id(&memory_id, at, serial).unwrap();
            prop_assert_eq!(id.as_str().len(), 22);
            prop_assert!(id.as_str().chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
            prop_assert_eq!(&id.as_str()[6..11], format!("{days:05X}"));
            prop_assert_eq!(&id.as_str()[11..21], format!("{serial:010X}"));
            prop_assert_eq!(TaxId::parse(id.as_str()), Ok(id.clone()));
            let check = &id.as_str()[21..];
            let with_check = format!("{}{check}", verhoeff_input(&memory_id, days, serial));
            prop_assert!(verhoeff_valid(&with_check));
        }

        #[test]
        fn any_single_digit_change_is_detected(
            memory_id in "[A-Z0-9]{6}",
            days in 0u64..=MAX_DAYS,
            serial in 0u64..=MAX_SERIAL,
            position in any::<prop::sample::Index>(),
            replacement in 0u8..10,
        ) {
            let input = verhoeff_input(&memory(&memory_id), days, serial);
            let check = verhoeff_check_digit(&input).unwrap();
            let mut with_check = format!("{input}{check}").into_bytes();
            let position = position.index(with_check.len());
            prop_assume!(with_check[position] != b'0' + replacement);
            with_check[position] = b'0' + replacement;
            prop_assert!(!verhoeff_valid(&String::from_utf8(with_check).unwrap()));
        }

        #[test]
        fn any_adjacent_transposition_is_detected(digits in "[0-9]{2,30}", position in any::<prop::sample::Index>()) {
            let check = verhoeff_check_digit(&digits).unwrap();
            let mut with_check = format!("{digits}{check}").into_bytes();
            let position = position.index(with_check.len() - 1);
            prop_assume!(with_check[position] != with_check[position + 1]);
            with_check.swap(position, position + 1);
            prop_assert!(!verhoeff_valid(&String::from_utf8(with_check).unwrap()));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = TaxId::parse(&s);
            let _ = MemoryId::parse(&s);
        }
    }
}
