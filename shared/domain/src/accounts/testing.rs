//! The accounts table in memory, keeping the semantics the use cases rely on: an email belongs
//! to one account, attempts are counted before they are judged, a challenge is confirmed once,
//! closing erases the account and frees its email.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::accounts::abuse_limits::Window;
use crate::accounts::account::{Contacts, MarketingConsent, NewAccount, Role};
use crate::accounts::consent::{Channel, Source};
use crate::accounts::contact::{Email, IranMobile};
use crate::accounts::contact_change::{NewContact, PendingChange};
use crate::accounts::password::PasswordHash;
use crate::accounts::ports::{
    AccountStore, ChangeCompletion, ConsentStore, Counters, Credentials, LinkWithdrawal, Registration,
};
use crate::accounts::session::SessionStanding;
use crate::accounts::verification::{self, Challenge, ContactKind};
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::kernel::testing::OutboxEvents;

struct Stored {
    account: NewAccount,
    role: Role,
    email_verified: bool,
    phone_verified: bool,
    email_challenge: Option<Challenge>,
    phone_challenge: Option<Challenge>,
    session_generation: u32,
    reset: Option<Challenge>,
    pending_email: Option<PendingChange>,
    pending_phone: Option<PendingChange>,
    /// Sessions ended one by one, with when they would have expired.
    ended_sessions: Vec<(String, OffsetDateTime)>,
    /// When each channel was last turned on: [email, sms].
    opted_in_at: [Option<OffsetDateTime>; 2],
}

/// What the table keeps of a closed account: when, and (as keyed hashes there) the contacts it
/// last held.
struct Closed {
    at: OffsetDateTime,
    email: Email,
    phone: IranMobile,
}

#[derive(Default)]
struct State {
    accounts: HashMap<AccountId, Stored>,
    emails: HashMap<String, AccountId>,
    closed: HashMap<AccountId, Closed>,
    counters: HashMap<(String, i64), u32>,
}

#[derive(Default)]
pub struct InMemoryAccounts {
    state: Mutex<State>,
    /// The events registering and closing keep, as the outbox table would; signup's notices
    /// can be kept here too.
    pub outbox: OutboxEvents,
}

impl InMemoryAccounts {
    /// Gives an account another role, as an operator's grant does.
    pub fn grant(&self, id: AccountId, role: Role) {
        if let Some(stored) = self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.get_mut(&id) {
            stored.role = role;
        }
    }

    pub fn closed_at(&self, id: AccountId) -> Option<OffsetDateTime> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).closed.get(&id).map(|closed| closed.at)
    }

    /// Marks both contacts proven, as verification does.
    pub fn verify_contacts(&self, id: AccountId) {
        if let Some(stored) = self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.get_mut(&id) {
            (stored.email_verified, stored.phone_verified) = (true, true);
        }
    }

    /// Sets the account's marketing consent, as the privacy settings do.
    pub fn consent(&self, id: AccountId, marketing: MarketingConsent) {
        if let Some(stored) = self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.get_mut(&id) {
            stored.account.marketing = marketing;
        }
    }

    /// Every open account as it was registered.
    pub fn all(&self) -> Vec<NewAccount> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.values().map(|s| s.account.clone()).collect()
    }

    /// The closed accounts that last held a contact, as the lookup index answers.
    pub fn closed_holding(&self, held: impl Fn(&Email, &IranMobile) -> bool) -> Vec<AccountId> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed.iter().filter(|(_, c)| held(&c.email, &c.phone)).map(|(id, _)| *id).collect()
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.len()
    }

    fn pending(stored: &mut Stored, kind: ContactKind) -> &mut Option<PendingChange> {
        match kind {
            ContactKind::Email => &mut stored.pending_email,
            ContactKind::Phone => &mut stored.pending_phone,
        }
    }

    /// What setting a password does beside: the owner is told, a change of contact still
    /// waiting is dropped, every session ends.
    fn password_set(&self, stored: &mut Stored, new_hash: &PasswordHash, told: &Envelope) -> Result<(), StoreError> {
        self.outbox.writable()?;
        self.outbox.add(std::slice::from_ref(told));
        stored.account.password_hash = new_hash.clone();
        (stored.pending_email, stored.pending_phone) = (None, None);
        stored.session_generation += 1;
        Ok(())
    }

    fn challenge(stored: &mut Stored, kind: ContactKind) -> &mut Option<Challenge> {
        match kind {
            ContactKind::Email => &mut stored.email_challenge,
            ContactKind::Phone => &mut stored.phone_challenge,
        }
    }
}

