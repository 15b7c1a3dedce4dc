//! Bearer tokens: what `POST /sessions` hands out and every function checks.
//!
//! A token is a JWT signed with Ed25519 (`EdDSA`, RFC 8037) whose header names its key (`kid`):
//! the signup function alone holds the private key (SESSION_SIGNING_KEY, read from Secrets
//! Manager), every other function only the public keys (SESSION_PUBLIC_KEYS, not secret), so no
//! function but signup can mint a session, whatever else of it leaks. Two public keys are listed
//! during a rotation. The claims carry the account id, role, the account's session generation
//! and the session's own id, never contact data. Every authenticated request then checks the
//! claims against the account as it stands (`SessionStanding`, one read): a closed account, a
//! changed role, a newer generation (a password changed or reset, "log out everywhere") or this
//! session ended (logout) end it at once.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::accounts::account::Role;
use crate::kernel::ids::AccountId;

/// How long a session lasts: a working day of shopping, short enough that a stolen token dies soon.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error("SESSION_SIGNING_KEY must be {{\"kid\": …, \"private_key\": <base64 PKCS#8 Ed25519>}}")]
    PrivateKey,
    #[error("SESSION_PUBLIC_KEYS must list `kid:<base64url Ed25519 public key>` pairs, at least one")]
    PublicKeys,
}

/// The key that signs sessions, and its id. Only the signup function has it.
pub struct SessionSigner {
    kid: String,
    key: EncodingKey,
    public_key: Vec<u8>,
}

/// The public keys that check sessions, by id: every function that serves signed-in people.
#[derive(Clone)]
pub struct SessionKeys(Vec<(String, DecodingKey)>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateKeySecret {
    kid: String,
    private_key: String,
}

fn valid_kid(kid: &str) -> bool {
    (1..=32).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl SessionSigner {
    /// The secret `{"kid": "s1", "private_key": "<base64 PKCS#8 DER>"}`.
    pub fn from_secret(secret: &str) -> Result<Self, SessionKeyError> {
        let secret: PrivateKeySecret = serde_json::from_str(secret).map_err(|_| SessionKeyError::PrivateKey)?;
        let der = STANDARD.decode(secret.private_key.trim()).map_err(|_| SessionKeyError::PrivateKey)?;
        if !valid_kid(&secret.kid) {
            return Err(SessionKeyError::PrivateKey);
        }
        Self::from_pkcs8(secret.kid, &der)
    }

    /// A new key pair (for tests, and for the operator's key generation).
    pub fn generate(kid: &str) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // Generating a key pair fails only when the system has no randomness to give.
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("system randomness");
        Self::from_pkcs8(kid.to_owned(), pkcs8.as_ref()).expect("a key pair just generated")
    }

    /// A PKCS#8 key of either version (v1, as `openssl genpkey` and Python's `cryptography` write
    /// it, holds no public key), handed to the JWT library as the v2 document it reads.
    fn from_pkcs8(kid: String, der: &[u8]) -> Result<Self, SessionKeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| SessionKeyError::PrivateKey)?;
        let v2 = pair.to_pkcs8().map_err(|_| SessionKeyError::PrivateKey)?;
        Ok(Self { kid, key: EncodingKey::from_ed_der(v2.as_ref()), public_key: pair.public_key().as_ref().to_vec() })
    }

    /// This key's entry of SESSION_PUBLIC_KEYS: `kid:<base64url public key>`.
    pub fn public_entry(&self) -> String {
        format!("{}:{}", self.kid, URL_SAFE_NO_PAD.encode(&self.public_key))
    }

    /// The keys that check this signer's sessions, alone.
    pub fn verifying_keys(&self) -> SessionKeys {
        // An entry made from a valid key pair always parses.
        SessionKeys::parse(&self.public_entry()).expect("this signer's own public key")
    }

    pub fn issue(&self, account: AccountId, role: Role, generation: u32, now: OffsetDateTime) -> IssuedSession {
        let expires_at = now + SESSION_LIFETIME;
        let sid = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let claims =
            Claims { sub: account, role, generation, sid, iat: now.unix_timestamp(), exp: expires_at.unix_timestamp() };
        let header = Header { kid: Some(self.kid.clone()), ..Header::new(Algorithm::EdDSA) };
        // Signing claims of ids and integers with a key that parsed cannot fail.
        let token = jsonwebtoken::encode(&header, &claims, &self.key).unwrap_or_default();
        IssuedSession { token, expires_at }
    }
}

impl SessionKeys {
    /// `kid:<base64url public key>[,kid:<…>]`: every listed key verifies (two during a rotation).
    pub fn parse(setting: &str) -> Result<Self, SessionKeyError> {
        let mut keys = Vec::new();
        for entry in setting.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let (kid, public) = entry.split_once(':').ok_or(SessionKeyError::PublicKeys)?;
            let raw = URL_SAFE_NO_PAD.decode(public).map_err(|_| SessionKeyError::PublicKeys)?;
            if !valid_kid(kid) || raw.len() != 32 {
                return Err(SessionKeyError::PublicKeys);
            }
            keys.push((kid.to_owned(), DecodingKey::from_ed_der(&raw)));
        }
        if keys.is_empty() {
            return Err(SessionKeyError::PublicKeys);
        }
        Ok(Self(keys))
    }

    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Claims, SessionError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| SessionError::Invalid)?;
        let kid = header.kid.ok_or(SessionError::Invalid)?;
        let (_, key) = self.0.iter().find(|(id, _)| *id == kid).ok_or(SessionError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        validation.validate_aud = false;
        // The clock is the caller's (`now`), so expiry is judged below rather than by the library.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp".to_owned()].into();
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| SessionError::Invalid)?.claims;
        if claims.exp <= now.unix_timestamp() {
            return Err(SessionError::Expired);
        }
        Ok(claims)
    }
}

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

