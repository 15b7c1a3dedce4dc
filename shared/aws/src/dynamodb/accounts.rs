//! The accounts table: profiles, credentials, verification state and login throttling.
//!
//! Items (partition key `pk`):
//! - `ACCOUNT#<account id>`: the account — contacts, password hash, terms acceptance, consent,
//!   and the open verification challenges; a contact change waiting for its proof
//!   (`pending_email` or `pending_phone`, with its challenge); until its email is verified it
//!   carries `expires_at` (TTL), so an account nobody verifies goes away by itself;
//! - `EMAIL#<email>`: the guard that makes an email belong to one account, pointing to it, with
//!   the same `expires_at` until that account verifies the email;
//! - `LIMIT#<limit>#<keyed hash of what it counts>#<window>`: an abuse limit's count in one
//!   window (password guesses per email, signups per address, SMS per phone…), expiring by TTL;
//! - `CLOSED#<account id>`: a closed account — when, and nothing else.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::outbox::{self, OutboxTable};
use super::{
    Item, conditional, every_page, get_bool, get_n, get_parsed, get_s, get_time, is_condition_failure, n,
    optional_parsed, s, time,
};
use mizan::accounts::abuse_limits::Window;
use mizan::accounts::account::{Contacts, MarketingConsent, NewAccount, Role, TermsAcceptance, TermsVersion};
use mizan::accounts::consent::Source;
use mizan::accounts::consent::{Channel, HISTORY_KEPT};
use mizan::accounts::contact::{Email, IranMobile};
use mizan::accounts::contact_change::{NewContact, PendingChange};
use mizan::accounts::contact_lookup::{ContactHash, ContactLookupKey};
use mizan::accounts::password::PasswordHash;
use mizan::accounts::person::FullName;
use mizan::accounts::ports::ConsentStore;
use mizan::accounts::ports::Counters;
use mizan::accounts::ports::{AccountStore, ChangeCompletion, Credentials, LinkWithdrawal, Registration};
use mizan::accounts::session::SessionStanding;
use mizan::accounts::verification::{self, Challenge, ContactKind};
use mizan::kernel::events::Envelope;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::messaging::campaign::AudienceCursor;
use mizan::messaging::ports::CampaignAudience;
use mizan::privacy::account_record::{AccountRecord, ConsentChange};
use mizan::privacy::ports::AccountRecords;
use mizan::reviewing::ports::Reviewers;

#[derive(Debug, Clone)]
pub struct AccountsTable {
    client: Client,
    table: String,
    outbox: Option<OutboxTable>,
    contact_lookup: Option<ContactLookupKey>,
}

fn account_key(id: AccountId) -> String {
    format!("ACCOUNT#{id}")
}

/// The sparse index of accounts that consent to marketing on some channel: the attribute is set
/// while either channel is on, and absent otherwise.
const BY_CAMPAIGN_AUDIENCE: &str = "ByCampaignAudience";
const CAMPAIGN_AUDIENCE: &str = "campaign_audience";
/// The keyed hash of an account's phone (and of a closed account's last one), and its index.
const PHONE_LOOKUP: &str = "phone_lookup";
const BY_PHONE_LOOKUP: &str = "ByPhoneLookup";
/// The keyed hash of a closed account's last email, and its index.
const EMAIL_LOOKUP: &str = "email_lookup";
const BY_EMAIL_LOOKUP: &str = "ByEmailLookup";
const CAMPAIGN_AUDIENCE_VALUE: &str = "marketing";

fn closed_key(id: AccountId) -> String {
    format!("CLOSED#{id}")
}

fn email_key(email: &Email) -> String {
    format!("EMAIL#{}", email.as_str())
}

fn counter_key(key: &str, window: Window) -> String {
    format!("LIMIT#{key}#{}", window.index)
}

fn challenge_attributes(kind: ContactKind) -> (&'static str, &'static str, &'static str, &'static str) {
    match kind {
        ContactKind::Email => {
            ("email_challenge_hash", "email_challenge_expires_at", "email_challenge_attempts", "email_verified")
        }
        ContactKind::Phone => {
            ("phone_challenge_hash", "phone_challenge_expires_at", "phone_challenge_attempts", "phone_verified")
        }
    }
}

/// The attributes of a contact change waiting: the new contact, its challenge's hash, expiry and
/// attempts.
fn change_attributes(kind: ContactKind) -> (&'static str, &'static str, &'static str, &'static str) {
    match kind {
        ContactKind::Email => {
            ("pending_email", "pending_email_hash", "pending_email_expires_at", "pending_email_attempts")
        }
        ContactKind::Phone => {
            ("pending_phone", "pending_phone_hash", "pending_phone_expires_at", "pending_phone_attempts")
        }
    }
}

/// What setting a password removes beside: the open reset and any contact change waiting, so an
/// owner who takes their account back also stops a change they did not ask for.
const DROPPED_WITH_A_NEW_PASSWORD: &str = "reset_hash, reset_expires_at, \
    pending_email, pending_email_hash, pending_email_expires_at, pending_email_attempts, \
    pending_phone, pending_phone_hash, pending_phone_expires_at, pending_phone_attempts";

fn build_error(what: &'static str) -> impl Fn(aws_sdk_dynamodb::error::BuildError) -> StoreError {
    move |e| StoreError::Failed(format!("build-{what}: {e}"))
}

