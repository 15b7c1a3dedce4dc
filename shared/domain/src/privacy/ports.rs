//! What a legal export reads of every table, and the audit trail it writes (P3). Implemented in
//! `mizan-aws`; `privacy::testing` keeps them in memory.

use time::OffsetDateTime;

use crate::accounts::contact::{Email, IranMobile};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId, ReviewId};
use crate::kernel::ports::IpRecord;
use crate::ordering::identity::NationalCode;
use crate::ordering::order::StoredOrder;
use crate::privacy::account_record::AccountRecord;
use crate::privacy::audit::AuditRecord;
use crate::reviewing::review::Version;

/// An account as a legal export discloses it, and the lookups only such an export makes.
pub trait AccountRecords {
    /// The accounts that hold this phone, and the closed ones that held it last.
    async fn account_ids_for_phone(&self, phone: &IranMobile) -> Result<Vec<AccountId>, StoreError>;

    /// The closed accounts whose email this was when they closed (an open account's email is
    /// found by `AccountStore::account_id_for`).
    async fn closed_account_ids_for_email(&self, email: &Email) -> Result<Vec<AccountId>, StoreError>;

    /// Everything the account holds except credentials and verification hashes.
    async fn legal_record(&self, id: AccountId) -> Result<Option<AccountRecord>, StoreError>;

    /// When the account was closed, if it was.
    async fn closed_at(&self, id: AccountId) -> Result<Option<OffsetDateTime>, StoreError>;
}

pub trait OrderRecords {
    /// The orders whose buyer has this national code (or national id).
    async fn orders_with_buyer_code(&self, code: &NationalCode) -> Result<Vec<OrderId>, StoreError>;

    async fn order_ids_of(&self, account: AccountId) -> Result<Vec<OrderId>, StoreError>;

    /// The order with its recipient, while the recipient is kept (P15).
    async fn with_recipient(&self, id: OrderId) -> Result<Option<StoredOrder>, StoreError>;
}

/// Every version of a review, oldest first (P10, P11).
pub trait ReviewHistory {
    async fn history(&self, id: ReviewId) -> Result<Vec<Version>, StoreError>;
}

/// The source addresses kept for an account, oldest first; none past their period (P14).
pub trait IpHistory {
    async fn of_account(&self, account: AccountId, now: OffsetDateTime) -> Result<Vec<IpRecord>, StoreError>;
}

/// The append-only trail of legal requests.
pub trait AuditTrail {
    /// Adds a record; never overwrites one.
    async fn append(&self, record: &AuditRecord) -> Result<(), StoreError>;
}
