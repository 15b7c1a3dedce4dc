//! Field-level envelope encryption (P4): national codes, economic codes and national ids are
//! stored sealed, so that a table export alone (a backup, a scan by anyone allowed to read the
//! table) does not reveal them.
//!
//! A field is sealed with AES-256-GCM under a data key that KMS generated (`GenerateDataKey`
//! under `FIELD_KEY_ID`). The data key, as KMS encrypted it, is stored beside the ciphertext, so
//! opening a field takes a KMS `Decrypt` that only the functions handling buyer identity are
//! allowed. One string attribute holds it all, in URL-safe base64 without padding:
//!
//! ```text
//! f1.<encrypted data key>.<nonce>.<ciphertext and tag>
//! ```
//!
//! The format version, the item's key and the attribute's name are the AAD: a sealed value
//! moved to another item or another attribute does not open.
//!
//! KMS is not called per field. A data key is generated at the first seal of a cold start and
//! renewed after [`DATA_KEY_LIFETIME`] or [`DATA_KEY_USES`] seals, whichever comes first: one KMS
//! call per warm environment every few minutes, while a rotated or disabled KMS key governs new
//! writes within minutes, and no single data key protects more than a bounded number of
//! values. Decrypted data keys are cached by their encrypted bytes for the same lifetime, so a
//! revoked permission to decrypt takes effect within it too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use mizan::kernel::failures::StoreError;

/// The first part of every sealed value: the layout and algorithm it was written with.
const FORMAT: &str = "f1";
/// How long one data key seals new values, and a decrypted one stays cached.
pub const DATA_KEY_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How many values one data key seals at most: far below AES-GCM's 2^32 random nonces per key.
pub const DATA_KEY_USES: u32 = 10_000;
/// Decrypted data keys kept at once; reading old orders may touch many (one per cold start).
const OPENED_KEYS_KEPT: usize = 256;
/// KMS encryption context of every data key: it must be repeated to decrypt one, IAM can
/// require it, and CloudTrail shows it.
const CONTEXT_KEY: &str = "purpose";
const CONTEXT_VALUE: &str = "buyer-identity";
/// AES-256.
const DATA_KEY_BYTES: usize = 32;

/// Where a sealed value lives: it opens only there.
#[derive(Debug, Clone, Copy)]
pub struct FieldPlace<'a> {
    /// The item's key (`ORDER#…`, `INVOICE#…`).
    pub item_key: &'a str,
    pub attribute: &'static str,
}

impl FieldPlace<'_> {
    fn aad(&self) -> Vec<u8> {
        [FORMAT.as_bytes(), b"\0", self.item_key.as_bytes(), b"\0", self.attribute.as_bytes()].concat()
    }
}

/// Why a sealed value could not be made or read. Never carries the value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a sealed field is not in the f1 format")]
    Malformed,
    /// Wrong key, wrong place, or changed bytes: AES-GCM's tag does not verify.
    #[error("a sealed field does not open with its data key at its place")]
    Tampered,
    #[error("a data key is not a 256-bit key")]
    InvalidKey,
    #[error("a sealed field is not UTF-8 text")]
    NotText,
}

/// A data key: the AES-256-GCM key, and the same key as KMS encrypted it (stored beside every
/// value it seals).
pub struct DataKey {
    encrypted: Vec<u8>,
    cipher: RandomizedNonceKey,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl DataKey {
    pub fn new(plaintext: &[u8], encrypted: Vec<u8>) -> Result<Self, SealError> {
        if plaintext.len() != DATA_KEY_BYTES || encrypted.is_empty() {
            return Err(SealError::InvalidKey);
        }
        let cipher = RandomizedNonceKey::new(&AES_256_GCM, plaintext).map_err(|_| SealError::InvalidKey)?;
        Ok(Self { encrypted, cipher })
    }

    /// The stored form of `value` at `place`, under a fresh random nonce.
    pub fn seal(&self, place: FieldPlace<'_>, value: &str) -> Result<String, SealError> {
        let mut in_out = value.as_bytes().to_vec();
        let nonce = self
            .cipher
            .seal_in_place_append_tag(Aad::from(place.aad()), &mut in_out)
            .map_err(|_| SealError::InvalidKey)?;
        Ok(format!(
            "{FORMAT}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(&self.encrypted),
            URL_SAFE_NO_PAD.encode(nonce.as_ref()),
            URL_SAFE_NO_PAD.encode(&in_out)
        ))
    }

    /// The value sealed at `place`, if this is its data key and nothing was changed.
    pub fn open(&self, place: FieldPlace<'_>, sealed: &SealedField) -> Result<String, SealError> {
        if sealed.encrypted_key != self.encrypted {
            return Err(SealError::Tampered);
        }
        let mut in_out = sealed.ciphertext.clone();
        let plaintext = self
            .cipher
            .open_in_place(Nonce::assume_unique_for_key(sealed.nonce), Aad::from(place.aad()), &mut in_out)
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| SealError::NotText)
    }
}

