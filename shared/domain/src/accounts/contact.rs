//! How to reach a customer: e-mail address, Iranian mobile number, postal code.
//!
//! All three are personal data: they redact themselves in `Debug` and none implements `Display`.

use crate::kernel::problem::Rejection;
use crate::kernel::text::code_digits;

/// An e-mail address, lower-cased so that one person has one account whatever case they type.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("e-mail address is empty")]
    Empty,
    #[error("e-mail address contains non-ASCII characters")]
    NotAscii,
    #[error("e-mail address is longer than 254 characters")]
    TooLong,
    #[error("e-mail address does not contain exactly one @")]
    AtSign,
    #[error("e-mail address has an invalid local part")]
    LocalPart,
    #[error("e-mail address has an invalid domain")]
    Domain,
}

impl Rejection for EmailError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "email-empty",
            Self::NotAscii => "email-not-ascii",
            Self::TooLong => "email-too-long",
            Self::AtSign => "email-at-sign",
            Self::LocalPart => "email-local-part",
            Self::Domain => "email-domain",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "نشانی ایمیل را وارد کنید.",
            Self::NotAscii => "نشانی ایمیل باید با حروف انگلیسی نوشته شود.",
            Self::TooLong => "نشانی ایمیل بیش از حد طولانی است.",
            Self::AtSign => "نشانی ایمیل باید دقیقاً یک @ داشته باشد، مانند name@example.com.",
            Self::LocalPart => "بخش پیش از @ در نشانی ایمیل معتبر نیست.",
            Self::Domain => "دامنهٔ نشانی ایمیل (بخش پس از @) معتبر نیست.",
        }
    }
}

/// The longest address SMTP can carry in a path (RFC 5321 §4.5.3.1.3, less the angle brackets).
const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

