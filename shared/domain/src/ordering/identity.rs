//! Iranian identification numbers: the national code of a person (کد ملی), the national
//! identifier of a legal entity (شناسه ملی) and the economic code (کد اقتصادی) the tax system asks
//! for on an official invoice.
//!
//! Each is kept as a string of ASCII digits: leading zeros are significant, so none is ever a
//! number. A person's codes are personal data and a company's may belong to a sole trader, so all
//! three redact themselves in `Debug` and none implements `Display`.

use crate::kernel::problem::Rejection;
use crate::kernel::text::code_digits;

/// A person's 10-digit national code with a valid check digit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalCode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NationalCodeError {
    #[error("national code is empty")]
    Empty,
    #[error("national code contains characters other than digits")]
    NotDigits,
    #[error("national code does not have 8 to 10 digits")]
    Length,
    #[error("national code has ten equal digits")]
    Repeated,
    #[error("national code has an all-zero serial")]
    ZeroSerial,
    #[error("national code has a wrong check digit")]
    Checksum,
}

impl Rejection for NationalCodeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "national-code-empty",
            Self::NotDigits => "national-code-not-digits",
            Self::Length => "national-code-length",
            Self::Repeated => "national-code-repeated",
            Self::ZeroSerial => "national-code-zero-serial",
            Self::Checksum => "national-code-checksum",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "کد ملی را وارد کنید.",
            Self::NotDigits => "کد ملی فقط از رقم تشکیل می‌شود.",
            Self::Length => "کد ملی باید ۱۰ رقم باشد.",
            Self::Repeated => "کد ملی واردشده معتبر نیست؛ همهٔ رقم‌های آن یکسان است.",
            Self::ZeroSerial => "کد ملی واردشده معتبر نیست؛ رقم‌های میانی آن همه صفر است.",
            Self::Checksum => "کد ملی واردشده معتبر نیست؛ رقم کنترل آن درست نیست.",
        }
    }
}

impl NationalCode {
    pub fn parse(input: &str) -> Result<Self, NationalCodeError> {
        let code = code_digits(input);
        if code.is_empty() {
            return Err(NationalCodeError::Empty);
        }
        let mut digits = digits_of(&code).ok_or(NationalCodeError::NotDigits)?;
        if !(8..=10).contains(&digits.len()) {
            return Err(NationalCodeError::Length);
        }
        // Older cards and spreadsheets drop the leading zeros of codes issued in Tehran.
        while digits.len() < 10 {
            digits.insert(0, 0);
        }
        let Some((check, body)) = digits.split_last() else {
            return Err(NationalCodeError::Length);
        };
        if body.iter().all(|d| d == check) {
            return Err(NationalCodeError::Repeated);
        }
        if has_zero_serial(&digits) {
            return Err(NationalCodeError::ZeroSerial);
        }
        if national_code_check(body) != *check {
            return Err(NationalCodeError::Checksum);
        }
        Ok(Self(to_string(&digits)))
    }

    /// Always ten ASCII digits, zero-padded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check digit of a national code from its first nine digits.
fn national_code_check(body: &[u8]) -> u8 {
    let sum: u32 = body.iter().zip((2..=10).rev()).map(|(&d, w)| u32::from(d) * w).sum();
    let r = sum % 11;
    // `r` < 11, so the cast cannot truncate.
    (if r < 2 { r } else { 11 - r }) as u8
}

/// A legal entity's 11-digit national identifier with a valid check digit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LegalId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LegalIdError {
    #[error("legal id is empty")]
    Empty,
    #[error("legal id contains characters other than digits")]
    NotDigits,
    #[error("legal id does not have 11 digits")]
    Length,
    #[error("legal id has eleven equal digits")]
    Repeated,
    #[error("legal id has an all-zero serial")]
    ZeroSerial,
    #[error("legal id has a wrong check digit")]
    Checksum,
}