impl AccountsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), outbox: None, contact_lookup: None }
    }

    /// The table as signup writes contacts and privacy looks them up: with the key of their
    /// lookup hashes.
    pub fn with_contact_lookup(self, key: ContactLookupKey) -> Self {
        Self { contact_lookup: Some(key), ..self }
    }

    fn contact_lookup(&self) -> Result<&ContactLookupKey, StoreError> {
        self.contact_lookup
            .as_ref()
            .ok_or_else(|| StoreError::Failed("no contact lookup key: CONTACT_LOOKUP_KEY".into()))
    }

    /// The table as signup uses it: registering and closing keep their events in `outbox`.
    pub fn with_outbox(self, outbox: OutboxTable) -> Self {
        Self { outbox: Some(outbox), ..self }
    }

    async fn get(&self, key: String, projection: &str) -> Result<Option<Item>, StoreError> {
        let mut request =
            self.client.get_item().table_name(&self.table).key("pk", s(key)).projection_expression(projection);
        if projection.contains("#role") {
            request = request.expression_attribute_names("#role", "role");
        }
        let answer = request.consistent_read(true).send().await.map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(answer.item)
    }
}

fn read_role(item: &Item) -> Result<Role, StoreError> {
    Role::parse(get_s(item, "role")?).ok_or(StoreError::Corrupt("role"))
}

/// 0 until the account's sessions were first ended all at once.
fn session_generation(item: &Item) -> Result<u32, StoreError> {
    if item.contains_key("session_generation") { get_n(item, "session_generation") } else { Ok(0) }
}

/// The sessions ended one by one: `(sid, expiry in Unix seconds)`; an unreadable entry is
/// skipped (it ends nothing).
fn ended_sessions(item: &Item) -> Vec<(&str, i64)> {
    let entries = item.get("ended_sessions").and_then(|v| v.as_ss().ok());
    entries
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let (expires, sid) = entry.split_once(':')?;
            Some((sid, expires.parse().ok()?))
        })
        .collect()
}

fn read_consent_change(value: &AttributeValue) -> Result<ConsentChange, StoreError> {
    let change = value.as_m().map_err(|_| StoreError::Corrupt("consent_history"))?;
    let flag =
        |name: &'static str| change.get(name).and_then(|v| v.as_bool().ok()).copied().ok_or(StoreError::Corrupt(name));
    Ok(ConsentChange {
        channel: get_s(change, "channel")?.to_owned(),
        old: flag("old")?,
        new: flag("new")?,
        source: get_s(change, "source")?.to_owned(),
        at: get_time(change, "at")?,
    })
}

fn read_contacts(item: &Item) -> Result<Contacts, StoreError> {
    Ok(Contacts {
        id: get_parsed(item, "account_id", |t| AccountId::parse(t).ok_or(()))?,
        full_name: get_parsed(item, "full_name", FullName::parse)?,
        email: get_parsed(item, "email", Email::parse)?,
        email_verified: get_bool(item, "email_verified")?,
        phone: get_parsed(item, "phone", IranMobile::parse)?,
        phone_verified: get_bool(item, "phone_verified")?,
        marketing: MarketingConsent {
            email: get_bool(item, "marketing_email")?,
            sms: get_bool(item, "marketing_sms")?,
        },
        pending_email: optional_parsed(item, "pending_email", Email::parse)?,
        pending_phone: optional_parsed(item, "pending_phone", IranMobile::parse)?,
    })
}

fn account_item(account: &NewAccount, lookup: &ContactLookupKey) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(account_key(account.id))),
        ("account_id".to_owned(), s(account.id.to_string())),
        ("role".to_owned(), s("customer")),
        ("email".to_owned(), s(account.email.as_str())),
        ("phone".to_owned(), s(account.phone.as_e164())),
        (PHONE_LOOKUP.to_owned(), s(lookup.phone(&account.phone).as_str())),
        ("full_name".to_owned(), s(account.full_name.as_str())),
        ("password_hash".to_owned(), s(account.password_hash.as_phc())),
        ("email_verified".to_owned(), aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
        ("phone_verified".to_owned(), aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
        ("marketing_email".to_owned(), aws_sdk_dynamodb::types::AttributeValue::Bool(account.marketing.email)),
        ("marketing_sms".to_owned(), aws_sdk_dynamodb::types::AttributeValue::Bool(account.marketing.sms)),
        ("terms_version".to_owned(), s(account.terms.version.as_str())),
        ("terms_accepted_at".to_owned(), time(account.terms.accepted_at)),
        ("created_at".to_owned(), time(account.created_at)),
        ("expires_at".to_owned(), time(account.unverified_until)),
    ]);
    if let Some(ip) = account.terms.source_ip {
        item.insert("terms_source_ip".to_owned(), s(ip.to_string()));
    }
    if account.marketing.email || account.marketing.sms {
        item.insert(CAMPAIGN_AUDIENCE.to_owned(), s(CAMPAIGN_AUDIENCE_VALUE));
    }
    for (kind, challenge) in
        [(ContactKind::Email, &account.email_challenge), (ContactKind::Phone, &account.phone_challenge)]
    {
        let (hash, expires_at, attempts, _) = challenge_attributes(kind);
        item.insert(hash.to_owned(), s(&challenge.hash));
        item.insert(expires_at.to_owned(), time(challenge.expires_at));
        item.insert(attempts.to_owned(), n(challenge.attempts));
    }
    item
}

/// How often a signup re-reads who holds its email when a concurrent signup or verification
/// moved it in between; past that the request fails and is retried by its sender.
const REGISTER_ROUNDS: usize = 3;

impl AccountsTable {
    /// Whether the account verified its email; `None` once it is gone.
    async fn email_verified(&self, id: AccountId) -> Result<Option<bool>, StoreError> {
        let item = self.get(account_key(id), "email_verified").await?;
        item.map(|item| get_bool(&item, "email_verified")).transpose()
    }