/// A stored `f1.…` value, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedField {
    encrypted_key: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl SealedField {
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let mut parts = text.split('.');
        let (Some(FORMAT), Some(key), Some(nonce), Some(ciphertext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| SealError::Malformed);
        let encrypted_key = decode(key)?;
        let nonce: [u8; NONCE_LEN] = decode(nonce)?.try_into().map_err(|_| SealError::Malformed)?;
        let ciphertext = decode(ciphertext)?;
        // At least the 16-byte tag; an empty key cannot be one KMS made.
        if encrypted_key.is_empty() || ciphertext.len() < AES_256_GCM.tag_len() {
            return Err(SealError::Malformed);
        }
        Ok(Self { encrypted_key, nonce, ciphertext })
    }

    /// The data key as KMS encrypted it: what `Decrypt` is asked to open.
    pub fn encrypted_key(&self) -> &[u8] {
        &self.encrypted_key
    }
}

/// The data keys of one execution environment: the one sealing new values, and those recently
/// decrypted for opening. Pure bookkeeping; the clock is passed in.
#[derive(Default)]
struct KeyRing {
    sealing: Option<SealingKey>,
    opened: HashMap<Vec<u8>, (Arc<DataKey>, Instant)>,
}

struct SealingKey {
    key: Arc<DataKey>,
    since: Instant,
    uses: u32,
}

impl KeyRing {
    /// The current data key, counted as used once, unless it is due for renewal.
    fn sealing_key(&mut self, now: Instant) -> Option<Arc<DataKey>> {
        let sealing = self.sealing.as_mut()?;
        if now.duration_since(sealing.since) >= DATA_KEY_LIFETIME || sealing.uses >= DATA_KEY_USES {
            self.sealing = None;
            return None;
        }
        sealing.uses += 1;
        Some(Arc::clone(&sealing.key))
    }

    /// A newly generated data key becomes the sealing one, already used once; it also opens
    /// what it sealed without asking KMS.
    fn start_sealing(&mut self, key: Arc<DataKey>, now: Instant) {
        self.remember(Arc::clone(&key), now);
        self.sealing = Some(SealingKey { key, since: now, uses: 1 });
    }

    fn opening_key(&mut self, encrypted: &[u8], now: Instant) -> Option<Arc<DataKey>> {
        match self.opened.get(encrypted) {
            Some((key, since)) if now.duration_since(*since) < DATA_KEY_LIFETIME => Some(Arc::clone(key)),
            Some(_) => {
                self.opened.remove(encrypted);
                None
            }
            None => None,
        }
    }

    fn remember(&mut self, key: Arc<DataKey>, now: Instant) {
        if self.opened.len() >= OPENED_KEYS_KEPT {
            self.opened.retain(|_, (_, since)| now.duration_since(*since) < DATA_KEY_LIFETIME);
        }
        if self.opened.len() >= OPENED_KEYS_KEPT {
            // Still full of live keys: start afresh rather than track recency; a few Decrypt
            // calls are cheaper than the bookkeeping.
            self.opened.clear();
        }
        self.opened.insert(key.encrypted.clone(), (key, now));
    }
}