impl Email {
    /// Quoted local parts, IP-literal domains and internationalised addresses are refused: they are
    /// valid in theory, rare in practice, and SES or the recipient's server often refuses them.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if !trimmed.is_ascii() {
            return Err(EmailError::NotAscii);
        }
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let address = trimmed.to_ascii_lowercase();
        let (local, domain) = address.split_once('@').ok_or(EmailError::AtSign)?;
        if domain.contains('@') {
            return Err(EmailError::AtSign);
        }
        if !is_local_part(local) {
            return Err(EmailError::LocalPart);
        }
        if !is_domain(domain) {
            return Err(EmailError::Domain);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`, e.g. to spot a disposable-address provider.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(local, _)| local)
    }
}

/// The dot-atom of RFC 5322 with the characters the HTML standard's e-mail input allows.
fn is_local_part(local: &str) -> bool {
    (1..=MAX_LOCAL_LEN).contains(&local.len())
        && local.split('.').all(|atom| !atom.is_empty())
        && local.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b))
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, _)) = labels.split_last() else {
        return false;
    };
    labels.len() >= 2
        && labels.iter().all(|label| is_label(label))
        && (tld.bytes().all(|b| b.is_ascii_lowercase()) || tld.starts_with("xn--"))
}

fn is_label(label: &str) -> bool {
    (1..=MAX_LABEL_LEN).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An Iranian mobile number, kept in E.164 (`+989xxxxxxxxx`), the form SNS sends to.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IranMobile(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IranMobileError {
    #[error("mobile number is empty")]
    Empty,
    #[error("not an Iranian mobile number")]
    Format,
}

impl Rejection for IranMobileError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "mobile-empty",
            Self::Format => "mobile-format",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "شمارهٔ تلفن همراه را وارد کنید.",
            Self::Format => "شمارهٔ تلفن همراه معتبر نیست؛ آن را مانند ۰۹۱۲۳۴۵۶۷۸۹ وارد کنید.",
        }
    }
}

impl IranMobile {
    /// Accepts `09…`, `9…`, `+989…`, `00989…` and `989…`: `^(?:\+98|0098|98|0)?(9\d{9})$` once
    /// digits are ASCII and separators gone. The operator is not checked: prefixes are assigned
    /// faster than any list of them is kept up to date.
    pub fn parse(input: &str) -> Result<Self, IranMobileError> {
        let number = code_digits(input);
        if number.is_empty() {
            return Err(IranMobileError::Empty);
        }
        // The subscriber number has ten digits, so the length alone says which prefix it has.
        let prefix = match number.len() {
            10 => "",
            11 => "0",
            12 => "98",
            13 => "+98",
            14 => "0098",
            _ => return Err(IranMobileError::Format),
        };
        let subscriber = number.strip_prefix(prefix).ok_or(IranMobileError::Format)?;
        if !subscriber.starts_with('9') || !subscriber.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IranMobileError::Format);
        }
        Ok(Self(format!("+98{subscriber}")))
    }

    /// `+989xxxxxxxxx`.
    pub fn as_e164(&self) -> &str {
        &self.0
    }
}

/// A 10-digit Iranian postal code. The community pattern some validators use is not an official
/// rule, so only the shape is enforced.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PostalCode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostalCodeError {
    #[error("postal code is empty")]
    Empty,
    #[error("postal code contains characters other than digits")]
    NotDigits,
    #[error("postal code does not have 10 digits")]
    Length,
}

impl Rejection for PostalCodeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "postal-code-empty",
            Self::NotDigits => "postal-code-not-digits",
            Self::Length => "postal-code-length",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "کد پستی را وارد کنید.",
            Self::NotDigits => "کد پستی فقط از رقم تشکیل می‌شود.",
            Self::Length => "کد پستی باید ۱۰ رقم باشد.",
        }
    }
}

impl PostalCode {
    pub fn parse(input: &str) -> Result<Self, PostalCodeError> {
        let code = code_digits(input);
        if code.is_empty() {
            return Err(PostalCodeError::Empty);
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PostalCodeError::NotDigits);
        }
        if code.len() != 10 {
            return Err(PostalCodeError::Length);
        }
        Ok(Self(code))
    }

    /// Ten ASCII digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::kernel::newtype::redacted_debug!(Email, IranMobile, PostalCode);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_email_is_trimmed_and_lower_cased() {
        let email = Email::parse("  Maryam.Kazemi+Coffee@Example.CO.ir \n").unwrap();
        assert_eq!(email.as_str(), "maryam.kazemi+coffee@example.co.ir");
        assert_eq!(email.domain(), "example.co.ir");
        assert_eq!(email.local_part(), "maryam.kazemi+coffee");
        assert_eq!(email, Email::parse("maryam.kazemi+coffee@example.co.ir").unwrap());
    }

    #[test]
    fn ordinary_addresses_are_accepted() {
        for address in [
            "a@b.ir",
            "o'brien@example.com",
            "first_last-1@sub-domain.example.org",
            "x@xn--mgba3a4f16a.xn--mgba3a4f16a",
            "user@123.example.com",
        ] {
            assert!(Email::parse(address).is_ok(), "{address}");
        }
    }

    #[test]
    fn email_shape_errors() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(Email::parse("مریم@example.com"), Err(EmailError::NotAscii));
        assert_eq!(Email::parse("maryam@exämple.com"), Err(EmailError::NotAscii));
        assert_eq!(Email::parse("maryam.example.com"), Err(EmailError::AtSign));
        assert_eq!(Email::parse("a@b@example.com"), Err(EmailError::AtSign));
    }

    #[test]
    fn email_length_limits() {
        let local = "a".repeat(64);
        let label = "b".repeat(63);
        assert!(Email::parse(&format!("{local}@{label}.ir")).is_ok());
        assert_eq!(Email::parse(&format!("{local}a@example.ir")), Err(EmailError::LocalPart));
        assert_eq!(Email::parse(&format!("x@{label}b.ir")), Err(EmailError::Domain));
        // 254 characters exactly, then one more.
        let domain = format!("{label}.{label}.{}.ir", "c".repeat(58));
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(&longest).is_ok());
        assert_eq!(Email::parse(&format!("a{longest}")), Err(EmailError::TooLong));
    }

    #[test]
    fn bad_local_parts() {
        for address in [
            "@example.com",
            ".maryam@example.com",
            "maryam.@example.com",
            "mar..yam@example.com",
            "mar yam@example.com",
            "\"maryam\"@example.com",
            "mar<yam>@example.com",
            "mar(yam)@example.com",
            "mar,yam@example.com",
        ] {
            assert_eq!(Email::parse(address), Err(EmailError::LocalPart), "{address}");
        }
    }

    #[test]
    fn bad_domains() {
        for address in [
            "maryam@",
            "maryam@localhost",
            "maryam@example.",
            "maryam@.example.com",
            "maryam@example..com",
            "maryam@-example.com",
            "maryam@example-.com",
            "maryam@exa_mple.com",
            "maryam@example.c0m",
            "maryam@[127.0.0.1]",
            "maryam@192.168.0.1",
            "maryam@example.com.",
        ] {
            assert_eq!(Email::parse(address), Err(EmailError::Domain), "{address}");
        }
    }

    #[test]
    fn mobile_numbers_in_every_accepted_form() {
        for input in [
            "09123456789",
            "9123456789",
            "+989123456789",
            "00989123456789",
            "989123456789",
            "۰۹۱۲ ۳۴۵ ۶۷۸۹",
            "٠٩١٢٣٤٥٦٧٨٩",
            "+۹۸ (۹۱۲) ۳۴۵-۶۷۸۹",
            "0912-345-6789",
            "\u{200E}0912\u{00A0}345\u{200C}6789",
        ] {
            assert_eq!(
                IranMobile::parse(input).map(|m| m.as_e164().to_owned()),
                Ok("+989123456789".to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn a_ten_digit_number_starting_with_98_is_a_subscriber_number() {
        assert_eq!(IranMobile::parse("9812345678").unwrap().as_e164(), "+989812345678");
    }

    #[test]
    fn numbers_that_are_not_iranian_mobiles() {
        assert_eq!(IranMobile::parse(""), Err(IranMobileError::Empty));
        assert_eq!(IranMobile::parse(" - "), Err(IranMobileError::Empty));
        for input in [
            "02112345678",    // Tehran landline
            "0912345678",     // a digit short
            "091234567890",   // a digit too many
            "+19123456789",   // another country
            "+9809123456789", // trunk zero after the country code
            "0098 912 345 678",
            "0912345678a",
            "+98912345678+",
            "8123456789",
            "+8123456789",
            "00912345678",
        ] {
            assert_eq!(IranMobile::parse(input), Err(IranMobileError::Format), "{input}");
        }
    }

    #[test]
    fn postal_codes() {
        assert_eq!(PostalCode::parse("1193653471").unwrap().as_str(), "1193653471");
        assert_eq!(PostalCode::parse("۱۱۹۳۶-۵۳۴۷۱").unwrap().as_str(), "1193653471");
        assert_eq!(PostalCode::parse("٠١٢٣٤٥٦٧٨٩").unwrap().as_str(), "0123456789");
        assert_eq!(PostalCode::parse(""), Err(PostalCodeError::Empty));
        assert_eq!(PostalCode::parse("119365347"), Err(PostalCodeError::Length));
        assert_eq!(PostalCode::parse("11936534712"), Err(PostalCodeError::Length));
        assert_eq!(PostalCode::parse("+193653471"), Err(PostalCodeError::NotDigits));
        assert_eq!(PostalCode::parse("1193653.471"), Err(PostalCodeError::NotDigits));
    }

    #[test]
    fn p4_debug_output_hides_contact_details() {
        let email = Email::parse("maryam@example.com").unwrap();
        let mobile = IranMobile::parse("09123456789").unwrap();
        let postal = PostalCode::parse("1193653471").unwrap();
        let shown = format!("{email:?} {mobile:?} {postal:?}");
        assert_eq!(shown, "Email(***) IranMobile(***) PostalCode(***)");
    }

    fn persian_digits(s: &str) -> String {
        s.chars().map(|c| c.to_digit(10).and_then(|d| char::from_u32(0x06F0 + d)).unwrap_or(c)).collect()
    }

    proptest! {
        #[test]
        fn parsers_never_panic(a in "\\PC*", b in ".{0,3000}", c in any::<String>(), d in "[\\x00-\\x1f@.+0-9a-z۰-۹]{0,40}") {
            for input in [a, b, c, d] {
                let _ = Email::parse(&input);
                let _ = IranMobile::parse(&input);
                let _ = PostalCode::parse(&input);
            }
        }

        #[test]
        fn a_valid_email_round_trips(
            address in "[a-zA-Z0-9_+'-]{1,20}(\\.[a-z0-9]{1,8})?@([a-zA-Z0-9]([a-z0-9-]{0,10}[a-z0-9])?\\.){1,3}[a-zA-Z]{2,8}"
        ) {
            let email = Email::parse(&address).unwrap();
            prop_assert_eq!(email.as_str(), address.to_ascii_lowercase());
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(Email::parse(&address.to_ascii_uppercase()).unwrap(), email.clone());
            prop_assert_eq!(format!("{}@{}", email.local_part(), email.domain()), email.as_str());
        }

        #[test]
        fn every_mobile_form_gives_one_e164(subscriber in "9[0-9]{9}", prefix in prop::sample::select(vec!["", "0", "98", "+98", "0098"]), persian in any::<bool>()) {
            let typed = format!("{prefix}{subscriber}");
            let typed = if persian { persian_digits(&typed) } else { typed };
            let mobile = IranMobile::parse(&typed).unwrap();
            prop_assert_eq!(mobile.as_e164(), format!("+98{subscriber}"));
            prop_assert_eq!(IranMobile::parse(mobile.as_e164()).unwrap(), mobile);
        }

        #[test]
        fn a_postal_code_round_trips(code in "[0-9]{10}") {
            let postal = PostalCode::parse(&persian_digits(&code)).unwrap();
            prop_assert_eq!(postal.as_str(), code.as_str());
            prop_assert_eq!(PostalCode::parse(postal.as_str()).unwrap(), postal);
        }
    }
}
