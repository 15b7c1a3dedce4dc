//! What a legal export reads, in memory: the other contexts' fakes answer its lookups too, and
//! an audit trail that keeps what it is given, or refuses it as an unwritable table does.

use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::accounts::contact::{Email, IranMobile};
use crate::accounts::testing::InMemoryAccounts;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId, ReviewId};
use crate::kernel::ports::IpRecord;
use crate::kernel::testing::RecordedIps;
use crate::ordering::identity::NationalCode;
use crate::ordering::order::{Buyer, StoredOrder};
use crate::ordering::testing::InMemoryShop;
use crate::privacy::account_record::AccountRecord;
use crate::privacy::audit::AuditRecord;
use crate::privacy::ports::{AccountRecords, AuditTrail, IpHistory, OrderRecords, ReviewHistory};
use crate::reviewing::review::Version;
use crate::reviewing::testing::InMemoryReviews;

impl AccountRecords for InMemoryAccounts {
    async fn account_ids_for_phone(&self, phone: &IranMobile) -> Result<Vec<AccountId>, StoreError> {
        let mut ids: Vec<AccountId> =
            self.all().into_iter().filter(|account| &account.phone == phone).map(|account| account.id).collect();
        ids.extend(self.closed_holding(|_, held| held == phone));
        Ok(ids)
    }

    async fn closed_account_ids_for_email(&self, email: &Email) -> Result<Vec<AccountId>, StoreError> {
        Ok(self.closed_holding(|held, _| held == email))
    }

    async fn legal_record(&self, id: AccountId) -> Result<Option<AccountRecord>, StoreError> {
        Ok(self.all().into_iter().find(|account| account.id == id).map(|account| AccountRecord {
            id,
            role: Some(crate::accounts::account::Role::Customer),
            full_name: Some(account.full_name),
            email: Some(account.email),
            email_verified: false,
            phone: Some(account.phone),
            phone_verified: false,
            pending_email: None,
            pending_phone: None,
            marketing: account.marketing,
            terms: Some(account.terms),
            created_at: Some(account.created_at),
            consent_history: Vec::new(),
            closed_at: None,
        }))
    }

    async fn closed_at(&self, id: AccountId) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(InMemoryAccounts::closed_at(self, id))
    }
}

impl OrderRecords for InMemoryShop {
    async fn orders_with_buyer_code(&self, code: &NationalCode) -> Result<Vec<OrderId>, StoreError> {
        Ok(self
            .all_orders()
            .into_iter()
            .filter(|stored| match &stored.order.buyer {
                Buyer::Natural { national_code, .. } => national_code == code,
                Buyer::Legal { national_id, .. } => national_id.as_str() == code.as_str(),
            })
            .map(|stored| stored.order.id)
            .collect())
    }

    async fn order_ids_of(&self, account: AccountId) -> Result<Vec<OrderId>, StoreError> {
        Ok(self.all_orders().into_iter().filter(|s| s.order.account == account).map(|s| s.order.id).collect())
    }

    async fn with_recipient(&self, id: OrderId) -> Result<Option<StoredOrder>, StoreError> {
        Ok(self.all_orders().into_iter().find(|stored| stored.order.id == id))
    }
}

impl ReviewHistory for InMemoryReviews {
    async fn history(&self, id: ReviewId) -> Result<Vec<Version>, StoreError> {
        Ok(InMemoryReviews::history(self, id))
    }
}

impl IpHistory for RecordedIps {
    async fn of_account(&self, account: AccountId, _now: OffsetDateTime) -> Result<Vec<IpRecord>, StoreError> {
        Ok(self
            .records()
            .into_iter()
            .filter(|(owner, ..)| *owner == account)
            .map(|(_, request, ip, at)| IpRecord { at, request, ip })
            .collect())
    }
}

/// The audit table: every record appended; `down` refuses them all.
#[derive(Default)]
pub struct RecordedAudit {
    records: Mutex<Vec<AuditRecord>>,
    pub down: bool,
}

impl RecordedAudit {
    pub fn down() -> Self {
        Self { down: true, ..Self::default() }
    }

    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl AuditTrail for RecordedAudit {
    async fn append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        if self.down {
            return Err(StoreError::Unavailable("ResourceNotFoundException".into()));
        }
        self.records.lock().unwrap_or_else(PoisonError::into_inner).push(record.clone());
        Ok(())
    }
}
