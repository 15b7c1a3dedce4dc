//! Consent to marketing (P6, P7): the unforgeable links that withdraw it with one click, and
//! the record of every change.
//!
//! An unsubscribe token is `u2.<key id>.<sealed>`: the account, the channel and when the token
//! was made, encrypted and authenticated (AES-256-GCM-SIV, random nonce) under a key derived
//! from the secret the id names, so a link says nothing of whose it is (P13) and cannot be
//! forged or altered. Keys rotate: the first of the keys signs, every listed key opens, and a
//! key dropped from the list retires every token it made. `u1` tokens (the same fields in
//! readable base64 under an HMAC) are still in mail already sent: they are checked, never made.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::kernel::ids::AccountId;

/// A way of reaching a customer, each with its own consent (P6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

/// How many consent changes an account keeps, newest last: enough to show how every choice of
/// the last years was made, while the account item stays far below DynamoDB's 400 KB.
pub const HISTORY_KEPT: usize = 50;

/// Where a consent change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The page behind the link in an email, its button pressed.
    Link,
    /// A mail client's RFC 8058 one-click POST.
    OneClick,
    /// The customer's privacy settings.
    Settings,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::OneClick => "one-click",
            Self::Settings => "settings",
        }
    }
}

/// What an unsubscribe token grants: stopping marketing on one channel of one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe {
    pub account: AccountId,
    pub channel: Channel,
    pub issued_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("UNSUBSCRIBE_KEYS must list at least one `id:secret` pair")]
    Empty,
    #[error("an unsubscribe key id must be 1–16 letters or digits, and its secret at least 32 bytes")]
    Malformed,
}

const SEALED: &str = "u2";
const LEGACY: &str = "u1";
/// Account id, channel, seconds since the epoch.
const SEALED_FIELDS_LEN: usize = 16 + 1 + 8;

/// One key of the rotation: what opens `u2` tokens, and what checks `u1` ones.
struct TokenKey {
    id: String,
    sealing: RandomizedNonceKey,
    legacy_mac: Hmac<Sha256>,
}

impl TokenKey {
    fn new(id: &str, secret: &[u8]) -> Result<Self, KeysError> {
        let legacy_mac = <Hmac<Sha256>>::new_from_slice(secret).map_err(|_| KeysError::Malformed)?;
        // The secret is configuration text of any length: the cipher's key is drawn from it.
        let mut derive = legacy_mac.clone();
        derive.update(b"mizan unsubscribe token sealing key");
        let sealing = RandomizedNonceKey::new(&AES_256_GCM_SIV, &derive.finalize().into_bytes())
            .map_err(|_| KeysError::Malformed)?;
        Ok(Self { id: id.to_owned(), sealing, legacy_mac })
    }

    /// The token's clear prefix, which the seal also covers, so a token cannot change key.
    fn aad(&self) -> String {
        format!("{SEALED}.{}", self.id)
    }
}

/// The keys that make and open unsubscribe tokens: the first makes, all open.
pub struct UnsubscribeKeys {
    keys: Vec<TokenKey>,
}

impl UnsubscribeKeys {
    /// `id:secret,id:secret…`, the signing key first.
    pub fn parse(setting: &str) -> Result<Self, KeysError> {
        let mut keys = Vec::new();
        for pair in setting.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, secret) = pair.split_once(':').ok_or(KeysError::Malformed)?;
            let id_ok = (1..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !id_ok || secret.len() < 32 {
                return Err(KeysError::Malformed);
            }
            keys.push(TokenKey::new(id, secret.as_bytes())?);
        }
        if keys.is_empty() {
            return Err(KeysError::Empty);
        }
        Ok(Self { keys })
    }

    pub fn issue(&self, unsubscribe: Unsubscribe) -> String {
        let key = &self.keys[0];
        let mut sealed = Vec::with_capacity(NONCE_LEN + SEALED_FIELDS_LEN + 16);
        sealed.extend_from_slice(&unsubscribe.account.to_bytes());
        sealed.push(channel_byte(unsubscribe.channel));
        sealed.extend_from_slice(&unsubscribe.issued_at.unix_timestamp().to_be_bytes());
        let aad = key.aad();
        // Sealing only fails when the system's random source does, which no request can cause.
        let Ok(nonce) = key.sealing.seal_in_place_append_tag(Aad::from(aad.as_bytes()), &mut sealed) else {
            unreachable!("the system's random source failed");
        };
        let mut token = nonce.as_ref().to_vec();
        token.extend_from_slice(&sealed);
        format!("{aad}.{}", URL_SAFE_NO_PAD.encode(token))
    }

    /// What a token grants, if it is one of ours made with a key still in service.
    pub fn verify(&self, token: &str) -> Option<Unsubscribe> {
        let mut parts = token.splitn(3, '.');
        let (version, id, rest) = (parts.next()?, parts.next()?, parts.next()?);
        let key = self.keys.iter().find(|key| key.id == id)?;
        match version {
            SEALED => open(key, rest),
            LEGACY => check_legacy(key, token),
            _ => None,
        }
    }
}

fn channel_byte(channel: Channel) -> u8 {
    match channel {
        Channel::Email => 1,
        Channel::Sms => 2,
    }
}