/// Seals and opens buyer identity fields with data keys from KMS. Cheap to clone: clones share
/// the keys, so an order table and an invoice table of one function make one KMS call.
#[derive(Clone)]
pub struct FieldSealer {
    kms: aws_sdk_kms::Client,
    key_id: Arc<str>,
    ring: Arc<Mutex<KeyRing>>,
}

impl std::fmt::Debug for FieldSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldSealer").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl FieldSealer {
    /// `key_id`: the KMS key (id, ARN or alias) that data keys are generated under.
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { kms, key_id: Arc::from(key_id.into()), ring: Arc::default() }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, KeyRing> {
        // The ring holds no invariant a panic elsewhere could break halfway.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub async fn seal(&self, place: FieldPlace<'_>, value: &str) -> Result<String, StoreError> {
        let cached = self.ring().sealing_key(Instant::now());
        let key = match cached {
            Some(key) => key,
            None => {
                let key = Arc::new(self.generate().await?);
                self.ring().start_sealing(Arc::clone(&key), Instant::now());
                key
            }
        };
        key.seal(place, value).map_err(|_| StoreError::Failed("seal-field".into()))
    }

    pub async fn open(&self, place: FieldPlace<'_>, stored: &str) -> Result<String, StoreError> {
        let sealed = SealedField::parse(stored).map_err(|_| StoreError::Corrupt(place.attribute))?;
        let cached = self.ring().opening_key(sealed.encrypted_key(), Instant::now());
        let key = match cached {
            Some(key) => key,
            None => {
                let key = Arc::new(self.decrypt(sealed.encrypted_key(), place.attribute).await?);
                self.ring().remember(Arc::clone(&key), Instant::now());
                key
            }
        };
        key.open(place, &sealed).map_err(|_| StoreError::Corrupt(place.attribute))
    }

    async fn generate(&self) -> Result<DataKey, StoreError> {
        let answer = self
            .kms
            .generate_data_key()
            .key_id(&*self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let (Some(plaintext), Some(encrypted)) = (answer.plaintext(), answer.ciphertext_blob()) else {
            return Err(StoreError::Failed("kms-data-key-missing".into()));
        };
        DataKey::new(plaintext.as_ref(), encrypted.as_ref().to_vec())
            .map_err(|_| StoreError::Failed("kms-data-key-invalid".into()))
    }

    async fn decrypt(&self, encrypted: &[u8], attribute: &'static str) -> Result<DataKey, StoreError> {
        let answer = self
            .kms
            .decrypt()
            .key_id(&*self.key_id)
            .ciphertext_blob(Blob::new(encrypted))
            .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            // Not a data key of ours (or not under this context): the stored value is bad.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_invalid_ciphertext_exception() || e.is_incorrect_key_exception()) =>
            {
                return Err(StoreError::Corrupt(attribute));
            }
            Err(error) => return Err(crate::dynamodb::store_error(&error)),
        };
        let plaintext = answer.plaintext().ok_or(StoreError::Failed("kms-plaintext-missing".into()))?;
        DataKey::new(plaintext.as_ref(), encrypted.to_vec()).map_err(|_| StoreError::Corrupt(attribute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: FieldPlace<'static> = FieldPlace { item_key: "ORDER#0190a1b2", attribute: "buyer_national_code" };

    fn key(byte: u8, encrypted: &[u8]) -> DataKey {
        DataKey::new(&[byte; 32], encrypted.to_vec()).unwrap()
    }

    #[test]
    fn p4_a_sealed_field_opens_at_its_place_and_shows_nothing_in_clear() {
        let data_key = key(7, b"kms-encrypted-key-1");
        let stored = data_key.seal(ORDER, "0076229645").unwrap();
        assert!(stored.starts_with("f1."));
        assert!(!stored.contains("0076229645"));
        assert_eq!(stored.split('.').count(), 4);
        let sealed = SealedField::parse(&stored).unwrap();
        assert_eq!(sealed.encrypted_key(), b"kms-encrypted-key-1");
        assert_eq!(data_key.open(ORDER, &sealed).unwrap(), "0076229645");
    }

    #[test]
    fn p4_the_same_value_seals_differently_each_time() {
        let data_key = key(7, b"k");
        assert_ne!(data_key.seal(ORDER, "0076229645").unwrap(), data_key.seal(ORDER, "0076229645").unwrap());
    }

    #[test]
    fn p4_a_sealed_field_moved_to_another_item_or_attribute_does_not_open() {
        let data_key = key(7, b"k");
        let sealed = SealedField::parse(&data_key.seal(ORDER, "0076229645").unwrap()).unwrap();
        let other_item = FieldPlace { item_key: "ORDER#0190ffff", ..ORDER };
        let other_attribute = FieldPlace { attribute: "buyer_national_id", ..ORDER };
        assert_eq!(data_key.open(other_item, &sealed), Err(SealError::Tampered));
        assert_eq!(data_key.open(other_attribute, &sealed), Err(SealError::Tampered));
    }

    #[test]
    fn p4_a_changed_byte_or_another_key_is_detected() {
        let data_key = key(7, b"k");
        let stored = data_key.seal(ORDER, "10380284790").unwrap();
        let mut parts: Vec<String> = stored.split('.').map(str::to_owned).collect();
        let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
        ciphertext[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(&ciphertext);
        let tampered = SealedField::parse(&parts.join(".")).unwrap();
        assert_eq!(data_key.open(ORDER, &tampered), Err(SealError::Tampered));

        let sealed = SealedField::parse(&stored).unwrap();
        assert_eq!(key(8, b"k").open(ORDER, &sealed), Err(SealError::Tampered), "same name, other key");
        assert_eq!(key(7, b"other").open(ORDER, &sealed), Err(SealError::Tampered), "not its data key");
    }

    #[test]
    fn only_the_f1_format_parses() {
        let stored = key(7, b"k").seal(ORDER, "0076229645").unwrap();
        for bad in [
            "0076229645".to_owned(),
            stored.replacen("f1.", "f2.", 1),
            format!("{stored}.x"),
            stored.rsplit_once('.').unwrap().0.to_owned(),
            "f1.a.b.c".to_owned(),
            "f1..AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        ] {
            assert_eq!(SealedField::parse(&bad), Err(SealError::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_data_key_is_256_bits() {
        assert_eq!(DataKey::new(&[1; 16], b"k".to_vec()).unwrap_err(), SealError::InvalidKey);
        assert_eq!(DataKey::new(&[1; 32], Vec::new()).unwrap_err(), SealError::InvalidKey);
    }

    #[test]
    fn a_data_key_seals_until_its_lifetime_or_uses_run_out() {
        let start = Instant::now();
        let mut ring = KeyRing::default();
        assert!(ring.sealing_key(start).is_none(), "nothing before the first key");
        ring.start_sealing(Arc::new(key(1, b"first")), start);
        for _ in 1..DATA_KEY_USES {
            assert!(ring.sealing_key(start + Duration::from_secs(1)).is_some());
        }
        assert!(ring.sealing_key(start + Duration::from_secs(1)).is_none(), "used up");

        ring.start_sealing(Arc::new(key(2, b"second")), start);
        assert!(ring.sealing_key(start + DATA_KEY_LIFETIME - Duration::from_secs(1)).is_some());
        assert!(ring.sealing_key(start + DATA_KEY_LIFETIME).is_none(), "too old");
    }

    #[test]
    fn decrypted_data_keys_are_cached_by_their_encrypted_bytes_for_a_while() {
        let start = Instant::now();
        let mut ring = KeyRing::default();
        ring.remember(Arc::new(key(1, b"one")), start);
        assert!(ring.opening_key(b"one", start + Duration::from_secs(60)).is_some());
        assert!(ring.opening_key(b"two", start).is_none());
        assert!(ring.opening_key(b"one", start + DATA_KEY_LIFETIME).is_none(), "expired");
        assert!(ring.opening_key(b"one", start).is_none(), "and forgotten");

        ring.start_sealing(Arc::new(key(2, b"sealing")), start);
        assert!(ring.opening_key(b"sealing", start).is_some(), "what it sealed opens without KMS");
        for n in 0..=OPENED_KEYS_KEPT {
            ring.remember(Arc::new(key(3, n.to_string().as_bytes())), start);
        }
        assert!(ring.opened.len() <= OPENED_KEYS_KEPT, "bounded");
    }
}