    /// Who holds `email` now: `Err` with the holder when that account verified it (it stays
    /// theirs), else the holder that never did, if any.
    async fn email_holder(&self, email: &Email) -> Result<Result<Option<AccountId>, AccountId>, StoreError> {
        let holder = self.account_id_for(email).await?;
        if let Some(holder) = holder
            && self.email_verified(holder).await? == Some(true)
        {
            return Ok(Err(holder));
        }
        Ok(Ok(holder))
    }

    /// The writes that give `email` to `id`: its guard, on condition it is still held by
    /// `holder` as read (or by no one), expiring at `expires_at` while `id` has not verified it;
    /// and the removal of that holder, on condition it still has not verified it (or is gone by
    /// TTL already).
    fn claim_email(
        &self,
        email: &Email,
        id: AccountId,
        holder: Option<AccountId>,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let build = build_error("email-claim");
        let guard = Put::builder()
            .table_name(&self.table)
            .item("pk", s(email_key(email)))
            .item("account_id", s(id.to_string()));
        let guard = match expires_at {
            Some(at) => guard.item("expires_at", time(at)),
            None => guard,
        };
        let guard = match holder {
            None => guard.condition_expression("attribute_not_exists(pk)"),
            Some(holder) => guard
                .condition_expression("account_id = :holder")
                .expression_attribute_values(":holder", s(holder.to_string())),
        };
        let mut items = vec![TransactWriteItem::builder().put(guard.build().map_err(&build)?).build()];
        if let Some(holder) = holder {
            let replaced = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(account_key(holder)))
                .condition_expression("attribute_not_exists(pk) OR email_verified = :no")
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .build()
                .map_err(&build)?;
            items.push(TransactWriteItem::builder().delete(replaced).build());
        }
        Ok(items)
    }

    /// Counts one attempt at a challenge (`hash`, `expires_at`, `attempts` name its attributes)
    /// and answers the account as it stands after, or `None` when no live challenge is left.
    async fn count_attempt(
        &self,
        id: AccountId,
        (hash, expires_at, attempts): (&str, &str, &str),
        now: OffsetDateTime,
    ) -> Result<Option<Item>, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression(format!("ADD {attempts} :one"))
            .condition_expression(format!("attribute_exists({hash}) AND {attempts} < :max AND {expires_at} > :now"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(verification::MAX_ATTEMPTS))
            .expression_attribute_values(":now", time(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(answer) => Ok(Some(answer.attributes.unwrap_or_default())),
            Err(error) if is_condition_failure(&error) => Ok(None),
            Err(error) => Err(crate::dynamodb::store_error(&error)),
        }
    }
}