impl AccountStore for InMemoryAccounts {
    async fn register(&self, account: &NewAccount, announced: &[Envelope]) -> Result<Registration, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let holder = state.emails.get(account.email.as_str()).copied();
        let verified_holder = holder.filter(|id| state.accounts.get(id).is_some_and(|held| held.email_verified));
        if let Some(existing) = verified_holder {
            return Ok(Registration::EmailTaken(existing));
        }
        self.outbox.writable()?;
        self.outbox.add(announced);
        if let Some(replaced) = holder {
            state.accounts.remove(&replaced);
        }
        state.emails.insert(account.email.as_str().to_owned(), account.id);
        let stored = Stored {
            account: account.clone(),
            role: Role::Customer,
            email_verified: false,
            phone_verified: false,
            email_challenge: Some(account.email_challenge.clone()),
            phone_challenge: Some(account.phone_challenge.clone()),
            session_generation: 0,
            reset: None,
            pending_email: None,
            pending_phone: None,
            ended_sessions: Vec::new(),
            opted_in_at: [None; 2],
        };
        state.accounts.insert(account.id, stored);
        Ok(holder.map_or(Registration::Created, Registration::ReplacedUnverified))
    }

    async fn account_id_for(&self, email: &Email) -> Result<Option<AccountId>, StoreError> {
        Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner).emails.get(email.as_str()).copied())
    }

    async fn credentials(&self, id: AccountId) -> Result<Option<Credentials>, StoreError> {
        Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.get(&id).map(|stored| Credentials {
            id,
            role: stored.role,
            password_hash: stored.account.password_hash.clone(),
            email_verified: stored.email_verified,
            session_generation: stored.session_generation,
        }))
    }

    async fn session_standing(&self, id: AccountId) -> Result<Option<SessionStanding>, StoreError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(state.accounts.get(&id).map(|stored| SessionStanding {
            role: stored.role,
            generation: stored.session_generation,
            ended: stored.ended_sessions.iter().map(|(sid, _)| sid.clone()).collect(),
        }))
    }

    async fn end_session(
        &self,
        id: AccountId,
        sid: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(false) };
        stored.ended_sessions.retain(|(_, expires)| *expires > now);
        stored.ended_sessions.push((sid.to_owned(), expires_at));
        Ok(true)
    }

    async fn end_all_sessions(&self, id: AccountId) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(false) };
        stored.session_generation += 1;
        Ok(true)
    }

    async fn contacts(&self, id: AccountId) -> Result<Option<Contacts>, StoreError> {
        Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.get(&id).map(|stored| Contacts {
            id,
            full_name: stored.account.full_name.clone(),
            email: stored.account.email.clone(),
            email_verified: stored.email_verified,
            phone: stored.account.phone.clone(),
            phone_verified: stored.phone_verified,
            marketing: stored.account.marketing,
            pending_email: stored.pending_email.as_ref().and_then(|change| match &change.new {
                NewContact::Email(email) => Some(email.clone()),
                NewContact::Phone(_) => None,
            }),
            pending_phone: stored.pending_phone.as_ref().and_then(|change| match &change.new {
                NewContact::Phone(phone) => Some(phone.clone()),
                NewContact::Email(_) => None,
            }),
        }))
    }

    async fn take_attempt(
        &self,
        id: AccountId,
        kind: ContactKind,
        now: OffsetDateTime,
    ) -> Result<Option<Challenge>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(None) };
        let Some(challenge) = Self::challenge(stored, kind) else { return Ok(None) };
        if challenge.attempts >= verification::MAX_ATTEMPTS || challenge.expires_at <= now {
            return Ok(None);
        }
        challenge.attempts += 1;
        Ok(Some(challenge.clone()))
    }

    async fn confirm(&self, id: AccountId, kind: ContactKind, matched: &Challenge) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(false) };
        let slot = Self::challenge(stored, kind);
        if slot.as_ref().map(|open| &open.hash) != Some(&matched.hash) {
            return Ok(false);
        }
        *slot = None;
        match kind {
            ContactKind::Email => stored.email_verified = true,
            ContactKind::Phone => stored.phone_verified = true,
        }
        Ok(true)
    }

    async fn renew_challenge(
        &self,
        id: AccountId,
        _email: &Email,
        kind: ContactKind,
        challenge: &Challenge,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(false) };
        let verified = match kind {
            ContactKind::Email => stored.email_verified,
            ContactKind::Phone => stored.phone_verified,
        };
        if verified {
            return Ok(false);
        }
        self.outbox.writable()?;
        self.outbox.add(std::slice::from_ref(announced));
        *Self::challenge(stored, kind) = Some(challenge.clone());
        Ok(true)
    }

    async fn open_reset(&self, id: AccountId, challenge: &Challenge, announced: &Envelope) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(false) };
        self.outbox.writable()?;
        self.outbox.add(std::slice::from_ref(announced));
        stored.reset = Some(challenge.clone());
        Ok(true)
    }

    async fn complete_reset(
        &self,
        id: AccountId,
        token_hash: &str,
        new_hash: &PasswordHash,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(false) };
        if !stored.reset.as_ref().is_some_and(|reset| reset.hash == token_hash && reset.expires_at > now) {
            return Ok(false);
        }
        self.password_set(stored, new_hash, announced)?;
        stored.reset = None;
        Ok(true)
    }

    async fn set_password(
        &self,
        id: AccountId,
        new_hash: &PasswordHash,
        _now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<Option<u32>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(None) };
        self.password_set(stored, new_hash, announced)?;
        Ok(Some(stored.session_generation))
    }

    async fn open_contact_change(
        &self,
        id: AccountId,
        change: &PendingChange,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(false) };
        self.outbox.writable()?;
        self.outbox.add(std::slice::from_ref(announced));
        *Self::pending(stored, change.new.kind()) = Some(change.clone());
        Ok(true)
    }

    async fn take_change_attempt(
        &self,
        id: AccountId,
        kind: ContactKind,
        now: OffsetDateTime,
    ) -> Result<Option<PendingChange>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(None) };
        let Some(pending) = Self::pending(stored, kind) else { return Ok(None) };
        if pending.challenge.attempts >= verification::MAX_ATTEMPTS || pending.challenge.expires_at <= now {
            return Ok(None);
        }
        pending.challenge.attempts += 1;
        Ok(Some(pending.clone()))
    }

    async fn complete_contact_change(
        &self,
        id: AccountId,
        matched: &PendingChange,
    ) -> Result<ChangeCompletion, StoreError> {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        let still_waiting = state.accounts.get_mut(&id).is_some_and(|stored| {
            Self::pending(stored, matched.new.kind()).as_ref().map(|open| &open.challenge.hash)
                == Some(&matched.challenge.hash)
        });
        if !still_waiting {
            return Ok(ChangeCompletion::Superseded);
        }
        if let NewContact::Email(email) = &matched.new
            && let Some(holder) = state.emails.get(email.as_str()).copied()
        {
            if state.accounts.get(&holder).is_some_and(|held| held.email_verified) {
                return Ok(ChangeCompletion::EmailTaken);
            }
            state.accounts.remove(&holder);
        }
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(ChangeCompletion::Superseded) };
        *Self::pending(stored, matched.new.kind()) = None;
        match &matched.new {
            NewContact::Email(email) => {
                state.emails.remove(stored.account.email.as_str());
                state.emails.insert(email.as_str().to_owned(), id);
                stored.account.email = email.clone();
                stored.email_verified = true;
            }
            NewContact::Phone(phone) => {
                stored.account.phone = phone.clone();
                stored.phone_verified = true;
            }
        }
        Ok(ChangeCompletion::Changed)
    }

    async fn close(
        &self,
        id: AccountId,
        email: &Email,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closed.contains_key(&id) || !state.accounts.contains_key(&id) {
            return Ok(false);
        }
        self.outbox.writable()?;
        self.outbox.add(std::slice::from_ref(announced));
        let Some(stored) = state.accounts.remove(&id) else { return Ok(false) };
        state.emails.remove(email.as_str());
        state.closed.insert(id, Closed { at: now, email: email.clone(), phone: stored.account.phone });
        Ok(true)
    }
}

