//! Passwords: the few rules worth enforcing (NIST SP 800-63B: length, no known-common passwords,
//! nothing derived from the account), and argon2id hashing with OWASP's minimum parameters.
//!
//! A password is kept exactly as typed: no trimming, no case folding, no Unicode normalisation,
//! so what verifies is what the customer chose.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;

use crate::accounts::contact::Email;
use crate::kernel::problem::Rejection;
use crate::kernel::text::ascii_digits;

const MIN_PASSWORD_CHARS: usize = 10;
/// Long enough for any passphrase, short enough that hashing cannot be made expensive.
const MAX_PASSWORD_CHARS: usize = 128;

/// Well-known passwords of at least ten characters, lower-case. Shorter ones are refused by length.
const COMMON_PASSWORDS: &[&str] = &[
    "0123456789",
    "0987654321",
    "1122334455",
    "1212121212",
    "1234512345",
    "1234554321",
    "1234567890",
    "12345678910",
    "1234567891",
    "123456789a",
    "123456789q",
    "123qweasdzxc",
    "1234qwerty",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "9876543210",
    "abcd123456",
    "abcdefghij",
    "admin12345",
    "administrator",
    "asdfghjkl1",
    "iloveyou12",
    "iloveyou123",
    "letmein123",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "p@ssw0rd123",
    "q1w2e3r4t5",
    "q1w2e3r4t5y6",
    "qazwsxedc123",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "qwertyuiop",
    "qwertyuiop123",
    "welcome123",
    "zaq12wsxcde3",
    // `qwertyuiop` typed with the Persian (ISIRI 9147) keyboard layout.
    "ضصثقفغعهخح",
];

/// A password that meets the rules. It exists only to be hashed: redacted in `Debug`, no
/// `Display`, no accessor.
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password is empty")]
    Empty,
    #[error("password is shorter than 10 characters")]
    TooShort,
    #[error("password is longer than 128 characters")]
    TooLong,
    #[error("password repeats one character")]
    Repeated,
    #[error("password is the e-mail address or its local part")]
    MatchesEmail,
    #[error("password is a well-known common password")]
    Common,
}

impl Rejection for PasswordError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "password-empty",
            Self::TooShort => "password-too-short",
            Self::TooLong => "password-too-long",
            Self::Repeated => "password-repeated",
            Self::MatchesEmail => "password-matches-email",
            Self::Common => "password-common",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::Empty => "گذرواژه را وارد کنید.",
            Self::TooShort => "گذرواژه باید دست‌کم ۱۰ نویسه باشد.",
            Self::TooLong => "گذرواژه نباید بیش از ۱۲۸ نویسه باشد.",
            Self::Repeated => "گذرواژه نباید فقط تکرار یک نویسه باشد.",
            Self::MatchesEmail => "گذرواژه نباید همان نشانی ایمیل شما باشد.",
            Self::Common => "این گذرواژه بسیار رایج است و به‌آسانی حدس زده می‌شود؛ گذرواژهٔ دیگری برگزینید.",
        }
    }
}

impl Password {
    /// `email` is the account's email when it is valid; without it every other rule still
    /// applies, so a form with a bad email still hears about its password in the same answer.
    pub fn parse(raw: &str, email: Option<&Email>) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err(PasswordError::Empty);
        }
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        let mut all = raw.chars();
        if let Some(first) = all.next()
            && all.all(|c| c == first)
        {
            return Err(PasswordError::Repeated);
        }
        // Only for comparing: the password itself is kept as typed.
        let folded = ascii_digits(raw).to_lowercase();
        if email.is_some_and(|email| folded == email.as_str() || folded == email.local_part()) {
            return Err(PasswordError::MatchesEmail);
        }
        if COMMON_PASSWORDS.contains(&folded.as_str()) {
            return Err(PasswordError::Common);
        }
        Ok(Self(raw.to_owned()))
    }

    /// An argon2id hash with a fresh random salt, as a PHC string.
    pub fn hash(&self) -> Result<PasswordHash, HashingFailed> {
        hash_phc(self.0.as_bytes()).map(PasswordHash)
    }
}