impl AccountStore for AccountsTable {
    /// Reads who holds the email, then one transaction: the email's guard (conditional on the
    /// holder read: none, or the same one), the removal of that holder if it never verified the
    /// email (conditional on that), the new account and the events that announce it. A
    /// transaction that lost a race reads again.
    async fn register(&self, account: &NewAccount, announced: &[Envelope]) -> Result<Registration, StoreError> {
        let announcements = outbox::puts(self.outbox.as_ref(), announced)?;
        let build = build_error("registration");
        for _ in 0..REGISTER_ROUNDS {
            let holder = match self.email_holder(&account.email).await? {
                Ok(holder) => holder,
                Err(owner) => return Ok(Registration::EmailTaken(owner)),
            };
            let record = Put::builder()
                .table_name(&self.table)
                .set_item(Some(account_item(account, self.contact_lookup()?)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(&build)?;
            let mut items = self.claim_email(&account.email, account.id, holder, Some(account.unverified_until))?;
            items.push(TransactWriteItem::builder().put(record).build());
            items.extend(announcements.iter().cloned());
            let written = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
            match written {
                Ok(_) => return Ok(holder.map_or(Registration::Created, Registration::ReplacedUnverified)),
                Err(error) => {
                    let Some(TransactWriteItemsError::TransactionCanceledException(_)) = error.as_service_error()
                    else {
                        return Err(crate::dynamodb::store_error(&error));
                    };
                    // Another signup or a verification moved the email meanwhile: read again.
                }
            }
        }
        Err(StoreError::Unavailable("transaction-conflict".into()))
    }

    async fn account_id_for(&self, email: &Email) -> Result<Option<AccountId>, StoreError> {
        let item = self.get(email_key(email), "account_id").await?;
        item.map(|item| AccountId::parse(get_s(&item, "account_id")?).ok_or(StoreError::Corrupt("account_id")))
            .transpose()
    }

    async fn credentials(&self, id: AccountId) -> Result<Option<Credentials>, StoreError> {
        let projection = "password_hash, #role, email_verified, session_generation";
        let Some(item) = self.get(account_key(id), projection).await? else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            id,
            role: read_role(&item)?,
            password_hash: PasswordHash::from_phc(get_s(&item, "password_hash")?.to_owned()),
            email_verified: get_bool(&item, "email_verified")?,
            session_generation: session_generation(&item)?,
        }))
    }

    /// Projected to role and sessions: every function's IAM policy allows it these attributes.
    async fn session_standing(&self, id: AccountId) -> Result<Option<SessionStanding>, StoreError> {
        let projection = "#role, session_generation, ended_sessions";
        let Some(item) = self.get(account_key(id), projection).await? else { return Ok(None) };
        let ended = ended_sessions(&item).into_iter().map(|(sid, _)| sid.to_owned()).collect();
        Ok(Some(SessionStanding { role: read_role(&item)?, generation: session_generation(&item)?, ended }))
    }

    /// Adds `<expiry>:<sid>` to the set of ended sessions, then drops the entries of sessions
    /// that have expired anyway (two writes: one expression may not both add to a set and take
    /// from it).
    async fn end_session(
        &self,
        id: AccountId,
        sid: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let Some(item) = self.get(account_key(id), "ended_sessions").await? else { return Ok(false) };
        let ended = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression("ADD ended_sessions :ended")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":ended",
                AttributeValue::Ss(vec![format!("{}:{sid}", expires_at.unix_timestamp())]),
            )
            .send()
            .await;
        if !conditional(ended.map(|_| ()))? {
            return Ok(false);
        }
        let expired: Vec<String> = ended_sessions(&item)
            .into_iter()
            .filter(|(_, expires)| *expires <= now.unix_timestamp())
            .map(|(sid, expires)| format!("{expires}:{sid}"))
            .collect();
        if !expired.is_empty() {
            let pruned = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(account_key(id)))
                .update_expression("DELETE ended_sessions :expired")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":expired", AttributeValue::Ss(expired))
                .send()
                .await;
            conditional(pruned.map(|_| ()))?;
        }
        Ok(true)
    }

    async fn end_all_sessions(&self, id: AccountId) -> Result<bool, StoreError> {
        let moved = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression("ADD session_generation :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        conditional(moved.map(|_| ()))
    }

    /// Projected to the contacts (no password hash): the notification function's IAM policy
    /// allows it these attributes only.
    async fn contacts(&self, id: AccountId) -> Result<Option<Contacts>, StoreError> {
        let projection = "account_id, full_name, email, email_verified, phone, phone_verified, marketing_email, \
                          marketing_sms, pending_email, pending_phone";
        let Some(item) = self.get(account_key(id), projection).await? else { return Ok(None) };
        read_contacts(&item).map(Some)
    }

    /// One conditional update counts the attempt and returns the challenge as it stands.
    async fn take_attempt(
        &self,
        id: AccountId,
        kind: ContactKind,
        now: OffsetDateTime,
    ) -> Result<Option<Challenge>, StoreError> {
        let (hash, expires_at, attempts, _) = challenge_attributes(kind);
        let Some(item) = self.count_attempt(id, (hash, expires_at, attempts), now).await? else { return Ok(None) };
        Ok(Some(Challenge {
            hash: get_s(&item, hash)?.to_owned(),
            expires_at: get_time(&item, expires_at)?,
            attempts: get_n(&item, attempts)?,
        }))
    }

    /// Conditional on the matched challenge's hash still being there.
    /// An email's confirmation is one transaction with its guard: both lose their expiry, on
    /// condition the guard still points to this account (a later signup may have taken it).
    async fn confirm(&self, id: AccountId, kind: ContactKind, matched: &Challenge) -> Result<bool, StoreError> {
        let (hash, expires_at, attempts, verified) = challenge_attributes(kind);
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Failed(format!("build-confirmation: {e}"));
        let expiry = match kind {
            ContactKind::Email => ", expires_at",
            ContactKind::Phone => "",
        };
        let account = Update::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression(format!("SET {verified} = :yes REMOVE {hash}, {expires_at}, {attempts}{expiry}"))
            .condition_expression(format!("{hash} = :hash"))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":hash", s(&matched.hash))
            .build()
            .map_err(build)?;
        let mut items = vec![super::update(account)];
        if kind == ContactKind::Email {
            let Some(item) = self.get(account_key(id), "email").await? else { return Ok(false) };
            let guard = Update::builder()
                .table_name(&self.table)
                .key("pk", s(email_key(&get_parsed(&item, "email", Email::parse)?)))
                .update_expression("REMOVE expires_at")
                .condition_expression("account_id = :id")
                .expression_attribute_values(":id", s(id.to_string()))
                .build()
                .map_err(build)?;
            items.push(super::update(guard));
        }
        Ok(super::transact(&self.client, items).await? == super::Transaction::Committed)
    }

    /// One transaction: the account's challenge replaced (on condition the contact is still
    /// unverified), for the email its guard's and its own expiry moved to the new link's, and the
    /// event that sends it.
    async fn renew_challenge(
        &self,
        id: AccountId,
        email: &Email,
        kind: ContactKind,
        challenge: &Challenge,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let (hash, expires_at, attempts, verified) = challenge_attributes(kind);
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Failed(format!("build-renewal: {e}"));
        let mut set = format!("{hash} = :hash, {expires_at} = :challenge_expires, {attempts} = :zero");
        if kind == ContactKind::Email {
            set.push_str(", expires_at = :challenge_expires");
        }
        let account = Update::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression(format!("SET {set}"))
            .condition_expression(format!("attribute_exists(pk) AND {verified} = :no"))
            .expression_attribute_values(":hash", s(&challenge.hash))
            .expression_attribute_values(":challenge_expires", time(challenge.expires_at))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .build()
            .map_err(build)?;
        let mut items = vec![super::update(account)];
        if kind == ContactKind::Email {
            let guard = Update::builder()
                .table_name(&self.table)
                .key("pk", s(email_key(email)))
                .update_expression("SET expires_at = :challenge_expires")
                .condition_expression("account_id = :id")
                .expression_attribute_values(":challenge_expires", time(challenge.expires_at))
                .expression_attribute_values(":id", s(id.to_string()))
                .build()
                .map_err(build)?;
            items.push(super::update(guard));
        }
        items.extend(outbox::puts(self.outbox.as_ref(), std::slice::from_ref(announced))?);
        Ok(super::transact(&self.client, items).await? == super::Transaction::Committed)
    }

    /// One transaction: the reset's hash and expiry on the account, and the event that sends it.
    async fn open_reset(&self, id: AccountId, challenge: &Challenge, announced: &Envelope) -> Result<bool, StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Failed(format!("build-reset: {e}"));
        let account = Update::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression("SET reset_hash = :hash, reset_expires_at = :expires")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":hash", s(&challenge.hash))
            .expression_attribute_values(":expires", time(challenge.expires_at))
            .build()
            .map_err(build)?;
        let mut items = vec![super::update(account)];
        items.extend(outbox::puts(self.outbox.as_ref(), std::slice::from_ref(announced))?);
        Ok(super::transact(&self.client, items).await? == super::Transaction::Committed)
    }

    /// One transaction: the new hash, the reset closed, the session generation moved on (on
    /// condition the reset is the token's and live), and the event that tells the owner.
    async fn complete_reset(
        &self,
        id: AccountId,
        token_hash: &str,
        new_hash: &PasswordHash,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let account = Update::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression(format!(
                "SET password_hash = :new, password_reset_at = :now \
                 REMOVE {DROPPED_WITH_A_NEW_PASSWORD} ADD session_generation :one"
            ))
            .condition_expression("reset_hash = :token AND reset_expires_at > :now")
            .expression_attribute_values(":new", s(new_hash.as_phc()))
            .expression_attribute_values(":now", time(now))
            .expression_attribute_values(":token", s(token_hash))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(build_error("reset-completion"))?;
        let mut items = vec![super::update(account)];
        items.extend(outbox::puts(self.outbox.as_ref(), std::slice::from_ref(announced))?);
        Ok(super::transact(&self.client, items).await? == super::Transaction::Committed)
    }

    /// One transaction (the hash, the generation moved on, the event), then the generation read
    /// back: a transaction answers no values. A "log out everywhere" in between only moves it on
    /// further, and the fresh session carries that.
    async fn set_password(
        &self,
        id: AccountId,
        new_hash: &PasswordHash,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<Option<u32>, StoreError> {
        let account = Update::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression(format!(
                "SET password_hash = :new, password_changed_at = :now \
                 REMOVE {DROPPED_WITH_A_NEW_PASSWORD} ADD session_generation :one"
            ))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":new", s(new_hash.as_phc()))
            .expression_attribute_values(":now", time(now))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(build_error("password-change"))?;
        let mut items = vec![super::update(account)];
        items.extend(outbox::puts(self.outbox.as_ref(), std::slice::from_ref(announced))?);
        if super::transact(&self.client, items).await? != super::Transaction::Committed {
            return Ok(None);
        }
        let Some(item) = self.get(account_key(id), "session_generation").await? else { return Ok(None) };
        session_generation(&item).map(Some)
    }

    /// One transaction: the new contact and its challenge (attempts from zero) in place of any
    /// change of that kind waiting, and the event that sends the proof.
    async fn open_contact_change(
        &self,
        id: AccountId,
        change: &PendingChange,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let (contact, hash, expires_at, attempts) = change_attributes(change.new.kind());
        let new = match &change.new {
            NewContact::Email(email) => email.as_str(),
            NewContact::Phone(phone) => phone.as_e164(),
        };
        let account = Update::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression(format!(
                "SET {contact} = :new, {hash} = :hash, {expires_at} = :expires, {attempts} = :zero"
            ))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":new", s(new))
            .expression_attribute_values(":hash", s(&change.challenge.hash))
            .expression_attribute_values(":expires", time(change.challenge.expires_at))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(build_error("contact-change"))?;
        let mut items = vec![super::update(account)];
        items.extend(outbox::puts(self.outbox.as_ref(), std::slice::from_ref(announced))?);
        Ok(super::transact(&self.client, items).await? == super::Transaction::Committed)
    }

    async fn take_change_attempt(
        &self,
        id: AccountId,
        kind: ContactKind,
        now: OffsetDateTime,
    ) -> Result<Option<PendingChange>, StoreError> {
        let (contact, hash, expires_at, attempts) = change_attributes(kind);
        let Some(item) = self.count_attempt(id, (hash, expires_at, attempts), now).await? else { return Ok(None) };
        let new = match kind {
            ContactKind::Email => NewContact::Email(get_parsed(&item, contact, Email::parse)?),
            ContactKind::Phone => NewContact::Phone(get_parsed(&item, contact, IranMobile::parse)?),
        };
        let challenge = Challenge {
            hash: get_s(&item, hash)?.to_owned(),
            expires_at: get_time(&item, expires_at)?,
            attempts: get_n(&item, attempts)?,
        };
        Ok(Some(PendingChange { new, challenge }))
    }

    /// A number: one update, conditional on the matched challenge still waiting. An email: who
    /// holds it is read, then one transaction — the account's email replaced (on that same
    /// condition), the old email's guard removed, the new one's claimed — read again if the
    /// email moved meanwhile.
    async fn complete_contact_change(
        &self,
        id: AccountId,
        matched: &PendingChange,
    ) -> Result<ChangeCompletion, StoreError> {
        let (contact, hash, expires_at, attempts) = change_attributes(matched.new.kind());
        let build = build_error("contact-change-completion");
        let (verified, new, lookup) = match &matched.new {
            NewContact::Email(email) => ("email_verified", email.as_str(), None),
            NewContact::Phone(phone) => ("phone_verified", phone.as_e164(), Some(self.contact_lookup()?.phone(phone))),
        };
        // A number is looked up by its hash (legal requests): the hash moves with it.
        let also_lookup = if lookup.is_some() { format!(", {PHONE_LOOKUP} = :lookup") } else { String::new() };
        let mut account = Update::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .update_expression(format!(
                "SET {} = :new, {verified} = :yes{also_lookup} REMOVE {contact}, {hash}, {expires_at}, {attempts}",
                contact.trim_start_matches("pending_")
            ))
            .condition_expression(format!("{hash} = :hash"))
            .expression_attribute_values(":new", s(new))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":hash", s(&matched.challenge.hash));
        if let Some(lookup) = &lookup {
            account = account.expression_attribute_values(":lookup", s(lookup.as_str()));
        }
        let account = account.build().map_err(&build)?;
        let NewContact::Email(email) = &matched.new else {
            let committed = super::transact(&self.client, vec![super::update(account)]).await?;
            return Ok(match committed {
                super::Transaction::Committed => ChangeCompletion::Changed,
                super::Transaction::Cancelled(_) => ChangeCompletion::Superseded,
            });
        };
        for _ in 0..REGISTER_ROUNDS {
            let holder = match self.email_holder(email).await? {
                Ok(holder) => holder,
                Err(_) => return Ok(ChangeCompletion::EmailTaken),
            };
            let Some(item) = self.get(account_key(id), "email").await? else { return Ok(ChangeCompletion::Superseded) };
            let old_guard = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(email_key(&get_parsed(&item, "email", Email::parse)?)))
                .condition_expression("account_id = :id")
                .expression_attribute_values(":id", s(id.to_string()))
                .build()
                .map_err(&build)?;
            let mut items =
                vec![super::update(account.clone()), TransactWriteItem::builder().delete(old_guard).build()];
            items.extend(self.claim_email(email, id, holder, None)?);
            match super::transact(&self.client, items).await? {
                super::Transaction::Committed => return Ok(ChangeCompletion::Changed),
                super::Transaction::Cancelled(reasons) if super::failed_at(&reasons, 0) => {
                    return Ok(ChangeCompletion::Superseded);
                }
                // The new email moved between the read and the write: read again.
                super::Transaction::Cancelled(_) => {}
            }
        }
        Err(StoreError::Unavailable("transaction-conflict".into()))
    }

    /// One transaction: the account item (profile, contacts, consent and its history,
    /// credentials) and the email's guard are deleted, a `CLOSED#` record keeps the time, and the
    /// outbox keeps the event.
    async fn close(
        &self,
        id: AccountId,
        email: &Email,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let announcement = outbox::puts(self.outbox.as_ref(), std::slice::from_ref(announced))?;
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Failed(format!("build-closure: {e}"));
        let account = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(account_key(id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build)?;
        let guard = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(email_key(email)))
            .condition_expression("account_id = :id")
            .expression_attribute_values(":id", s(id.to_string()))
            .build()
            .map_err(build)?;
        // The contacts go; their keyed hashes stay, so that a legal request by either still
        // finds the account (P3). A number changed between this read and the closure leaves
        // the number read here, the one the account held moments before.
        let Some(held) = self.get(account_key(id), "phone").await? else { return Ok(false) };
        let phone = get_parsed(&held, "phone", IranMobile::parse)?;
        let lookup = self.contact_lookup()?;
        let record = Put::builder()
            .table_name(&self.table)
            .item("pk", s(closed_key(id)))
            .item("account_id", s(id.to_string()))
            .item("closed_at", time(now))
            .item(EMAIL_LOOKUP, s(lookup.email(email).as_str()))
            .item(PHONE_LOOKUP, s(lookup.phone(&phone).as_str()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build)?;
        let mut items = vec![
            TransactWriteItem::builder().delete(account).build(),
            TransactWriteItem::builder().delete(guard).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        items.extend(announcement);
        let written = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match written {
            Ok(_) => Ok(true),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                _ => Err(crate::dynamodb::store_error(&error)),
            },
        }
    }
}