impl Rejection for LegalIdError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "legal-id-empty",
            Self::NotDigits => "legal-id-not-digits",
            Self::Length => "legal-id-length",
            Self::Repeated => "legal-id-repeated",
            Self::ZeroSerial => "legal-id-zero-serial",
            Self::Checksum => "legal-id-checksum",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "شناسهٔ ملی را وارد کنید.",
            Self::NotDigits => "شناسهٔ ملی فقط از رقم تشکیل می‌شود.",
            Self::Length => "شناسهٔ ملی باید ۱۱ رقم باشد.",
            Self::Repeated => "شناسهٔ ملی واردشده معتبر نیست؛ همهٔ رقم‌های آن یکسان است.",
            Self::ZeroSerial => "شناسهٔ ملی واردشده معتبر نیست؛ رقم‌های میانی آن همه صفر است.",
            Self::Checksum => "شناسهٔ ملی واردشده معتبر نیست؛ رقم کنترل آن درست نیست.",
        }
    }
}

impl LegalId {
    pub fn parse(input: &str) -> Result<Self, LegalIdError> {
        let code = code_digits(input);
        if code.is_empty() {
            return Err(LegalIdError::Empty);
        }
        let digits = digits_of(&code).ok_or(LegalIdError::NotDigits)?;
        if digits.len() != 11 {
            return Err(LegalIdError::Length);
        }
        let Some((check, body)) = digits.split_last() else {
            return Err(LegalIdError::Length);
        };
        // Not in the published rule, but `33333333333` passes the checksum and is no company's id.
        if body.iter().all(|d| d == check) {
            return Err(LegalIdError::Repeated);
        }
        if has_zero_serial(&digits) {
            return Err(LegalIdError::ZeroSerial);
        }
        if legal_id_check(body) != *check {
            return Err(LegalIdError::Checksum);
        }
        Ok(Self(code))
    }

    /// Always eleven ASCII digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check digit of a legal id from its first ten digits.
fn legal_id_check(body: &[u8]) -> u8 {
    const WEIGHTS: [u32; 5] = [29, 27, 23, 19, 17];
    let k = body.get(9).map_or(0, |&d| u32::from(d)) + 2;
    let sum: u32 = body.iter().zip(WEIGHTS.iter().cycle()).map(|(&d, &w)| (u32::from(d) + k) * w).sum();
    let r = sum % 11;
    // `r` < 11, so the cast cannot truncate.
    (if r == 10 { 0 } else { r }) as u8
}

/// An economic code in one of its two current forms (Tax Administration notice 36, 1403): a legal
/// entity's is its 11-digit national identifier; a person's is the national code followed by a
/// 4-digit suffix the tax office assigns. The obsolete 12-digit form is refused.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EconomicCode(String);

/// Whose economic code it is, as its length tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EconomicCodeKind {
    LegalEntity,
    NaturalPerson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EconomicCodeError {
    #[error("economic code is empty")]
    Empty,
    #[error("economic code contains characters other than digits")]
    NotDigits,
    #[error("economic code has neither 11 nor 14 digits")]
    Length,
    #[error("11-digit economic code is not a valid legal id")]
    LegalId(#[source] LegalIdError),
    #[error("14-digit economic code does not start with a valid national code")]
    NationalCode(#[source] NationalCodeError),
    #[error("14-digit economic code has the suffix 0000")]
    Suffix,
}

impl Rejection for EconomicCodeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "economic-code-empty",
            Self::NotDigits => "economic-code-not-digits",
            Self::Length => "economic-code-length",
            Self::LegalId(_) => "economic-code-legal-id",
            Self::NationalCode(_) => "economic-code-national-code",
            Self::Suffix => "economic-code-suffix",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "کد اقتصادی را وارد کنید.",
            Self::NotDigits => "کد اقتصادی فقط از رقم تشکیل می‌شود.",
            Self::Length => "کد اقتصادی باید ۱۱ رقم (اشخاص حقوقی) یا ۱۴ رقم (اشخاص حقیقی) باشد.",
            Self::LegalId(_) => "کد اقتصادی ۱۱ رقمی باید همان شناسهٔ ملی معتبر شرکت باشد.",
            Self::NationalCode(_) => "۱۰ رقم نخست کد اقتصادی ۱۴ رقمی باید کد ملی معتبر باشد.",
            Self::Suffix => "چهار رقم پایانی کد اقتصادی نمی‌تواند ۰۰۰۰ باشد.",
        }
    }
}

