//! Consent to marketing (P6, P7): the unforgeable links that withdraw it with one click, and
//! the record of every change.
//!
//! An unsubscribe token is `u1.<key id>.<payload>.<mac>`: the payload names the account, the
//! channel and when the token was made; the MAC (HMAC-SHA256) is over everything before it, with
//! the key the id names. Keys rotate: the first of UNSUBSCRIBE_KEYS signs, every listed key
//! verifies, and a key dropped from the list retires every token it signed.

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

const VERSION: &str = "u1";

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

/// The keys that sign and check unsubscribe tokens: the first signs, all verify.
#[derive(Clone)]
pub struct UnsubscribeKeys {
    signing: (String, Hmac<Sha256>),
    verifying: Vec<(String, Hmac<Sha256>)>,
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
            let mac = Hmac::new_from_slice(secret.as_bytes()).map_err(|_| KeysError::Malformed)?;
            keys.push((id.to_owned(), mac));
        }
        let signing = keys.first().cloned().ok_or(KeysError::Empty)?;
        Ok(Self { signing, verifying: keys })
    }

    pub fn issue(&self, unsubscribe: Unsubscribe) -> String {
        let (id, key) = &self.signing;
        let channel = unsubscribe.channel.as_str();
        let payload = URL_SAFE_NO_PAD.encode(format!(
            "{}|{channel}|{}",
            unsubscribe.account,
            unsubscribe.issued_at.unix_timestamp()
        ));
        let signed = format!("{VERSION}.{id}.{payload}");
        let mut mac = key.clone();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// What a token grants, if it is one of ours signed with a key still in service.
    pub fn verify(&self, token: &str) -> Option<Unsubscribe> {
        let (signed, mac) = token.rsplit_once('.')?;
        let mut parts = signed.splitn(3, '.');
        let (version, id, payload) = (parts.next()?, parts.next()?, parts.next()?);
        if version != VERSION {
            return None;
        }
        let (_, key) = self.verifying.iter().find(|(key_id, _)| key_id == id)?;
        let mut check = key.clone();
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
        assert!(rotated.issue(grant()).starts_with("u1.k2."));
        assert_eq!(keys(K2).verify(&old), None, "a retired key's tokens are dead");
    }

    #[test]
    fn malformed_key_settings_are_refused() {
        for bad in ["", "k1", "k1:short", "bad id:first-key-of-at-least-thirty-two-bytes!"] {
            assert!(UnsubscribeKeys::parse(bad).is_err(), "{bad}");
        }
    }
}
