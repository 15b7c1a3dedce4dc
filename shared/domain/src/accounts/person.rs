//! A customer's name, as they write it.

use crate::kernel::problem::Rejection;
use crate::kernel::text::{is_unprintable, normalize_text};

const MIN_NAME_CHARS: usize = 2;
const MAX_NAME_CHARS: usize = 100;

/// A full name in canonical form (see `normalize_text`): what invoices print and what the shop
/// greets the customer with. Personal data: redacted in `Debug`, no `Display`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FullName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FullNameError {
    #[error("name is empty")]
    Empty,
    #[error("name is shorter than 2 characters")]
    TooShort,
    #[error("name is longer than 100 characters")]
    TooLong,
    #[error("name contains no letter")]
    NoLetter,
    #[error("name contains a control character")]
    ControlCharacter,
    #[error("name contains < or >")]
    AngleBracket,
    #[error("name contains a link or an email address")]
    LinkOrAddress,
}

impl Rejection for FullNameError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "full-name-empty",
            Self::TooShort => "full-name-too-short",
            Self::TooLong => "full-name-too-long",
            Self::NoLetter => "full-name-no-letter",
            Self::ControlCharacter => "full-name-control-character",
            Self::AngleBracket => "full-name-angle-bracket",
            Self::LinkOrAddress => "full-name-link",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "نام و نام خانوادگی را وارد کنید.",
            Self::TooShort => "نام و نام خانوادگی باید دست‌کم ۲ حرف باشد.",
            Self::TooLong => "نام و نام خانوادگی نباید بیش از ۱۰۰ حرف باشد.",
            Self::NoLetter => "نام و نام خانوادگی باید دست‌کم یک حرف داشته باشد.",
            Self::ControlCharacter => "نام و نام خانوادگی نویسهٔ نامعتبر دارد.",
            Self::AngleBracket => "نام و نام خانوادگی نباید نشانه‌های < یا > داشته باشد.",
            Self::LinkOrAddress => "نام و نام خانوادگی نباید پیوند یا نشانی ایمیل داشته باشد.",
        }
    }
}

