//! A customer's account: who they are, how to reach them, what they agreed to.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::accounts::contact::{Email, IranMobile};
use crate::accounts::password::PasswordHash;
use crate::accounts::person::FullName;
use crate::kernel::ids::AccountId;

/// What a session may do. Staff accounts are made by operators, never by signup.
///
/// One role per account, each a duty: `Staff` moderates reviews; `Legal` is the staff member
/// who answers legal requests (P3) and may export a person's data and read the audit trail of
/// such exports, and nothing else; `Fulfilment` sends orders and sees their recipients while it
/// does (P15) — so no duty comes with another's reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Staff,
    Legal,
    Fulfilment,
    /// Follows the invoices' way to the tax system and corrects the ones it rejects.
    Finance,
}

impl Role {
    /// The role as stored on the account and written in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::Legal => "legal",
            Self::Fulfilment => "fulfilment",
            Self::Finance => "finance",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Customer, Self::Staff, Self::Legal, Self::Fulfilment, Self::Finance]
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

/// Consent to marketing, per channel (P6, P7). Off unless the customer turned it on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketingConsent {
    pub email: bool,
    pub sms: bool,
}

/// Which version of the terms a customer accepted: a short label such as `1404-01`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsVersion(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a terms version")]
pub struct TermsVersionError;

impl crate::kernel::problem::Rejection for TermsVersionError {
    fn code(&self) -> &'static str {
        "terms-version-invalid"
    }
    fn message(&self) -> &'static str {
        "نسخهٔ قوانین معتبر نیست."
    }
}

impl TermsVersion {
    pub fn parse(input: &str) -> Result<Self, TermsVersionError> {
        let well_formed = !input.is_empty()
            && input.len() <= 32
            && input.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        well_formed.then(|| Self(input.to_owned())).ok_or(TermsVersionError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The record of a customer accepting the terms (P5): which version, when, from where (P14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsAcceptance {
    pub version: TermsVersion,
    pub accepted_at: OffsetDateTime,
    pub source_ip: Option<IpAddr>,
}

/// A signup request that passed every rule.
#[derive(Debug)]
pub struct Signup {
    pub email: Email,
    pub phone: IranMobile,
    pub full_name: FullName,
    pub password: crate::accounts::password::Password,
    pub terms_version: TermsVersion,
    pub marketing: MarketingConsent,
}

/// How long an account may wait for its email to be verified before it is removed: as long as
/// its verification link lives. Until then a new signup with the same email takes it over, so
/// nobody can hold someone else's email by signing up with it first.
pub const UNVERIFIED_ACCOUNT_LIFETIME: time::Duration = crate::accounts::verification::EMAIL_TOKEN_LIFETIME;

/// An account about to be stored: the password already hashed, the contacts awaiting
/// verification (P2, P9).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: AccountId,
    pub email: Email,
    pub phone: IranMobile,
    pub full_name: FullName,
    pub password_hash: PasswordHash,
    pub terms: TermsAcceptance,
    pub marketing: MarketingConsent,
    pub email_challenge: crate::accounts::verification::Challenge,
    pub phone_challenge: crate::accounts::verification::Challenge,
    pub created_at: OffsetDateTime,
    /// Removed then, with the hold on its email, unless the email is verified first.
    pub unverified_until: OffsetDateTime,
}

/// How to reach a customer, and which of those ways they have proven are theirs (P9).
#[derive(Debug, Clone)]
pub struct Contacts {
    pub id: AccountId,
    pub full_name: FullName,
    pub email: Email,
    pub email_verified: bool,
    pub phone: IranMobile,
    pub phone_verified: bool,
    pub marketing: MarketingConsent,
    /// The email the customer asked to change to, until its link is followed; the account's
    /// messages still go to `email` (P9).
    pub pending_email: Option<Email>,
    /// The mobile number the customer asked to change to, until its code is entered.
    pub pending_phone: Option<IranMobile>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_as_written() {
        for role in [Role::Customer, Role::Staff, Role::Legal, Role::Fulfilment, Role::Finance] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::json!(role.as_str()));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn p5_a_terms_version_is_a_short_label() {
        assert_eq!(TermsVersion::parse("1404-01").unwrap().as_str(), "1404-01");
        for bad in ["", "1404 01", "../etc", &"x".repeat(33), "۱۴۰۴"] {
            assert_eq!(TermsVersion::parse(bad), Err(TermsVersionError), "{bad}");
        }
    }
}
