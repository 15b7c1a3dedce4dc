//! Finding accounts by a contact without another copy of it (P3, P12): an account carries a keyed
//! hash of its phone, and a closed account keeps the keyed hashes of the email and phone it last
//! held, so that a legal request by email or phone still finds it — by an index on the hash,
//! not a read of the whole table — while the contacts themselves are gone.
//!
//! HMAC-SHA256 under `CONTACT_LOOKUP_KEY`: a mobile number has about 10^9 values and an unkeyed
//! hash of it would be reversed in minutes; with the key, a copy of the table names nobody.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::accounts::contact::{Email, IranMobile};

/// The key of the contacts' lookup hashes (CONTACT_LOOKUP_KEY).
#[derive(Clone)]
pub struct ContactLookupKey(Hmac<Sha256>);

#[derive(Debug, thiserror::Error)]
#[error("the contact lookup key must be at least 32 bytes")]
pub struct ContactLookupKeyTooShort;

/// The stored, searchable stand-in of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactHash(String);

impl ContactHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ContactLookupKey {
    pub fn new(key: &[u8]) -> Result<Self, ContactLookupKeyTooShort> {
        if key.len() < 32 {
            return Err(ContactLookupKeyTooShort);
        }
        Hmac::new_from_slice(key).map(Self).map_err(|_| ContactLookupKeyTooShort)
    }

    pub fn email(&self, email: &Email) -> ContactHash {
        self.hash(b"email", email.as_str())
    }

    pub fn phone(&self, phone: &IranMobile) -> ContactHash {
        self.hash(b"phone", phone.as_e164())
    }

    /// `HMAC(kind ‖ 0 ‖ canonical form)`: an email's hash never equals a phone's.
    fn hash(&self, kind: &[u8], canonical: &str) -> ContactHash {
        let mut mac = self.0.clone();
        mac.update(kind);
        mac.update(b"\0");
        mac.update(canonical.as_bytes());
        ContactHash(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

crate::kernel::newtype::redacted_debug!(ContactLookupKey);

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ContactLookupKey {
        ContactLookupKey::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn p3_a_contact_hashes_alike_however_it_was_typed_and_names_nothing_without_the_key() {
        let typed = IranMobile::parse("۰۹۱۲ ۳۴۵ ۶۷۸۹").unwrap();
        let canonical = IranMobile::parse("+989123456789").unwrap();
        assert_eq!(key(1).phone(&typed), key(1).phone(&canonical));
        assert_ne!(key(1).phone(&canonical), key(2).phone(&canonical), "another key, another hash");
        let email = Email::parse("Maryam@Example.com").unwrap();
        assert_eq!(key(1).email(&email), key(1).email(&Email::parse("maryam@example.com").unwrap()));
        assert!(!key(1).email(&email).as_str().contains("maryam"));
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(ContactLookupKey::new(&[0; 31]).is_err());
    }
}
