//! An account as a legal export discloses it (P3): everything but credentials.

use time::OffsetDateTime;

use crate::accounts::account::{MarketingConsent, Role, TermsAcceptance};
use crate::accounts::contact::{Email, IranMobile};
use crate::accounts::person::FullName;
use crate::kernel::ids::AccountId;

/// One change of marketing consent, as recorded on the account (P7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    pub channel: String,
    pub old: bool,
    pub new: bool,
    pub source: String,
    pub at: OffsetDateTime,
}

/// An account as the export reads it: everything but credentials (the password hash and the
/// verification hashes are no information about the person, and would only arm whoever holds
/// the document). Contacts are optional: a closed account has them erased.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: AccountId,
    /// `None` for a closed account: its role went with it.
    pub role: Option<Role>,
    pub full_name: Option<FullName>,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub phone: Option<IranMobile>,
    pub phone_verified: bool,
    /// A contact the customer asked to change to and has not proven yet: held, so disclosed.
    pub pending_email: Option<Email>,
    pub pending_phone: Option<IranMobile>,
    pub marketing: MarketingConsent,
    pub terms: Option<TermsAcceptance>,
    pub created_at: Option<OffsetDateTime>,
    pub consent_history: Vec<ConsentChange>,
    /// Set once the account is closed: then nothing else of the record is left.
    pub closed_at: Option<OffsetDateTime>,
}

impl AccountRecord {
    /// What is left of a closed account: its id and when it was closed.
    pub fn closed(id: AccountId, closed_at: OffsetDateTime) -> Self {
        Self {
            id,
            role: None,
            full_name: None,
            email: None,
            email_verified: false,
            phone: None,
            phone_verified: false,
            pending_email: None,
            pending_phone: None,
            marketing: MarketingConsent::default(),
            terms: None,
            created_at: None,
            consent_history: Vec::new(),
            closed_at: Some(closed_at),
        }
    }
}