impl FullName {
    pub fn parse(input: &str) -> Result<Self, FullNameError> {
        let name = normalize_text(input);
        let chars = name.chars().count();
        if chars == 0 {
            return Err(FullNameError::Empty);
        }
        if chars < MIN_NAME_CHARS {
            return Err(FullNameError::TooShort);
        }
        if chars > MAX_NAME_CHARS {
            return Err(FullNameError::TooLong);
        }
        if name.chars().any(is_unprintable) {
            return Err(FullNameError::ControlCharacter);
        }
        // A name is printed on invoices and in e-mails; markup has no business in it.
        if name.contains(['<', '>']) {
            return Err(FullNameError::AngleBracket);
        }
        // Nor a link or an address, which the store would otherwise sign and send to whoever an
        // account names.
        if looks_like_link_or_address(&name) {
            return Err(FullNameError::LinkOrAddress);
        }
        if !name.chars().any(char::is_alphabetic) {
            return Err(FullNameError::NoLetter);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How the shop addresses the customer in public, e.g. beside a review: the first word and
    /// the initial of the last («مریم کاظمی» → «مریم ک.»); a single word is shown whole.
    pub fn display_name(&self) -> String {
        let mut words = self.0.split(' ');
        let first = words.next().unwrap_or_default();
        match words.next_back().and_then(|last| last.chars().find(|c| c.is_alphabetic())) {
            Some(initial) => format!("{first} {initial}."),
            None => first.to_owned(),
        }
    }
}

/// `@`, `://`, `www.`, or a word with a dot between letters ending in two or more Latin letters
/// (`example.com`, `bit.ly`). An initial followed by a dot and a space («م. کاظمی») is a name.
fn looks_like_link_or_address(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.contains('@')
        || lower.contains("://")
        || lower.contains("www.")
        || lower.split([' ', '/']).any(|word| {
            word.rsplit_once('.').is_some_and(|(before, after)| {
                before.chars().last().is_some_and(char::is_alphanumeric)
                    && after.chars().count() >= 2
                    && after.chars().all(|c| c.is_ascii_alphabetic())
            })
        })
}

crate::kernel::newtype::redacted_debug!(FullName);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_name_is_normalised() {
        let name = FullName::parse("  مريم   كاظمـي ").unwrap();
        assert_eq!(name.as_str(), "مریم کاظمی");
        assert_eq!(name, FullName::parse("مریم کاظمی").unwrap());
    }

    #[test]
    fn zwnj_in_a_name_is_kept() {
        let name = FullName::parse("محمد\u{200C}علی رضایی\u{200C}نژاد").unwrap();
        assert_eq!(name.as_str(), "محمد\u{200C}علی رضایی\u{200C}نژاد");
    }

    #[test]
    fn display_name_is_first_word_and_last_initial() {
        assert_eq!(FullName::parse("مریم کاظمی").unwrap().display_name(), "مریم ک.");
        assert_eq!(FullName::parse("سید محمد حسینی").unwrap().display_name(), "سید ح.");
        assert_eq!(FullName::parse("Maryam Kazemi").unwrap().display_name(), "Maryam K.");
        assert_eq!(FullName::parse("آرش").unwrap().display_name(), "آرش");
        // The initial is a letter, not punctuation around the word.
        assert_eq!(FullName::parse("علی (اکبری)").unwrap().display_name(), "علی ا.");
        assert_eq!(FullName::parse("علی ۲").unwrap().display_name(), "علی");
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        assert_eq!(FullName::parse(""), Err(FullNameError::Empty));
        assert_eq!(FullName::parse(" \u{0640} "), Err(FullNameError::Empty));
        assert_eq!(FullName::parse("م"), Err(FullNameError::TooShort));
        assert!(FullName::parse("مر").is_ok());
        // 100 two-byte letters are 200 bytes and still fit.
        assert!(FullName::parse(&"م".repeat(100)).is_ok());
        assert_eq!(FullName::parse(&"م".repeat(101)), Err(FullNameError::TooLong));
        // Tatweel and repeated spaces are gone before counting.
        assert!(FullName::parse(&format!("{}     {}", "م".repeat(50), "ـ".repeat(80) + &"ن".repeat(49))).is_ok());
    }

    #[test]
    fn names_without_letters_or_with_markup_or_controls_are_refused() {
        assert_eq!(FullName::parse("۱۲۳۴"), Err(FullNameError::NoLetter));
        assert_eq!(FullName::parse("-- .."), Err(FullNameError::NoLetter));
        assert_eq!(FullName::parse("<script>"), Err(FullNameError::AngleBracket));
        assert_eq!(FullName::parse("مریم <b>"), Err(FullNameError::AngleBracket));
        assert_eq!(FullName::parse("مریم\u{0007}کاظمی"), Err(FullNameError::ControlCharacter));
        assert_eq!(FullName::parse("مریم\u{0085}کاظمی").map(|n| n.as_str().to_owned()), Ok("مریم کاظمی".to_owned()));
        assert_eq!(FullName::parse("مریم\u{202E}یمظاک"), Err(FullNameError::ControlCharacter));
        assert_eq!(FullName::parse("\u{0000}مریم"), Err(FullNameError::ControlCharacter));
    }

    #[test]
    fn names_carrying_links_or_addresses_are_refused() {
        for bad in [
            "Win a prize at example.com",
            "مریم کاظمی bit.ly/x",
            "http://evil",
            "مریم www.evil.ir",
            "maryam@example.com",
            "مریم @ کاظمی",
            "EXAMPLE.COM",
        ] {
            assert_eq!(FullName::parse(bad), Err(FullNameError::LinkOrAddress), "{bad}");
        }
        for fine in ["م. کاظمی", "Dr. Maryam Kazemi", "J.R.R. Tolkien", "مریم کاظمی"] {
            assert!(FullName::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn whitespace_controls_become_spaces() {
        assert_eq!(FullName::parse("مریم\n\tکاظمی").unwrap().as_str(), "مریم کاظمی");
    }

    #[test]
    fn p4_debug_output_hides_the_name() {
        assert_eq!(format!("{:?}", FullName::parse("مریم کاظمی").unwrap()), "FullName(***)");
    }

    const PERSIAN_WORD: &str = "[ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی]{2,12}";

    proptest! {
        #[test]
        fn parse_never_panics(a in "\\PC*", b in ".{0,3000}", c in any::<String>(), d in "[\\x00-\\x1f\\x7f\\x{80}-\\x{9f}a-zا-ی <>]{0,20}") {
            for input in [a, b, c, d] {
                if let Ok(name) = FullName::parse(&input) {
                    let _ = name.display_name();
                }
            }
        }

        #[test]
        fn a_valid_name_round_trips_and_is_clean(s in any::<String>()) {
            if let Ok(name) = FullName::parse(&s) {
                prop_assert_eq!(FullName::parse(name.as_str()), Ok(name.clone()));
                prop_assert!(!name.as_str().chars().any(is_unprintable));
                prop_assert!((2..=100).contains(&name.as_str().chars().count()));
            }
        }

        #[test]
        fn two_persian_words_display_as_word_and_initial(first in PERSIAN_WORD, last in PERSIAN_WORD) {
            let name = FullName::parse(&format!("{first} {last}")).unwrap();
            let initial = last.chars().next().unwrap();
            prop_assert_eq!(name.display_name(), format!("{first} {initial}."));
            prop_assert_eq!(FullName::parse(name.as_str()).unwrap(), name);
        }
    }
}
