//! Finding orders by a buyer's identity code without storing the code in clear (P3, P4): each
//! order carries a keyed hash of its buyer's national code (a person) or national id (a
//! company), and the `ByBuyerCode` index of the orders table answers by that hash.
//!
//! HMAC-SHA256 under `BUYER_CODE_HASH_KEY`, not a plain hash: a national code has only 10^9
//! possible values, so an unkeyed hash in a table export would be reversed in minutes. The two
//! kinds of code never collide (10 digits against 11), so one attribute and one index serve both.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ordering::identity::{LegalId, NationalCode};
use crate::ordering::order::Buyer;

/// Bound into every hash, so this key's hashes never match one made for another purpose.
const PURPOSE: &[u8] = b"buyer-identity-lookup\0";

/// The key of the lookup hashes (BUYER_CODE_HASH_KEY).
#[derive(Clone)]
pub struct BuyerLookupKey(Hmac<Sha256>);

#[derive(Debug, thiserror::Error)]
#[error("the buyer lookup key must be at least 32 bytes")]
pub struct BuyerLookupKeyTooShort;

/// The stored, searchable stand-in of an identity code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BuyerCodeHash(String);

impl BuyerCodeHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl BuyerLookupKey {
    pub fn new(key: &[u8]) -> Result<Self, BuyerLookupKeyTooShort> {
        if key.len() < 32 {
            return Err(BuyerLookupKeyTooShort);
        }
        Hmac::new_from_slice(key).map(Self).map_err(|_| BuyerLookupKeyTooShort)
    }

    pub fn national_code(&self, code: &NationalCode) -> BuyerCodeHash {
        self.hash(code.as_str())
    }

    /// A company's national id; its economic code is the same 11 digits, so it finds it too.
    pub fn national_id(&self, id: &LegalId) -> BuyerCodeHash {
        self.hash(id.as_str())
    }

    /// The hash an order of this buyer is found by.
    pub fn buyer(&self, buyer: &Buyer) -> BuyerCodeHash {
        match buyer {
            Buyer::Natural { national_code, .. } => self.national_code(national_code),
            Buyer::Legal { national_id, .. } => self.national_id(national_id),
        }
    }

    fn hash(&self, code: &str) -> BuyerCodeHash {
        let mut mac = self.0.clone();
        mac.update(PURPOSE);
        mac.update(code.as_bytes());
        BuyerCodeHash(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

crate::kernel::newtype::redacted_debug!(BuyerLookupKey);

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> BuyerLookupKey {
        BuyerLookupKey::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn p4_the_lookup_hash_is_keyed_stable_and_not_the_code() {
        let code = NationalCode::parse("0076229645").unwrap();
        let hash = key(1).national_code(&code);
        assert_eq!(hash, key(1).national_code(&NationalCode::parse("۰۰۷۶۲۲۹۶۴۵").unwrap()), "as normalised");
        assert_ne!(hash, key(2).national_code(&code), "another key, another hash");
        assert!(!hash.as_str().contains("0076229645"));
        assert_eq!(hash.as_str().len(), 43);
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(BuyerLookupKey::new(&[1; 31]).is_err());
    }
}