impl Counters for InMemoryAccounts {
    async fn take(&self, key: &str, window: Window, max: u32) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let counted = state.counters.entry((key.to_owned(), window.index)).or_default();
        if *counted >= max {
            return Ok(false);
        }
        *counted += 1;
        Ok(true)
    }

    async fn give_back(&self, key: &str, window: Window) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counted) = state.counters.get_mut(&(key.to_owned(), window.index)) {
            *counted = counted.saturating_sub(1);
        }
        Ok(())
    }
}

impl ConsentStore for InMemoryAccounts {
    async fn marketing(&self, id: AccountId) -> Result<Option<MarketingConsent>, StoreError> {
        Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner).accounts.get(&id).map(|s| s.account.marketing))
    }

    async fn set_marketing(
        &self,
        id: AccountId,
        channel: Channel,
        on: bool,
        _source: Source,
        now: OffsetDateTime,
    ) -> Result<Option<MarketingConsent>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = state.accounts.get_mut(&id) else { return Ok(None) };
        let (current, opted_in_at) = match channel {
            Channel::Email => (&mut stored.account.marketing.email, &mut stored.opted_in_at[0]),
            Channel::Sms => (&mut stored.account.marketing.sms, &mut stored.opted_in_at[1]),
        };
        if on && !*current {
            *opted_in_at = Some(now);
        }
        *current = on;
        Ok(Some(stored.account.marketing))
    }

    async fn withdraw_by_link(
        &self,
        id: AccountId,
        channel: Channel,
        link_made_at: OffsetDateTime,
        source: Source,
        now: OffsetDateTime,
    ) -> Result<LinkWithdrawal, StoreError> {
        let opted_in_at = {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(stored) = state.accounts.get(&id) else { return Ok(LinkWithdrawal::NoAccount) };
            stored.opted_in_at[usize::from(channel == Channel::Sms)]
        };
        if opted_in_at.is_some_and(|at| at > link_made_at) {
            return Ok(LinkWithdrawal::OptedInSince);
        }
        self.set_marketing(id, channel, false, source, now).await?;
        Ok(LinkWithdrawal::Withdrawn)
    }
}