impl AccountsTable {
    /// The account ids of the items an index of lookup hashes holds under `hash`: an account's
    /// (`ACCOUNT#`) or a closed account's (`CLOSED#`).
    async fn ids_by_lookup(
        &self,
        index: &str,
        attribute: &str,
        hash: ContactHash,
    ) -> Result<Vec<AccountId>, StoreError> {
        let items = every_page(|start| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#lookup = :hash")
                .expression_attribute_names("#lookup", attribute)
                .expression_attribute_values(":hash", s(hash.as_str()))
                .set_exclusive_start_key(start)
                .send()
        })
        .await?;
        items
            .iter()
            .map(|item| {
                let key = get_s(item, "pk")?;
                key.strip_prefix("ACCOUNT#")
                    .or_else(|| key.strip_prefix("CLOSED#"))
                    .and_then(AccountId::parse)
                    .ok_or(StoreError::Corrupt("pk"))
            })
            .collect()
    }
}

impl Counters for AccountsTable {
    async fn take(&self, key: &str, window: Window, max: u32) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(counter_key(key, window)))
            .update_expression("ADD attempts :one SET expires_at = :forget")
            .condition_expression("attribute_not_exists(attempts) OR attempts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":forget", time(window.forget_at()))
            .send()
            .await;
        conditional(updated.map(|_| ()))
    }

    async fn give_back(&self, key: &str, window: Window) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(counter_key(key, window)))
            .update_expression("ADD attempts :minus_one")
            .condition_expression("attempts > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        conditional(updated.map(|_| ())).map(|_| ())
    }
}