/// Argon2id, m = 19456 KiB, t = 2, p = 1: OWASP's minimum, and the argon2 crate's defaults.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashing fails only for parameters, salts or passwords out of argon2's ranges: ours are
/// constants, a 16-byte salt and at most 512 bytes, so this is a bug, never a customer's doing.
#[derive(Debug, thiserror::Error)]
#[error("argon2id could not hash a password: {0}")]
pub struct HashingFailed(argon2::password_hash::Error);

fn hash_phc(password: &[u8]) -> Result<String, HashingFailed> {
    let salt = SaltString::generate(&mut OsRng);
    hasher().hash_password(password, &salt).map(|hash| hash.to_string()).map_err(HashingFailed)
}

/// A stored password hash in PHC string format (`$argon2id$v=19$m=19456,t=2,p=1$…`). Verifying
/// uses the parameters written in the string, so hashes made before a change of parameters keep
/// working.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from storage. It is not checked here: a malformed one only fails
    /// to verify.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the password; `false` on a wrong password and on a malformed hash.
    pub fn verify(&self, candidate: &str) -> bool {
        argon2::PasswordHash::new(&self.0)
            .is_ok_and(|parsed| hasher().verify_password(candidate.as_bytes(), &parsed).is_ok())
    }
}

/// Hash of a random password nobody knows, made on first use.
static DUMMY_HASH: LazyLock<Option<PasswordHash>> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut OsRng, &mut secret);
    hash_phc(&secret).ok().map(PasswordHash)
});

/// Spends the time of a real verification, for a sign-in with an e-mail that has no account, so
/// the answer's timing does not tell which addresses are customers. The first call in a process
/// also builds the dummy hash, so that one answer is slower; warming it at every cold start
/// would cost every cold start a hash instead, for one answer per instance.
pub fn verify_against_dummy(candidate: &str) {
    std::hint::black_box(DUMMY_HASH.as_ref().map(|dummy| dummy.verify(candidate)));
}

