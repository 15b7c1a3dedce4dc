//! Bearer tokens: what `POST /sessions` hands out and every function checks.
//!
//! A token is `v1.<claims>.<mac>`: base64url JSON claims and an HMAC-SHA256 over `v1.<claims>`
//! with the session key. It is stateless, so any function verifies it with the key alone and no
//! table read; the claims carry the account id and role only, never contact data.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::accounts::account::Role;
use crate::kernel::ids::AccountId;

/// How long a session lasts: a working day of shopping, short enough that a stolen token dies soon.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
const VERSION: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error("the session signing key must be at least 32 bytes")]
    TooShort,
}

/// The key that signs and checks session tokens (SESSION_SIGNING_KEY).
#[derive(Clone)]
pub struct SessionKey(Hmac<Sha256>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: AccountId,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    /// Whether the session still holds for its account as it stands now (`None` once closed):
    /// tokens are stateless, so a closed account's sessions end at once, and so does a session
    /// whose role was granted or withdrawn since it was issued (signing in again gives the new
    /// one).
    pub fn holds_for(&self, current_role: Option<Role>) -> bool {
        current_role == Some(self.role)
    }
}

/// A freshly issued token and when it stops working.
pub struct IssuedSession {
    pub token: String,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the token is not one of ours")]
    Invalid,
    #[error("the token has expired")]
    Expired,
}

impl SessionKey {
    pub fn new(secret: &[u8]) -> Result<Self, SessionKeyError> {
        if secret.len() < 32 {
            return Err(SessionKeyError::TooShort);
        }
        Hmac::new_from_slice(secret).map(Self).map_err(|_| SessionKeyError::TooShort)
    }

    pub fn issue(&self, account: AccountId, role: Role, now: OffsetDateTime) -> IssuedSession {
        let expires_at = now + SESSION_LIFETIME;
        let claims = Claims { sub: account, role, iat: now.unix_timestamp(), exp: expires_at.unix_timestamp() };
        // Serialising a struct of ids and integers cannot fail.
        let json = serde_json::to_vec(&claims).unwrap_or_default();
        let signed = format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(json));
        let mac = URL_SAFE_NO_PAD.encode(self.mac(signed.as_bytes()));
        IssuedSession { token: format!("{signed}.{mac}"), expires_at }
    }

    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Claims, SessionError> {
        let (signed, mac) = token.rsplit_once('.').ok_or(SessionError::Invalid)?;
        let (version, payload) = signed.split_once('.').ok_or(SessionError::Invalid)?;
        if version != VERSION {
            return Err(SessionError::Invalid);
        }
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| SessionError::Invalid)?;
        let mut check = self.0.clone();
        check.update(signed.as_bytes());
        check.verify_slice(&mac).map_err(|_| SessionError::Invalid)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SessionError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| SessionError::Invalid)?;
        if claims.exp <= now.unix_timestamp() {
            return Err(SessionError::Expired);
        }
        Ok(claims)
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = self.0.clone();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
}

crate::kernel::newtype::redacted_debug!(SessionKey);

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::new(b"a-test-key-of-thirty-two-bytes!!").unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let account = AccountId::new();
        let session = key().issue(account, Role::Customer, now());
        let claims = key().verify(&session.token, now() + Duration::hours(11)).unwrap();
        assert_eq!(claims.sub, account);
        assert_eq!(claims.role, Role::Customer);
        assert_eq!(key().verify(&session.token, session.expires_at), Err(SessionError::Expired));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = SessionKey::new(b"another-key-of-thirty-two-bytes!").unwrap();
        let session = other.issue(AccountId::new(), Role::Customer, now());
        assert_eq!(key().verify(&session.token, now()), Err(SessionError::Invalid));
    }

    #[test]
    fn a_token_whose_claims_were_changed_is_refused() {
        let session = key().issue(AccountId::new(), Role::Customer, now());
        let parts: Vec<&str> = session.token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims { sub: AccountId::new(), role: Role::Staff, iat: 0, exp: i64::MAX }).unwrap(),
        );
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(key().verify(&forged, now()), Err(SessionError::Invalid));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for token in ["", ".", "..", "v1..", "v1.x.y", "v2.e30.AAAA", "v1.e30", "😀.😀.😀"] {
            assert_eq!(key().verify(token, now()), Err(SessionError::Invalid), "{token}");
        }
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(SessionKey::new(b"short").is_err());
    }
}