impl Reviewers for AccountsTable {
    /// What a review needs of its author: the name it shows as an initial, and whether the
    /// email is proven. Nothing else: the review function may read these attributes only.
    async fn reviewer(&self, id: AccountId) -> Result<Option<(FullName, bool)>, StoreError> {
        let Some(item) = self.get(account_key(id), "full_name, email_verified").await? else { return Ok(None) };
        Ok(Some((get_parsed(&item, "full_name", FullName::parse)?, get_bool(&item, "email_verified")?)))
    }

    async fn is_open(&self, id: AccountId) -> Result<bool, StoreError> {
        Ok(self.session_standing(id).await?.is_some())
    }
}

impl AccountRecords for AccountsTable {
    /// The open accounts whose phone this is and the closed ones whose last phone it was, by its
    /// keyed hash through the `ByPhoneLookup` index.
    async fn account_ids_for_phone(&self, phone: &IranMobile) -> Result<Vec<AccountId>, StoreError> {
        self.ids_by_lookup(BY_PHONE_LOOKUP, PHONE_LOOKUP, self.contact_lookup()?.phone(phone)).await
    }

    /// The closed accounts whose last email this was, by its keyed hash through the
    /// `ByEmailLookup` index (only closed accounts carry one).
    async fn closed_account_ids_for_email(&self, email: &Email) -> Result<Vec<AccountId>, StoreError> {
        self.ids_by_lookup(BY_EMAIL_LOOKUP, EMAIL_LOOKUP, self.contact_lookup()?.email(email)).await
    }

