//! The ids that every context names: accounts, orders, products and reviews.
//!
//! Some are derived from what makes a thing unique instead of drawn at random: the same
//! request, retried or repeated, lands on the same id, and conditional writes and deliveries
//! keyed by it make its effects happen once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::kernel::problem::Rejection;

/// A UUID newtype: parsed from its text, printed as it.
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            pub fn parse(text: &str) -> Option<Self> {
                uuid::Uuid::try_parse(text).ok().map(Self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// An account's opaque id: the only way logs, events and tokens refer to a person.
    AccountId
);

impl AccountId {
    #[allow(clippy::new_without_default)] // a new id is random: a `Default` would hide that
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// The id's sixteen bytes, for a token that seals it rather than spells it.
    pub fn to_bytes(self) -> [u8; 16] {
        *self.0.as_bytes()
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }
}

uuid_id!(
    /// An order's id. Derived from the customer and their `Idempotency-Key`, so that a retry of
    /// the same checkout can never become a second order, even after its idempotency record is
    /// gone.
    OrderId
);

impl OrderId {
    pub fn for_checkout(account: AccountId, idempotency_key: &str) -> Self {
        Self(derived("order", &[&account.to_string(), idempotency_key]))
    }

    /// The short reference a customer reads on a phone: the id's first eight hex digits.
    pub fn short_ref(&self) -> String {
        self.0.simple().to_string().chars().take(8).collect::<String>().to_uppercase()
    }
}

uuid_id!(
    /// One attempt to pay an order: random, and part of the URL the gateway sends the customer
    /// back to, so that the return names the attempt it ends.
    PaymentId
);

impl PaymentId {
    #[allow(clippy::new_without_default)] // a new id is random: a `Default` would hide that
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

uuid_id!(
    /// A review's id: random, because it is public and must not lead back to its author (P13).
    /// That a customer has one review per product is kept by the store, not by the id.
    ReviewId
);

impl ReviewId {
    #[allow(clippy::new_without_default)] // a new id is random: a `Default` would hide that
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

/// A product's id: a readable slug (`ethiopia-yirgacheffe-250g`), 1–64 characters of `[a-z0-9-]`,
/// not starting or ending with `-`. It appears in URLs and in DynamoDB keys, so it is kept to
/// characters that need no escaping in either.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

const PRODUCT_ID_MAX_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProductIdError {
    #[error("product id is empty or longer than 64 characters")]
    Length,
    #[error("product id contains characters other than a-z, 0-9 and -")]
    Characters,
    #[error("product id starts or ends with -")]
    EdgeHyphen,
}

/// One code for every way an id can be wrong: a customer never types product ids, so a wrong
/// one is a stale link or a tampered request, and the detail would help no one fix it.
impl Rejection for ProductIdError {
    fn code(&self) -> &'static str {
        "product-id-invalid"
    }

    fn message(&self) -> &'static str {
        "شناسهٔ محصول معتبر نیست."
    }
}

impl ProductId {
    pub fn parse(input: &str) -> Result<Self, ProductIdError> {
        if input.is_empty() || input.len() > PRODUCT_ID_MAX_LEN {
            return Err(ProductIdError::Length);
        }
        if !input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(ProductIdError::Characters);
        }
        if input.starts_with('-') || input.ends_with('-') {
            return Err(ProductIdError::EdgeHyphen);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::kernel::newtype::text_code!(ProductId, ProductIdError);

/// A UUID (version 8) from SHA-256 over a purpose and the parts, each separated so that
/// different splits of the same text never collide.
pub fn derived(purpose: &str, parts: &[&str]) -> uuid::Uuid {
    let mut hash = Sha256::new().chain_update(purpose).chain_update(b"\0");
    for part in parts {
        hash = hash.chain_update(part).chain_update(b"\0");
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_are_readable_slugs() {
        for id in ["ethiopia-yirgacheffe-250g", "v60", "a", "kenya-aa-1kg", "0", &"a".repeat(64)] {
            assert_eq!(ProductId::parse(id).map(|p| p.as_str().to_owned()), Ok(id.to_owned()), "{id}");
        }
        assert_eq!(ProductId::parse(""), Err(ProductIdError::Length));
        assert_eq!(ProductId::parse(&"a".repeat(65)), Err(ProductIdError::Length));
        for id in ["Kenya", "kenya_aa", "kenya aa", "کنیا", "kenya/aa", "kenya.aa", "ke\u{200C}nya"] {
            assert_eq!(ProductId::parse(id), Err(ProductIdError::Characters), "{id}");
        }
        for id in ["-kenya", "kenya-", "-"] {
            assert_eq!(ProductId::parse(id), Err(ProductIdError::EdgeHyphen), "{id}");
        }
    }

    #[test]
    fn a_bad_product_id_is_one_rejection() {
        let error = ProductId::parse("Kenya").unwrap_err().at("product_id");
        assert_eq!(error.code, "product-id-invalid");
        assert_eq!(error.field, "product_id");
        assert!(!error.message.is_empty());
    }

    #[test]
    fn the_same_parts_give_the_same_id_and_different_splits_do_not_collide() {
        assert_eq!(derived("p", &["a", "b"]), derived("p", &["a", "b"]));
        assert_ne!(derived("p", &["ab", ""]), derived("p", &["a", "b"]));
        assert_ne!(derived("p", &["a"]), derived("q", &["a"]));
        assert_eq!(derived("p", &["a"]).get_version_num(), 8);
    }
}