crate::kernel::newtype::redacted_debug!(SessionSigner);

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> &'static SessionSigner {
        static SIGNER: std::sync::OnceLock<SessionSigner> = std::sync::OnceLock::new();
        SIGNER.get_or_init(|| SessionSigner::generate("s1"))
    }

    fn keys() -> SessionKeys {
        signer().verifying_keys()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let account = AccountId::new();
        let session = signer().issue(account, Role::Customer, 0, now());
        let claims = keys().verify(&session.token, now() + Duration::hours(11)).unwrap();
        assert_eq!(claims.sub, account);
        assert_eq!(claims.role, Role::Customer);
        assert_eq!(keys().verify(&session.token, session.expires_at), Err(SessionError::Expired));
    }

    #[test]
    fn p12_a_token_signed_with_another_key_is_refused_even_under_the_same_key_id() {
        let other = SessionSigner::generate("s1");
        let session = other.issue(AccountId::new(), Role::Customer, 0, now());
        assert_eq!(keys().verify(&session.token, now()), Err(SessionError::Invalid));
    }

    #[test]
    fn during_a_rotation_both_keys_verify_and_a_key_no_longer_listed_does_not() {
        let next = SessionSigner::generate("s2");
        let both = SessionKeys::parse(&format!("{},{}", next.public_entry(), signer().public_entry())).unwrap();
        for issuer in [signer(), &next] {
            let session = issuer.issue(AccountId::new(), Role::Customer, 0, now());
            assert!(both.verify(&session.token, now()).is_ok());
        }
        let old = signer().issue(AccountId::new(), Role::Customer, 0, now());
        assert_eq!(next.verifying_keys().verify(&old.token, now()), Err(SessionError::Invalid), "s1 retired");
    }

    #[test]
    fn a_token_whose_claims_were_changed_is_refused() {
        let session = signer().issue(AccountId::new(), Role::Customer, 0, now());
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
        assert_eq!(keys().verify(&forged, now()), Err(SessionError::Invalid));
    }

    #[test]
    fn a_token_that_names_another_algorithm_is_refused() {
        let session = signer().issue(AccountId::new(), Role::Customer, 0, now());
        let parts: Vec<&str> = session.token.split('.').collect();
        for header in [r#"{"alg":"none","kid":"s1"}"#, r#"{"alg":"HS256","kid":"s1"}"#] {
            let token = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header), parts[1], parts[2]);
            assert_eq!(keys().verify(&token, now()), Err(SessionError::Invalid), "{header}");
            let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(header), parts[1]);
            assert_eq!(keys().verify(&unsigned, now()), Err(SessionError::Invalid), "{header}");
        }
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for token in ["", ".", "..", "v1..", "v1.x.y", "v2.e30.AAAA", "v1.e30", "😀.😀.😀", "e30.e30.e30"] {
            assert_eq!(keys().verify(token, now()), Err(SessionError::Invalid), "{token}");
        }
    }

    #[test]
    fn a_session_holds_while_its_account_has_its_role_and_generation_and_did_not_end_it() {
        let session = signer().issue(AccountId::new(), Role::Customer, 3, now());
        let claims = keys().verify(&session.token, now()).unwrap();
        let standing = SessionStanding { role: Role::Customer, generation: 3, ended: vec!["another".to_owned()] };
        assert!(claims.holds_for(Some(&standing)));
        assert!(!claims.holds_for(None), "a closed account");
        assert!(!claims.holds_for(Some(&SessionStanding { role: Role::Staff, ..standing.clone() })), "a new role");
        assert!(!claims.holds_for(Some(&SessionStanding { generation: 4, ..standing.clone() })), "a new generation");
        let ended = SessionStanding { ended: vec![claims.sid.clone()], ..standing };
        assert!(!claims.holds_for(Some(&ended)), "this session ended");
        let other = keys().verify(&signer().issue(claims.sub, Role::Customer, 3, now()).token, now()).unwrap();
        assert_ne!(other.sid, claims.sid, "each session its own id");
    }

    #[test]
    fn keys_are_read_from_their_settings_and_malformed_ones_refused() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let secret = serde_json::json!({ "kid": "s7", "private_key": STANDARD.encode(pkcs8.as_ref()) });
        let signer = SessionSigner::from_secret(&secret.to_string()).unwrap();
        assert!(signer.public_entry().starts_with("s7:"));
        let issued = signer.issue(AccountId::new(), Role::Customer, 0, now());
        assert!(signer.verifying_keys().verify(&issued.token, now()).is_ok(), "a v1 key signs");
        for bad in ["", "{}", r#"{"kid":"s7","private_key":"bm90IGEga2V5"}"#, r#"{"kid":"","private_key":""}"#] {
            assert!(SessionSigner::from_secret(bad).is_err(), "{bad}");
        }
        for bad in ["", "s1", "s1:", "s1:AAAA", ":AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "s 1:x"] {
            assert!(SessionKeys::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(format!("{signer:?}"), "SessionSigner(***)");
    }
}