    /// What a legal export discloses of an account (P3): everything but its credentials. The
    /// projection names each attribute, so the password hash and the verification hashes are
    /// never read (the privacy function's IAM policy allows these attributes only).
    async fn legal_record(&self, id: AccountId) -> Result<Option<AccountRecord>, StoreError> {
        let projection = "account_id, #role, full_name, email, email_verified, phone, phone_verified, \
                          marketing_email, marketing_sms, terms_version, terms_accepted_at, terms_source_ip, \
                          created_at, consent_history, pending_email, pending_phone";
        let Some(item) = self.get(account_key(id), projection).await? else { return Ok(None) };
        let optional = |name: &'static str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
        let flag = |name: &'static str| item.get(name).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false);
        let terms = match (optional("terms_version"), item.contains_key("terms_accepted_at")) {
            (Some(version), true) => Some(TermsAcceptance {
                version: TermsVersion::parse(version).map_err(|_| StoreError::Corrupt("terms_version"))?,
                accepted_at: get_time(&item, "terms_accepted_at")?,
                source_ip: optional("terms_source_ip").and_then(|ip| ip.parse().ok()),
            }),
            _ => None,
        };
        let consent_history = match item.get("consent_history") {
            None => Vec::new(),
            Some(value) => value
                .as_l()
                .map_err(|_| StoreError::Corrupt("consent_history"))?
                .iter()
                .map(read_consent_change)
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Some(AccountRecord {
            id,
            role: Some(read_role(&item)?),
            // Erased when an account is closed: what is gone is not disclosed.
            full_name: optional("full_name")
                .map(FullName::parse)
                .transpose()
                .map_err(|_| StoreError::Corrupt("full_name"))?,
            email: optional("email").map(Email::parse).transpose().map_err(|_| StoreError::Corrupt("email"))?,
            email_verified: flag("email_verified"),
            phone: optional("phone").map(IranMobile::parse).transpose().map_err(|_| StoreError::Corrupt("phone"))?,
            phone_verified: flag("phone_verified"),
            pending_email: optional_parsed(&item, "pending_email", Email::parse)?,
            pending_phone: optional_parsed(&item, "pending_phone", IranMobile::parse)?,
            marketing: MarketingConsent { email: flag("marketing_email"), sms: flag("marketing_sms") },
            terms,
            created_at: item.contains_key("created_at").then(|| get_time(&item, "created_at")).transpose()?,
            consent_history,
            closed_at: None,
        }))
    }

    /// When the account was closed, if it was: all that is left of it in this table.
    async fn closed_at(&self, id: AccountId) -> Result<Option<OffsetDateTime>, StoreError> {
        let Some(item) = self.get(closed_key(id), "closed_at").await? else { return Ok(None) };
        get_time(&item, "closed_at").map(Some)
    }
}