impl EconomicCode {
    pub fn parse(input: &str) -> Result<Self, EconomicCodeError> {
        let code = code_digits(input);
        if code.is_empty() {
            return Err(EconomicCodeError::Empty);
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EconomicCodeError::NotDigits);
        }
        match code.len() {
            11 => {
                LegalId::parse(&code).map_err(EconomicCodeError::LegalId)?;
            }
            14 => {
                let (national, suffix) = code.split_at_checked(10).ok_or(EconomicCodeError::Length)?;
                // Exactly ten digits: the 8- and 9-digit shorthand of a national code is not
                // part of an economic code.
                NationalCode::parse(national).map_err(EconomicCodeError::NationalCode)?;
                if suffix == "0000" {
                    return Err(EconomicCodeError::Suffix);
                }
            }
            _ => return Err(EconomicCodeError::Length),
        }
        Ok(Self(code))
    }

    /// Eleven or fourteen ASCII digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> EconomicCodeKind {
        if self.0.len() == 11 { EconomicCodeKind::LegalEntity } else { EconomicCodeKind::NaturalPerson }
    }

    /// The legal entity's national identifier, which its economic code equals; `None` for a
    /// person's code. Checkout compares it with the national identifier the buyer gave.
    pub fn national_id(&self) -> Option<LegalId> {
        (self.kind() == EconomicCodeKind::LegalEntity).then(|| LegalId(self.0.clone()))
    }

    /// The person's national code, the first ten digits; `None` for a legal entity's code.
    pub fn national_code(&self) -> Option<NationalCode> {
        match self.kind() {
            EconomicCodeKind::NaturalPerson => self.0.get(..10).map(|c| NationalCode(c.to_owned())),
            EconomicCodeKind::LegalEntity => None,
        }
    }
}

/// The digit values of a string of ASCII digits; `None` if anything else is in it.
fn digits_of(code: &str) -> Option<Vec<u8>> {
    code.bytes().map(|b| b.is_ascii_digit().then(|| b - b'0')).collect()
}

fn to_string(digits: &[u8]) -> String {
    digits.iter().map(|&d| char::from(b'0' + d)).collect()
}

/// Digits 3 to 8 are the serial in both numbering schemes; zeros there mark a placeholder.
fn has_zero_serial(digits: &[u8]) -> bool {
    digits.get(3..=8).is_some_and(|serial| serial.iter().all(|&d| d == 0))
}

