//! Bearer tokens: what `POST /sessions` hands out and every function checks.
//!
//! A token is `v1.<claims>.<mac>`: base64url JSON claims and an HMAC-SHA256 over `v1.<claims>`
//! with the session key, so any function verifies it with the key alone; the claims carry the
//! account id, role, the account's session generation and the session's own id, never contact
//! data. Every authenticated request then checks the claims against the account as it stands
//! (`SessionStanding`, one read): a closed account, a changed role, a newer generation (a
//! password changed or reset, "log out everywhere") or this session ended (logout) end it at once.

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
    /// The account's session generation when it was issued.
    pub generation: u32,
    /// This session's own id, by which it alone is ended.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

/// What an account says of its sessions now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStanding {
    pub role: Role,
    /// Moved on by a password change or reset and by "log out everywhere": every session issued
    /// before ends.
    pub generation: u32,
    /// The ids of sessions ended one by one (logout) that have not expired yet.
    pub ended: Vec<String>,
}

impl Claims {
    /// Whether the session still holds for its account as it stands now (`None` once closed).
    /// Signing in again gives a session of the new role or generation.
    pub fn holds_for(&self, standing: Option<&SessionStanding>) -> bool {
        standing.is_some_and(|standing| {
            standing.role == self.role && standing.generation == self.generation && !standing.ended.contains(&self.sid)
        })
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

    pub fn issue(&self, account: AccountId, role: Role, generation: u32, now: OffsetDateTime) -> IssuedSession {
        let expires_at = now + SESSION_LIFETIME;
        let sid = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let claims =
            Claims { sub: account, role, generation, sid, iat: now.unix_timestamp(), exp: expires_at.unix_timestamp() };
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
        let session = key().issue(account, Role::Customer, 0, now());
        let claims = key().verify(&session.token, now() + Duration::hours(11)).unwrap();
        assert_eq!(claims.sub, account);
        assert_eq!(claims.role, Role::Customer);
        assert_eq!(key().verify(&session.token, session.expires_at), Err(SessionError::Expired));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = SessionKey::new(b"another-key-of-thirty-two-bytes!").unwrap();
        let session = other.issue(AccountId::new(), Role::Customer, 0, now());
        assert_eq!(key().verify(&session.token, now()), Err(SessionError::Invalid));
    }

    #[test]
    fn a_token_whose_claims_were_changed_is_refused() {
        let session = key().issue(AccountId::new(), Role::Customer, 0, now());
        let parts: Vec<&str> = session.token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                sub: AccountId::new(),
                role: Role::Staff,
                generation: 0,
                sid: "forged".to_owned(),
                iat: 0,
                exp: i64::MAX,
            })
            .unwrap(),
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
    fn a_session_holds_while_its_account_has_its_role_and_generation_and_did_not_end_it() {
        let session = key().issue(AccountId::new(), Role::Customer, 3, now());
        let claims = key().verify(&session.token, now()).unwrap();
        let standing = SessionStanding { role: Role::Customer, generation: 3, ended: vec!["another".to_owned()] };
        assert!(claims.holds_for(Some(&standing)));
        assert!(!claims.holds_for(None), "a closed account");
        assert!(!claims.holds_for(Some(&SessionStanding { role: Role::Staff, ..standing.clone() })), "a new role");
        assert!(!claims.holds_for(Some(&SessionStanding { generation: 4, ..standing.clone() })), "a new generation");
        let ended = SessionStanding { ended: vec![claims.sid.clone()], ..standing };
        assert!(!claims.holds_for(Some(&ended)), "this session ended");
        let other = key().verify(&key().issue(claims.sub, Role::Customer, 3, now()).token, now()).unwrap();
        assert_ne!(other.sid, claims.sid, "each session its own id");
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(SessionKey::new(b"short").is_err());
    }
}
