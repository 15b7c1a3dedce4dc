//! Proving that a contact belongs to the customer (P2, P9): a single-use link token by email
//! and a six-digit code by SMS, both expiring, both stored only as keyed hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::kernel::ids::AccountId;

/// A link in an inbox may wait a day to be clicked.
pub const EMAIL_TOKEN_LIFETIME: Duration = Duration::hours(24);
/// An SMS code is read within minutes; a short life keeps guessing useless.
pub const SMS_CODE_LIFETIME: Duration = Duration::minutes(15);
/// A challenge allows this many attempts, right or wrong, so a million codes cannot be tried:
/// after five wrong codes it is dead.
pub const MAX_ATTEMPTS: u32 = 5;

/// The key of the hashes kept in place of tokens and codes (CODE_HASH_KEY). A table export
/// alone cannot be brute-forced back into live six-digit codes without it.
#[derive(Clone)]
pub struct CodeHasher(Hmac<Sha256>);

#[derive(Debug, thiserror::Error)]
#[error("the code hash key must be at least 32 bytes")]
pub struct CodeHashKeyTooShort;

impl CodeHasher {
    pub fn new(key: &[u8]) -> Result<Self, CodeHashKeyTooShort> {
        if key.len() < 32 {
            return Err(CodeHashKeyTooShort);
        }
        Hmac::new_from_slice(key).map(Self).map_err(|_| CodeHashKeyTooShort)
    }

    /// The stored form of a secret, bound to its purpose so a hash of one kind never matches
    /// another (an SMS code is not an email token, a login key is neither).
    pub fn hash(&self, purpose: &str, secret: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// The secret of an email link: the account it is for and 256 random bits.
/// Its text form `<account id>.<secret>` is what the link carries.
pub struct EmailToken {
    pub account: AccountId,
    secret: String,
}

impl EmailToken {
    pub fn generate(account: AccountId) -> Self {
        let bytes: [u8; 32] = rand::thread_rng().r#gen();
        Self { account, secret: URL_SAFE_NO_PAD.encode(bytes) }
    }

    /// Reads a token a customer sent back; anything malformed is simply not a token.
    pub fn parse(text: &str) -> Option<Self> {
        let (account, secret) = text.trim().split_once('.')?;
        let valid_secret =
            secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid_secret.then(|| Some(Self { account: AccountId::parse(account)?, secret: secret.to_owned() }))?
    }

    pub fn to_text(&self) -> String {
        format!("{}.{}", self.account, self.secret)
    }

    pub fn hash(&self, hasher: &CodeHasher) -> String {
        self.hash_for(hasher, "email-verification")
    }

    /// The stored form of a link's secret for another purpose (a password reset): a link of one
    /// kind never opens another.
    pub fn hash_for(&self, hasher: &CodeHasher, purpose: &str) -> String {
        hasher.hash(purpose, &self.secret)
    }
}

/// A six-digit SMS code.
pub struct SmsCode(String);

impl SmsCode {
    pub fn generate() -> Self {
        Self(format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32)))
    }

    /// Reads a code as typed: Persian digits and spaces are fine, anything but six digits is not a code.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = crate::kernel::text::code_digits(text);
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self, hasher: &CodeHasher) -> String {
        self.hash_for(hasher, "phone-verification")
    }

    /// The stored form of a code for another purpose (a change of number): a code sent for one
    /// never proves another.
    pub fn hash_for(&self, hasher: &CodeHasher, purpose: &str) -> String {
        hasher.hash(purpose, &self.0)
    }
}

/// Which of a customer's contacts a challenge proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Email,
    Phone,
}

/// What is stored while a contact awaits verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub hash: String,
    pub expires_at: OffsetDateTime,
    /// Attempts made so far; the store refuses more than `MAX_ATTEMPTS` and any after expiry.
    pub attempts: u32,
}

impl Challenge {
    pub fn new(hash: String, now: OffsetDateTime, lifetime: Duration) -> Self {
        Self { hash, expires_at: now + lifetime, attempts: 0 }
    }

    /// Whether a secret's hash is this challenge's, compared in constant time: the hashes stand
    /// in for secrets.
    pub fn matches(&self, candidate_hash: &str) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.hash.as_bytes(), candidate_hash.as_bytes()).into()
    }
}

crate::kernel::newtype::redacted_debug!(CodeHasher);

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> CodeHasher {
        CodeHasher::new(&[7; 32]).unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn p9_an_email_token_round_trips_through_its_link_text() {
        let token = EmailToken::generate(AccountId::new());
        let read = EmailToken::parse(&token.to_text()).unwrap();
        assert_eq!(read.account, token.account);
        assert_eq!(read.hash(&hasher()), token.hash(&hasher()));
    }

    #[test]
    fn malformed_email_tokens_are_not_tokens() {
        let valid = EmailToken::generate(AccountId::new()).to_text();
        let (account, secret) = valid.split_once('.').unwrap();
        for text in [
            "",
            ".",
            "abc",
            &format!("{account}."),
            &format!("not-a-uuid.{secret}"),
            &format!("{account}.{}", &secret[1..]),
            &format!("{account}.{secret}x"),
            &format!("{account}.{}!", &secret[1..]),
        ] {
            assert!(EmailToken::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn sms_codes_are_six_digits_and_accept_persian_typing() {
        assert_eq!(SmsCode::generate().as_str().len(), 6);
        assert_eq!(SmsCode::parse("۱۲۳ ۴۵۶").unwrap().as_str(), "123456");
        assert!(SmsCode::parse("12345").is_none());
        assert!(SmsCode::parse("1234567").is_none());
        assert!(SmsCode::parse("12345a").is_none());
    }

    #[test]
    fn hashes_depend_on_purpose_and_key() {
        let code = SmsCode::parse("123456").unwrap();
        assert_ne!(code.hash(&hasher()), hasher().hash("email-verification", "123456"));
        assert_ne!(code.hash(&hasher()), code.hash(&CodeHasher::new(&[8; 32]).unwrap()));
    }

    #[test]
    fn p2_a_challenge_matches_its_own_secret_only() {
        let code = SmsCode::parse("123456").unwrap();
        let challenge = Challenge::new(code.hash(&hasher()), now(), SMS_CODE_LIFETIME);
        assert!(challenge.matches(&code.hash(&hasher())));
        assert!(!challenge.matches(&SmsCode::parse("123457").unwrap().hash(&hasher())));
        assert!(!challenge.matches(""));
        assert_eq!(challenge.expires_at, now() + SMS_CODE_LIFETIME);
    }
}