impl CampaignAudience for AccountsTable {
    /// One page of the accounts a campaign may reach (consent on for some channel, as far as the
    /// eventually consistent `ByCampaignAudience` index knows); and where the next page starts.
    /// The index is sparse: it holds consenting accounts only, so a campaign reads as many pages
    /// as it has recipients, whatever else the table holds (`mizan::messaging::campaign`).
    async fn audience(
        &self,
        start: Option<&AudienceCursor>,
        limit: u32,
    ) -> Result<(Vec<AccountId>, Option<AudienceCursor>), StoreError> {
        let start = start.map(|cursor| {
            Item::from([("pk".to_owned(), s(cursor.key())), (CAMPAIGN_AUDIENCE.to_owned(), s(CAMPAIGN_AUDIENCE_VALUE))])
        });
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_CAMPAIGN_AUDIENCE)
            .key_condition_expression("#audience = :audience")
            .expression_attribute_names("#audience", CAMPAIGN_AUDIENCE)
            .expression_attribute_values(":audience", s(CAMPAIGN_AUDIENCE_VALUE))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let ids = page
            .items()
            .iter()
            .map(|item| {
                get_s(item, "pk")?.strip_prefix("ACCOUNT#").and_then(AccountId::parse).ok_or(StoreError::Corrupt("pk"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = match page.last_evaluated_key {
            Some(key) => Some(AudienceCursor::from_key(get_s(&key, "pk")?.to_owned())),
            None => None,
        };
        Ok((ids, next))
    }
}

impl ConsentStore for AccountsTable {
    /// The account's marketing consent, per channel.
    async fn marketing(&self, id: AccountId) -> Result<Option<MarketingConsent>, StoreError> {
        let Some(item) = self.get(account_key(id), "marketing_email, marketing_sms").await? else { return Ok(None) };
        Ok(Some(MarketingConsent {
            email: get_bool(&item, "marketing_email")?,
            sms: get_bool(&item, "marketing_sms")?,
        }))
    }

    /// Turns marketing on one channel on or off, recording the change on the account (P7).
    async fn set_marketing(
        &self,
        id: AccountId,
        channel: Channel,
        on: bool,
        source: Source,
        now: OffsetDateTime,
    ) -> Result<Option<MarketingConsent>, StoreError> {
        Ok(match self.change_marketing(id, channel, on, None, source, now).await? {
            ConsentWrite::Written(consent) => Some(consent),
            // Only a link's withdrawal is refused for an opt-in since; there is no link here.
            ConsentWrite::OptedInSince | ConsentWrite::NoAccount => None,
        })
    }

    async fn withdraw_by_link(
        &self,
        id: AccountId,
        channel: Channel,
        link_made_at: OffsetDateTime,
        source: Source,
        now: OffsetDateTime,
    ) -> Result<LinkWithdrawal, StoreError> {
        Ok(match self.change_marketing(id, channel, false, Some(link_made_at), source, now).await? {
            ConsentWrite::Written(_) => LinkWithdrawal::Withdrawn,
            ConsentWrite::OptedInSince => LinkWithdrawal::OptedInSince,
            ConsentWrite::NoAccount => LinkWithdrawal::NoAccount,
        })
    }
}

enum ConsentWrite {
    Written(MarketingConsent),
    OptedInSince,
    NoAccount,
}

/// The account's consent attributes: the flag, and when it was last turned on.
fn consent_attributes(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Email => ("marketing_email", "marketing_email_on_at"),
        Channel::Sms => ("marketing_sms", "marketing_sms_on_at"),
    }
}

impl AccountsTable {
    /// One change of consent and its record, written together on the account item: the
    /// history keeps the newest `HISTORY_KEPT` changes, and `consent_version`, moved on by every
    /// change, makes the read and the write one step. A change for a link made before the
    /// channel was last turned on is refused (`link_made_at`).
    async fn change_marketing(
        &self,
        id: AccountId,
        channel: Channel,
        on: bool,
        link_made_at: Option<OffsetDateTime>,
        source: Source,
        now: OffsetDateTime,
    ) -> Result<ConsentWrite, StoreError> {
        let (flag, on_at) = consent_attributes(channel);
        let projection = format!("marketing_email, marketing_sms, consent_history, consent_version, {on_at}");
        for _ in 0..3 {
            let Some(item) = self.get(account_key(id), &projection).await? else { return Ok(ConsentWrite::NoAccount) };
            let mut consent =
                MarketingConsent { email: get_bool(&item, "marketing_email")?, sms: get_bool(&item, "marketing_sms")? };
            let opted_in_at = item.contains_key(on_at).then(|| get_time(&item, on_at)).transpose()?;
            if link_made_at.is_some_and(|made| opted_in_at.is_some_and(|opted| opted > made)) {
                return Ok(ConsentWrite::OptedInSince);
            }
            let current = match channel {
                Channel::Email => &mut consent.email,
                Channel::Sms => &mut consent.sms,
            };
            if *current == on {
                return Ok(ConsentWrite::Written(consent));
            }
            *current = on;
            let version: u64 =
                item.contains_key("consent_version").then(|| get_n(&item, "consent_version")).transpose()?.unwrap_or(0);
            let mut history = match item.get("consent_history") {
                Some(value) => value.as_l().map_err(|_| StoreError::Corrupt("consent_history"))?.clone(),
                None => Vec::new(),
            };
            history.push(AttributeValue::M(
                [
                    ("channel".to_owned(), s(channel.as_str())),
                    ("old".to_owned(), AttributeValue::Bool(!on)),
                    ("new".to_owned(), AttributeValue::Bool(on)),
                    ("source".to_owned(), s(source.as_str())),
                    ("at".to_owned(), time(now)),
                ]
                .into(),
            ));
            let overflow = history.len().saturating_sub(HISTORY_KEPT);
            history.drain(..overflow);
            // In the campaign audience while either channel is on.
            let mut set = format!("{flag} = :new, consent_history = :history, consent_version = :next");
            if on {
                set.push_str(&format!(", {on_at} = :now"));
            }
            let audience = if consent.email || consent.sms {
                set.push_str(&format!(", {CAMPAIGN_AUDIENCE} = :audience"));
                String::new()
            } else {
                format!(" REMOVE {CAMPAIGN_AUDIENCE}")
            };
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(account_key(id)))
                .update_expression(format!("SET {set}{audience}"))
                .condition_expression(if version == 0 {
                    "attribute_exists(pk) AND attribute_not_exists(consent_version)"
                } else {
                    "consent_version = :version"
                })
                .expression_attribute_values(":new", AttributeValue::Bool(on))
                .expression_attribute_values(":history", AttributeValue::L(history))
                .expression_attribute_values(":next", n(version + 1));
            if version != 0 {
                update = update.expression_attribute_values(":version", n(version));
            }
            if on {
                update = update.expression_attribute_values(":now", time(now));
            }
            if consent.email || consent.sms {
                update = update.expression_attribute_values(":audience", s(CAMPAIGN_AUDIENCE_VALUE));
            }
            if conditional(update.send().await.map(|_| ()))? {
                tracing::info!(account = %id, channel = channel.as_str(), on, source = source.as_str(), "marketing consent changed");
                return Ok(ConsentWrite::Written(consent));
            }
        }
        Err(StoreError::Unavailable("consent-contention".into()))
    }
}