crate::kernel::newtype::redacted_debug!(Password, PasswordHash);

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use proptest::prelude::*;

    fn email() -> Email {
        Email::parse("Maryam.Kazemi@example.com").unwrap()
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(Password::parse("", Some(&email())).unwrap_err(), PasswordError::Empty);
        assert_eq!(Password::parse("kL9#mP2$x", Some(&email())).unwrap_err(), PasswordError::TooShort);
        assert!(Password::parse("kL9#mP2$xQ", Some(&email())).is_ok());
        // Nine Persian letters are eighteen bytes but still too short.
        assert_eq!(Password::parse("کافهقهوهم", Some(&email())).unwrap_err(), PasswordError::TooShort);
        assert!(Password::parse("قهوهٔ تلخ صبح", Some(&email())).is_ok());
        let longest: String = "ab".repeat(64);
        assert!(Password::parse(&longest, Some(&email())).is_ok());
        assert_eq!(Password::parse(&format!("{longest}c"), Some(&email())).unwrap_err(), PasswordError::TooLong);
    }

    #[test]
    fn one_repeated_character_is_refused() {
        assert_eq!(Password::parse("aaaaaaaaaaaa", Some(&email())).unwrap_err(), PasswordError::Repeated);
        assert_eq!(Password::parse("۱۱۱۱۱۱۱۱۱۱۱", Some(&email())).unwrap_err(), PasswordError::Repeated);
        assert!(Password::parse("aaaaaaaaaaab", Some(&email())).is_ok());
    }

    #[test]
    fn the_email_or_its_local_part_is_refused_in_any_case() {
        assert_eq!(
            Password::parse("maryam.kazemi@example.com", Some(&email())).unwrap_err(),
            PasswordError::MatchesEmail
        );
        assert_eq!(Password::parse("MARYAM.KAZEMI", Some(&email())).unwrap_err(), PasswordError::MatchesEmail);
        assert!(Password::parse("maryam.kazemi!", Some(&email())).is_ok());
    }

    #[test]
    fn common_passwords_are_refused_in_any_case_or_digits() {
        for raw in ["1234567890", "QwertyUiop", "Password123", "1q2w3e4r5t", "iloveyou12", "۱۲۳۴۵۶۷۸۹۰", "ضصثقفغعهخح"]
        {
            assert_eq!(Password::parse(raw, Some(&email())).unwrap_err(), PasswordError::Common, "{raw}");
        }
        assert!(Password::parse("1234567890x", Some(&email())).is_ok());
    }

    #[test]
    fn the_common_list_is_lower_case_and_reachable() {
        for common in COMMON_PASSWORDS {
            assert_eq!(*common, common.to_lowercase());
            assert!(common.chars().count() >= MIN_PASSWORD_CHARS, "{common} is refused by length already");
        }
    }

    #[test]
    fn a_password_is_kept_as_typed() {
        let raw = "  Qahve Talkh ی ي  ";
        let hash = Password::parse(raw, Some(&email())).unwrap().hash().unwrap();
        assert!(hash.verify(raw));
        assert!(!hash.verify(raw.trim()));
        assert!(!hash.verify("  Qahve Talkh ی ی  "));
        assert!(!hash.verify("  qahve talkh ی ي  "));
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_salted() {
        let password = Password::parse("espresso-doppio-42", Some(&email())).unwrap();
        let first = password.hash().unwrap();
        let second = password.hash().unwrap();
        assert!(first.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", first.as_phc());
        assert_ne!(first, second);
        assert!(first.verify("espresso-doppio-42"));
        assert!(second.verify("espresso-doppio-42"));
        assert!(!first.verify("espresso-doppio-43"));
        assert!(!first.verify(""));
    }

    #[test]
    fn a_stored_hash_round_trips_through_its_phc_string() {
        let hash = Password::parse("espresso-doppio-42", Some(&email())).unwrap().hash().unwrap();
        let stored = PasswordHash::from_phc(hash.as_phc().to_owned());
        assert_eq!(stored, hash);
        assert!(stored.verify("espresso-doppio-42"));
    }

    #[test]
    fn a_malformed_hash_verifies_nothing() {
        for phc in
            ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA"]
        {
            assert!(!PasswordHash::from_phc(phc.to_owned()).verify("anything"), "{phc}");
        }
    }

    #[test]
    fn p4_p12_debug_output_hides_password_and_hash() {
        let password = Password::parse("espresso-doppio-42", Some(&email())).unwrap();
        let hash = password.hash().unwrap();
        assert_eq!(format!("{password:?} {hash:?}"), "Password(***) PasswordHash(***)");
    }

    #[test]
    fn the_dummy_verification_costs_what_a_real_one_does() {
        let hash = Password::parse("espresso-doppio-42", Some(&email())).unwrap().hash().unwrap();
        verify_against_dummy("warm up");
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..3 {
                f();
            }
            start.elapsed()
        };
        let real = time(&|| {
            hash.verify("wrong password");
        });
        let dummy = time(&|| verify_against_dummy("wrong password"));
        assert!(DUMMY_HASH.as_ref().unwrap().as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        // Same parameters, so the same work; the bounds only catch a dummy that skips it.
        assert!(dummy > real / 5 && dummy < real * 5 + Duration::from_millis(50), "real {real:?}, dummy {dummy:?}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(a in "\\PC*", b in ".{0,3000}", c in any::<String>(), d in "[\\x00-\\x1f]{0,140}") {
            for input in [a, b, c, d] {
                let _ = Password::parse(&input, Some(&email()));
            }
        }

        #[test]
        fn verify_never_panics_on_any_stored_string(phc in "\\$argon2id\\$v=19\\$m=[0-9]{1,3},t=[0-9],p=[0-9]\\$[A-Za-z0-9+/]{0,30}\\$[A-Za-z0-9+/]{0,50}", junk in any::<String>()) {
            prop_assert!(!PasswordHash::from_phc(junk).verify("anything"));
            prop_assert!(!PasswordHash::from_phc(phc).verify("anything"));
        }

        #[test]
        fn accepted_passwords_obey_the_rules(raw in "\\PC{8,20}") {
            if Password::parse(&raw, Some(&email())).is_ok() {
                let chars: Vec<char> = raw.chars().collect();
                prop_assert!((10..=128).contains(&chars.len()));
                prop_assert!(chars.iter().any(|&c| c != chars[0]));
                prop_assert!(!COMMON_PASSWORDS.contains(&raw.to_lowercase().as_str()));
            }
        }
    }
}
