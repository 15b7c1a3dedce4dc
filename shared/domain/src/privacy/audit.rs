//! The audit trail of legal requests (P3): one append-only record per disclosure and per
//! refused attempt — who, when, from where, which request, whose data, which categories.
//!
//! The record must say whose data went out, yet must not become one more copy of it: the
//! subject is kept as its kind, a keyed hash (HMAC-SHA256 with AUDIT_SUBJECT_KEY, so an auditor
//! who holds the key can check "was X's data disclosed?" and records about one subject can be
//! linked, while a copy of the table alone reveals nothing) and a masked form; and the opaque
//! ids of the accounts whose data went out. Authority and reference are the authority's, not
//! the subject's, and are kept in clear.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::accounts::account::Role;
use crate::kernel::clock::timestamp;
use crate::kernel::ids::AccountId;
use crate::kernel::paging::PageSizes;
use crate::kernel::solar_hijri::SolarDate;
use crate::privacy::subject::{Subject, SubjectKind};

/// Which legal route was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `POST /admin/legal-exports`.
    Export,
    /// `GET /admin/legal-exports`.
    List,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::List => "list",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Export, Self::List].into_iter().find(|a| a.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The document went out.
    Disclosed,
    /// The caller lacked the legal role: nothing went out.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disclosed => "disclosed",
            Self::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Disclosed, Self::Refused].into_iter().find(|o| o.as_str() == text)
    }
}

/// Whose data was asked for, without the value in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedSubject {
    pub kind: SubjectKind,
    pub fingerprint: String,
    pub masked: String,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: uuid::Uuid,
    pub at: OffsetDateTime,
    pub actor: AccountId,
    pub actor_role: Role,
    /// The caller's address (P14): part of knowing who asked.
    pub source_ip: Option<IpAddr>,
    pub action: Action,
    pub outcome: Outcome,
    pub authority: Option<String>,
    pub reference: Option<String>,
    pub request_date: Option<SolarDate>,
    pub subject: Option<AuditedSubject>,
    /// The accounts whose data went out (empty for a refusal).
    pub accounts: Vec<AccountId>,
    /// Items disclosed per category (empty for a refusal).
    pub categories: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("the audit subject key must be at least 32 bytes")]
pub struct SubjectKeyError;

/// The key of the subjects' keyed hashes (AUDIT_SUBJECT_KEY).
#[derive(Clone)]
pub struct SubjectKey(Hmac<Sha256>);

impl SubjectKey {
    pub fn new(secret: &[u8]) -> Result<Self, SubjectKeyError> {
        if secret.len() < 32 {
            return Err(SubjectKeyError);
        }
        Hmac::new_from_slice(secret).map(Self).map_err(|_| SubjectKeyError)
    }

    /// `HMAC(kind ‖ 0 ‖ canonical value)`, base64url: the same subject always hashes alike,
    /// whatever form it was typed in, and an email never collides with a phone.
    pub fn fingerprint(&self, subject: &Subject) -> String {
        let mut mac = self.0.clone();
        mac.update(subject.kind().as_str().as_bytes());
        mac.update(b"\0");
        mac.update(subject.canonical().as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// The record as the listing shows it to the legal role.
pub fn view(record: &AuditRecord) -> Value {
    json!({
        "audit_id": record.id,
        "at": timestamp(record.at),
        "actor_account_id": record.actor,
        "actor_role": record.actor_role.as_str(),
        "source_ip": record.source_ip.map(|ip| ip.to_string()),
        "action": record.action.as_str(),
        "outcome": record.outcome.as_str(),
        "authority": record.authority,
        "reference": record.reference,
        "request_date": record.request_date.map(|d| d.to_string()),
        "subject": record.subject.as_ref().map(|s| json!({
            "kind": s.kind.as_str(), "fingerprint": s.fingerprint, "masked": s.masked,
        })),
        "accounts": record.accounts,
        "categories": record.categories,
    })
}

/// The trail's listing pages hold at most 100 records.
pub const AUDIT_PAGES: PageSizes =
    PageSizes { max: 100, out_of_range: "تعداد در هر صفحه باید بین ۱ تا ۱۰۰ باشد." };

crate::kernel::newtype::redacted_debug!(SubjectKey);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::contact::{Email, IranMobile};

    fn key() -> SubjectKey {
        SubjectKey::new(b"a-test-key-of-thirty-two-bytes!!").unwrap()
    }

    #[test]
    fn p3_a_subject_hashes_alike_however_it_was_typed_and_never_in_clear() {
        let typed = Subject::Phone(IranMobile::parse("۰۹۱۲ ۳۴۵ ۶۷۸۹").unwrap());
        let canonical = Subject::Phone(IranMobile::parse("+989123456789").unwrap());
        assert_eq!(key().fingerprint(&typed), key().fingerprint(&canonical));
        assert!(!key().fingerprint(&typed).contains("9123456789"));
        let other_key = SubjectKey::new(b"another-key-of-thirty-two-bytes!").unwrap();
        assert_ne!(key().fingerprint(&typed), other_key.fingerprint(&typed));
        let email = Subject::Email(Email::parse("a@example.com").unwrap());
        assert_ne!(key().fingerprint(&email), key().fingerprint(&typed));
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(SubjectKey::new(b"short").is_err());
    }

    #[test]
    fn actions_and_outcomes_read_back_as_written() {
        for action in [Action::Export, Action::List] {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        for outcome in [Outcome::Disclosed, Outcome::Refused] {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
    }

    #[test]
    fn the_trails_page_bound_is_told_in_persian_digits() {
        let bound = crate::kernel::persian_format::persian_digits(&AUDIT_PAGES.max.to_string());
        assert!(AUDIT_PAGES.out_of_range.contains(&bound));
    }
}