fn open(key: &TokenKey, sealed: &str) -> Option<Unsubscribe> {
    let mut sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if sealed.len() != NONCE_LEN + SEALED_FIELDS_LEN + key.sealing.algorithm().tag_len() {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).ok()?;
    let fields = key.sealing.open_in_place(nonce, Aad::from(key.aad().as_bytes()), &mut sealed[NONCE_LEN..]).ok()?;
    let (account, rest) = fields.split_first_chunk::<16>()?;
    let (&channel, seconds) = rest.split_first()?;
    let channel = match channel {
        1 => Channel::Email,
        2 => Channel::Sms,
        _ => return None,
    };
    let issued_at = OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(seconds.try_into().ok()?)).ok()?;
    Some(Unsubscribe { account: AccountId::from_bytes(*account), channel, issued_at })
}

/// A `u1` token: `u1.<key id>.<base64 of "account|channel|seconds">.<HMAC of what precedes>`.
fn check_legacy(key: &TokenKey, token: &str) -> Option<Unsubscribe> {
    let (signed, mac) = token.rsplit_once('.')?;
    let payload = signed.splitn(3, '.').nth(2)?;
    let mut check = key.legacy_mac.clone();
    check.update(signed.as_bytes());
    check.verify_slice(&URL_SAFE_NO_PAD.decode(mac).ok()?).ok()?;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let mut fields = payload.split('|');
    let account = AccountId::parse(fields.next()?)?;
    let channel = match fields.next()? {
        "email" => Channel::Email,
        "sms" => Channel::Sms,
        _ => return None,
    };
    let issued_at = OffsetDateTime::from_unix_timestamp(fields.next()?.parse().ok()?).ok()?;
    fields.next().is_none().then_some(Unsubscribe { account, channel, issued_at })
}

crate::kernel::newtype::redacted_debug!(UnsubscribeKeys);

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(setting: &str) -> UnsubscribeKeys {
        UnsubscribeKeys::parse(setting).unwrap()
    }

    const K2: &str = "k2:second-key-of-at-least-thirty-two-bytes";
    const K1: &str = "k1:first-key-of-at-least-thirty-two-bytes!";

    fn grant() -> Unsubscribe {
        Unsubscribe {
            account: AccountId::new(),
            channel: Channel::Email,
            issued_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        }
    }

    #[test]
    fn p7_a_token_grants_exactly_what_it_was_issued_for() {
        let grant = grant();
        assert_eq!(keys(K2).verify(&keys(K2).issue(grant)), Some(grant));
    }

    #[test]
    fn p7_tampered_truncated_foreign_and_random_tokens_grant_nothing() {
        let token = keys(K2).issue(grant());
        let mut tampered = token.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let other = keys("k2:another-key-of-at-least-thirty-two-byte");
        for bad in [tampered.as_str(), &token[..token.len() - 3], "", "u1...", "random", &other.issue(grant())] {
            assert_eq!(keys(K2).verify(bad), None, "{bad}");
        }
    }

    #[test]
    fn rotation_keeps_old_tokens_working_until_their_key_is_retired() {
        let old = keys(K1).issue(grant());
        let rotated = keys(&format!("{K2},{K1}"));
        assert!(rotated.verify(&old).is_some());
        assert!(rotated.issue(grant()).starts_with("u2.k2."));
        assert_eq!(keys(K2).verify(&old), None, "a retired key's tokens are dead");
    }

    #[test]
    fn p13_a_token_names_nobody_and_two_links_for_the_same_grant_differ() {
        let grant = grant();
        let (first, second) = (keys(K2).issue(grant), keys(K2).issue(grant));
        assert_ne!(first, second);
        for token in [&first, &second] {
            let sealed = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
            let id = grant.account.to_bytes();
            assert!(!sealed.windows(id.len()).any(|w| w == id), "the account id is readable in {token}");
            assert!(!token.contains(&grant.account.to_string()));
        }
    }

    #[test]
    fn a_sealed_token_cannot_be_moved_to_another_key_of_the_rotation() {
        let both = keys(&format!("{K2},{K1}"));
        let moved = both.issue(grant()).replacen("u2.k2.", "u2.k1.", 1);
        assert_eq!(both.verify(&moved), None);
    }

    /// A link in mail sent before tokens were sealed, made as that version made it.
    fn legacy_token(secret: &str, grant: Unsubscribe) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!(
            "{}|{}|{}",
            grant.account,
            grant.channel.as_str(),
            grant.issued_at.unix_timestamp()
        ));
        let signed = format!("u1.k1.{payload}");
        let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn p7_a_link_in_mail_sent_before_sealing_still_unsubscribes_and_cannot_be_altered() {
        let grant = grant();
        let token = legacy_token(&K1[3..], grant);
        assert_eq!(keys(K1).verify(&token), Some(grant));
        let other = Unsubscribe { account: AccountId::new(), ..grant };
        let (_, mac) = token.rsplit_once('.').unwrap();
        let (forged, _) =
            legacy_token(&K1[3..], other).rsplit_once('.').map(|(s, m)| (s.to_owned(), m.to_owned())).unwrap();
        assert_eq!(keys(K1).verify(&format!("{forged}.{mac}")), None);
        assert_eq!(keys(K2).verify(&token), None);
    }

    #[test]
    fn malformed_key_settings_are_refused() {
        for bad in ["", "k1", "k1:short", "bad id:first-key-of-at-least-thirty-two-bytes!"] {
            assert!(UnsubscribeKeys::parse(bad).is_err(), "{bad}");
        }
    }
}