/// Fixtures for the use cases' tests, here and in the crates that test against these fakes.
pub mod fixtures {
    use crate::accounts::contact::Email;
    /// A valid signup for `email`, with the password `PASSWORD`.
    pub fn signup(email: &str) -> crate::accounts::account::Signup {
        use crate::accounts::account::{MarketingConsent, Signup, TermsVersion};
        use crate::accounts::contact::IranMobile;
        use crate::accounts::password::Password;
        use crate::accounts::person::FullName;
        let email = Email::parse(email).unwrap();
        Signup {
            password: Password::parse(PASSWORD, Some(&email)).unwrap(),
            email,
            phone: IranMobile::parse("09123456789").unwrap(),
            full_name: FullName::parse("مریم کاظمی").unwrap(),
            terms_version: TermsVersion::parse("1404-01").unwrap(),
            marketing: MarketingConsent::default(),
        }
    }

    pub const PASSWORD: &str = "espresso-doppio-42";

    /// One signing key for every test of the process (generating one per test would only cost).
    pub fn session_signer() -> &'static crate::accounts::session::SessionSigner {
        static SIGNER: std::sync::OnceLock<crate::accounts::session::SessionSigner> = std::sync::OnceLock::new();
        SIGNER.get_or_init(|| crate::accounts::session::SessionSigner::generate("test"))
    }

    /// The claims of a fresh session, as a login gives them and every function reads them.
    pub fn session(
        id: crate::kernel::ids::AccountId,
        role: crate::accounts::account::Role,
        generation: u32,
        now: time::OffsetDateTime,
    ) -> crate::accounts::session::Claims {
        let issued = session_signer().issue(id, role, generation, now);
        session_signer().verifying_keys().verify(&issued.token, now).unwrap()
    }

    pub fn code_hasher() -> crate::accounts::verification::CodeHasher {
        crate::accounts::verification::CodeHasher::new(&[7; 32]).unwrap()
    }

    /// Limits no ordinary test comes near; a test of a limit sets its own.
    pub fn limits() -> crate::accounts::abuse_limits::AbuseLimits {
        let generous = crate::accounts::abuse_limits::Limit { max: 1_000, per: time::Duration::HOUR };
        crate::accounts::abuse_limits::AbuseLimits {
            signups_per_address: generous,
            signups_per_phone: generous,
            resends_per_address: generous,
            resends_per_account: generous,
            sms_per_phone: generous,
            failed_logins_per_address: generous,
            exempt_addresses: Vec::new(),
        }
    }
}