crate::kernel::newtype::redacted_debug!(NationalCode, LegalId, EconomicCode);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_national_codes_from_the_rules() {
        for code in ["0076229645", "1583250689", "0499370899", "4271467685", "0084575948"] {
            assert_eq!(NationalCode::parse(code).map(|c| c.as_str().to_owned()), Ok(code.to_owned()), "{code}");
        }
    }

    #[test]
    fn invalid_national_codes_from_the_rules() {
        assert_eq!(NationalCode::parse("0076229646"), Err(NationalCodeError::Checksum));
        assert_eq!(NationalCode::parse("1583250680"), Err(NationalCodeError::Checksum));
        assert_eq!(NationalCode::parse("1230000000"), Err(NationalCodeError::ZeroSerial));
        assert_eq!(NationalCode::parse("1111111111"), Err(NationalCodeError::Repeated));
    }

    #[test]
    fn every_repeated_national_code_passes_the_checksum_yet_is_refused() {
        for d in 0..=9u8 {
            let code = to_string(&[d; 10]);
            assert_eq!(national_code_check(&[d; 9]), d);
            assert_eq!(NationalCode::parse(&code), Err(NationalCodeError::Repeated));
        }
    }

    #[test]
    fn a_zero_serial_is_refused_even_with_a_right_check_digit() {
        assert_eq!(national_code_check(&[1, 2, 3, 0, 0, 0, 0, 0, 0]), 3);
        assert_eq!(NationalCode::parse("1230000003"), Err(NationalCodeError::ZeroSerial));
    }

    #[test]
    fn short_national_codes_are_left_padded() {
        assert_eq!(NationalCode::parse("68415941").unwrap().as_str(), "0068415941");
        assert_eq!(NationalCode::parse("76229645").unwrap().as_str(), "0076229645");
        assert_eq!(NationalCode::parse("499370899").unwrap().as_str(), "0499370899");
        assert_eq!(NationalCode::parse("6841594"), Err(NationalCodeError::Length));
        assert_eq!(NationalCode::parse("00076229645"), Err(NationalCodeError::Length));
    }

    #[test]
    fn national_codes_in_persian_or_arabic_digits_with_separators() {
        let expected = NationalCode::parse("0076229645").unwrap();
        assert_eq!(NationalCode::parse("۰۰۷۶۲۲۹۶۴۵").unwrap(), expected);
        assert_eq!(NationalCode::parse("٠٠٧٦٢٢٩٦٤٥").unwrap(), expected);
        assert_eq!(NationalCode::parse(" ۰۰۷-۶۲۲۹۶۴-۵ ").unwrap(), expected);
        assert_eq!(NationalCode::parse("۱۵۸۳۲۵۰۶۸۹").unwrap().as_str(), "1583250689");
    }

    #[test]
    fn national_code_refuses_non_digits_and_emptiness() {
        assert_eq!(NationalCode::parse(""), Err(NationalCodeError::Empty));
        assert_eq!(NationalCode::parse(" - \u{200C}"), Err(NationalCodeError::Empty));
        assert_eq!(NationalCode::parse("+076229645"), Err(NationalCodeError::NotDigits));
        assert_eq!(NationalCode::parse("00762296a5"), Err(NationalCodeError::NotDigits));
        // Numeric to `char::is_numeric`, but not a decimal digit.
        assert_eq!(NationalCode::parse("007622964²"), Err(NationalCodeError::NotDigits));
    }

    #[test]
    fn valid_legal_ids_from_the_rules() {
        for id in ["10380284790", "10840096498"] {
            assert_eq!(LegalId::parse(id).map(|c| c.as_str().to_owned()), Ok(id.to_owned()), "{id}");
        }
        assert_eq!(LegalId::parse("۱۰۳۸۰۲۸۴۷۹۰").unwrap().as_str(), "10380284790");
    }

    #[test]
    fn invalid_legal_ids_from_the_rules() {
        assert_eq!(LegalId::parse("10380284792"), Err(LegalIdError::Checksum));
        assert_eq!(LegalId::parse("11111111111"), Err(LegalIdError::Repeated));
    }

    #[test]
    fn legal_id_shape_is_enforced() {
        assert_eq!(LegalId::parse(""), Err(LegalIdError::Empty));
        assert_eq!(LegalId::parse("1038028479"), Err(LegalIdError::Length));
        assert_eq!(LegalId::parse("103802847900"), Err(LegalIdError::Length));
        assert_eq!(LegalId::parse("1038028479O"), Err(LegalIdError::NotDigits));
        let zero_serial = [1, 0, 3, 0, 0, 0, 0, 0, 0, 4];
        let id = format!("{}{}", to_string(&zero_serial), legal_id_check(&zero_serial));
        assert_eq!(LegalId::parse(&id), Err(LegalIdError::ZeroSerial));
    }

    #[test]
    fn the_repeated_legal_id_that_passes_the_checksum_is_refused() {
        assert_eq!(legal_id_check(&[3; 10]), 3);
        assert_eq!(LegalId::parse("33333333333"), Err(LegalIdError::Repeated));
    }

    #[test]
    fn an_eleven_digit_economic_code_is_the_legal_id() {
        let code = EconomicCode::parse("10380284790").unwrap();
        assert_eq!(code.kind(), EconomicCodeKind::LegalEntity);
        assert_eq!(code.national_id(), Some(LegalId::parse("10380284790").unwrap()));
        assert_eq!(code.national_code(), None);
        assert_eq!(EconomicCode::parse("10380284792"), Err(EconomicCodeError::LegalId(LegalIdError::Checksum)));
    }

    #[test]
    fn a_fourteen_digit_economic_code_is_a_national_code_and_a_suffix() {
        let code = EconomicCode::parse("۰۰۷۶۲۲۹۶۴۵ ۰۰۰۱").unwrap();
        assert_eq!(code.as_str(), "00762296450001");
        assert_eq!(code.kind(), EconomicCodeKind::NaturalPerson);
        assert_eq!(code.national_code(), Some(NationalCode::parse("0076229645").unwrap()));
        assert_eq!(code.national_id(), None);
        assert_eq!(EconomicCode::parse("00762296450000"), Err(EconomicCodeError::Suffix));
        assert_eq!(
            EconomicCode::parse("00762296460001"),
            Err(EconomicCodeError::NationalCode(NationalCodeError::Checksum))
        );
        assert_eq!(
            EconomicCode::parse("11111111110001"),
            Err(EconomicCodeError::NationalCode(NationalCodeError::Repeated))
        );
    }

    #[test]
    fn other_economic_code_lengths_are_refused() {
        // The obsolete 12-digit form, and a national code on its own.
        assert_eq!(EconomicCode::parse("411111111111"), Err(EconomicCodeError::Length));
        assert_eq!(EconomicCode::parse("0076229645"), Err(EconomicCodeError::Length));
        assert_eq!(EconomicCode::parse(""), Err(EconomicCodeError::Empty));
        assert_eq!(EconomicCode::parse("1038028479x"), Err(EconomicCodeError::NotDigits));
    }

    #[test]
    fn p4_debug_output_hides_the_digits() {
        let national = NationalCode::parse("0076229645").unwrap();
        let legal = LegalId::parse("10380284790").unwrap();
        let economic = EconomicCode::parse("00762296450001").unwrap();
        assert_eq!(format!("{national:?}"), "NationalCode(***)");
        assert_eq!(format!("{legal:?}"), "LegalId(***)");
        assert_eq!(format!("{economic:?} {:?}", Some(&economic)), "EconomicCode(***) Some(EconomicCode(***))");
    }

    #[test]
    fn error_codes_are_distinct_kebab_case() {
        let mut codes: Vec<&str> = [
            NationalCodeError::Empty,
            NationalCodeError::NotDigits,
            NationalCodeError::Length,
            NationalCodeError::Repeated,
            NationalCodeError::ZeroSerial,
            NationalCodeError::Checksum,
        ]
        .iter()
        .map(Rejection::code)
        .chain(
            [
                LegalIdError::Empty,
                LegalIdError::NotDigits,
                LegalIdError::Length,
                LegalIdError::Repeated,
                LegalIdError::ZeroSerial,
                LegalIdError::Checksum,
            ]
            .iter()
            .map(Rejection::code),
        )
        .chain(
            [
                EconomicCodeError::Empty,
                EconomicCodeError::NotDigits,
                EconomicCodeError::Length,
                EconomicCodeError::LegalId(LegalIdError::Checksum),
                EconomicCodeError::NationalCode(NationalCodeError::Checksum),
                EconomicCodeError::Suffix,
            ]
            .iter()
            .map(Rejection::code),
        )
        .collect();
        assert!(codes.iter().all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
        let total = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), total);
    }

    /// Nine digits that are neither all equal nor a zero serial, and their check digit.
    fn national_code_parts() -> impl Strategy<Value = (Vec<u8>, u8)> {
        proptest::collection::vec(0u8..10, 9)
            .prop_filter("placeholder codes are refused", |body| {
                !body.iter().all(|&d| d == body[0]) && !body[3..9].iter().all(|&d| d == 0)
            })
            .prop_map(|body| {
                let check = national_code_check(&body);
                (body, check)
            })
    }

    fn legal_id_parts() -> impl Strategy<Value = (Vec<u8>, u8)> {
        proptest::collection::vec(0u8..10, 10)
            .prop_filter("placeholder ids are refused", |body| {
                !body.iter().all(|&d| d == body[0]) && !body[3..9].iter().all(|&d| d == 0)
            })
            .prop_map(|body| {
                let check = legal_id_check(&body);
                (body, check)
            })
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = NationalCode::parse(&s);
            let _ = LegalId::parse(&s);
            let _ = EconomicCode::parse(&s);
        }

        #[test]
        fn parsers_never_panic_on_long_or_odd_input(s in ".{0,3000}", t in any::<String>(), c in "[\\x00-\\x1f۰-۹0-9 ]{0,20}") {
            for input in [s, t, c] {
                let _ = NationalCode::parse(&input);
                let _ = LegalId::parse(&input);
                let _ = EconomicCode::parse(&input);
            }
        }

        #[test]
        fn a_generated_national_code_parses_and_round_trips((body, check) in national_code_parts()) {
            let code = format!("{}{check}", to_string(&body));
            let parsed = NationalCode::parse(&code).unwrap();
            prop_assert_eq!(parsed.as_str(), code.as_str());
            prop_assert_eq!(NationalCode::parse(parsed.as_str()).unwrap(), parsed.clone());
            let persian: String = code.chars().map(|c| char::from_u32(c as u32 - 0x30 + 0x06F0).unwrap()).collect();
            prop_assert_eq!(NationalCode::parse(&persian).unwrap(), parsed);
        }

        #[test]
        fn a_national_code_with_another_check_digit_fails((body, check) in national_code_parts(), other in 0u8..10) {
            prop_assume!(other != check);
            let code = format!("{}{other}", to_string(&body));
            prop_assert_eq!(NationalCode::parse(&code), Err(NationalCodeError::Checksum));
        }

        #[test]
        fn a_generated_legal_id_parses_and_round_trips((body, check) in legal_id_parts()) {
            let id = format!("{}{check}", to_string(&body));
            let parsed = LegalId::parse(&id).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
            prop_assert_eq!(LegalId::parse(parsed.as_str()).unwrap(), parsed.clone());
            let economic = EconomicCode::parse(&id).unwrap();
            prop_assert_eq!(economic.national_id(), Some(parsed));
        }

        #[test]
        fn a_legal_id_with_another_check_digit_fails((body, check) in legal_id_parts(), other in 0u8..10) {
            prop_assume!(other != check);
            let id = format!("{}{other}", to_string(&body));
            prop_assert_eq!(LegalId::parse(&id), Err(LegalIdError::Checksum));
        }

        #[test]
        fn a_person_s_economic_code_round_trips((body, check) in national_code_parts(), suffix in 1u16..10000) {
            let code = format!("{}{check}{suffix:04}", to_string(&body));
            let parsed = EconomicCode::parse(&code).unwrap();
            prop_assert_eq!(parsed.as_str(), code.as_str());
            prop_assert_eq!(EconomicCode::parse(parsed.as_str()).unwrap(), parsed.clone());
            let national = parsed.national_code().unwrap();
            prop_assert_eq!(national.as_str(), &code[..10]);
        }
    }
}
