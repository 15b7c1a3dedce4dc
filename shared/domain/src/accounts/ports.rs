//! What the accounts context needs from storage. The accounts table implements both traits in
//! `mizan-aws`; `accounts::testing` keeps them in memory.

use time::OffsetDateTime;

use crate::accounts::abuse_limits::Window;
use crate::accounts::account::{Contacts, MarketingConsent, NewAccount, Role};
use crate::accounts::consent::{Channel, Source};
use crate::accounts::contact::Email;
use crate::accounts::contact_change::PendingChange;
use crate::accounts::password::PasswordHash;
use crate::accounts::session::SessionStanding;
use crate::accounts::verification::{Challenge, ContactKind};
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;

/// What storing a new account came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Registration {
    Created,
    /// The email was held by this account, which never verified it: it is removed, and the new
    /// account holds the email.
    ReplacedUnverified(AccountId),
    /// The email belongs to this account, which verified it; nothing was written.
    EmailTaken(AccountId),
}

/// What completing a change of contact came to.
#[derive(Debug, PartialEq, Eq)]
pub enum ChangeCompletion {
    Changed,
    /// The new email belongs to another account, which verified it; nothing was written.
    EmailTaken,
    /// The change matched is no longer the one waiting (completed, replaced or dropped meanwhile).
    Superseded,
}

/// What a login needs to know about an account.
pub struct Credentials {
    pub id: AccountId,
    pub role: Role,
    pub password_hash: PasswordHash,
    pub email_verified: bool,
    /// What a new session is issued under.
    pub session_generation: u32,
}

pub trait AccountStore {
    /// Stores a new account, claims its email and keeps the events that announce it, at once:
    /// either all are written or, when the email belongs to an account that verified it,
    /// nothing is. An account holding the email without having verified it is removed in the
    /// same write. The account and its hold on the email end at `unverified_until` unless its
    /// email is verified by then.
    async fn register(&self, account: &NewAccount, announced: &[Envelope]) -> Result<Registration, StoreError>;

    async fn account_id_for(&self, email: &Email) -> Result<Option<AccountId>, StoreError>;

    async fn credentials(&self, id: AccountId) -> Result<Option<Credentials>, StoreError>;

    /// What the account says of its sessions now, or `None` once it is closed: what a session's
    /// claims are checked against on every authenticated request.
    async fn session_standing(&self, id: AccountId) -> Result<Option<SessionStanding>, StoreError>;

    /// Ends one session (`sid`, which expires at `expires_at`); the record of it goes once it
    /// would have expired anyway. `false` when the account is gone.
    async fn end_session(
        &self,
        id: AccountId,
        sid: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Ends every session of the account at once, by moving its session generation on. `false`
    /// when the account is gone.
    async fn end_all_sessions(&self, id: AccountId) -> Result<bool, StoreError>;

    /// The contacts of an account and their verification state, nothing else of it.
    async fn contacts(&self, id: AccountId) -> Result<Option<Contacts>, StoreError>;

    /// Takes one attempt at the open challenge of a contact, returning it as it stands after
    /// the attempt was counted; `None` when no live challenge is left (used, expired, or out of
    /// attempts). Counting before judging, in one atomic step, is what makes the limit hold
    /// under concurrent guesses.
    async fn take_attempt(
        &self,
        id: AccountId,
        kind: ContactKind,
        now: OffsetDateTime,
    ) -> Result<Option<Challenge>, StoreError>;

    /// Marks the contact verified and retires the challenge, provided it is still the one that
    /// was matched and — for the email — the account still holds its email: of two concurrent
    /// confirmations, one wins. A verified email keeps the account for good. Returns whether
    /// this call did.
    async fn confirm(&self, id: AccountId, kind: ContactKind, matched: &Challenge) -> Result<bool, StoreError>;

    /// Replaces the open challenge of a contact not yet verified with `challenge` (its attempts
    /// from zero) and keeps the event that sends it, at once; for the email, the account and its
    /// hold on `email` are kept until the new challenge expires. `false` (nothing written) when
    /// the account is gone or the contact verified meanwhile.
    async fn renew_challenge(
        &self,
        id: AccountId,
        email: &Email,
        kind: ContactKind,
        challenge: &Challenge,
        announced: &Envelope,
    ) -> Result<bool, StoreError>;

    /// Opens a password reset: its link's `challenge` replaces any open one, and the event that
    /// sends it is kept, at once. `false` when the account is gone.
    async fn open_reset(&self, id: AccountId, challenge: &Challenge, announced: &Envelope) -> Result<bool, StoreError>;

    /// Sets `new_hash` as the password, provided `token_hash` is the open reset's and it has not
    /// expired; closes the reset, drops any contact change still waiting, ends every session of
    /// the account and keeps the event that tells its owner, at once. `false` otherwise (wrong,
    /// used or expired), with nothing changed.
    async fn complete_reset(
        &self,
        id: AccountId,
        token_hash: &str,
        new_hash: &PasswordHash,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<bool, StoreError>;

    /// Sets `new_hash` as the password, drops any contact change still waiting, ends every
    /// session of the account and keeps the event that tells its owner, at once; the account's
    /// new session generation, or `None` when the account is gone.
    async fn set_password(
        &self,
        id: AccountId,
        new_hash: &PasswordHash,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<Option<u32>, StoreError>;

    /// Opens a change of contact: `change` replaces any change of that kind still waiting, and
    /// the event that sends its proof (and tells the old contact) is kept, at once. `false` when
    /// the account is gone.
    async fn open_contact_change(
        &self,
        id: AccountId,
        change: &PendingChange,
        announced: &Envelope,
    ) -> Result<bool, StoreError>;

    /// Takes one attempt at the change of that kind still waiting, returning it as it stands
    /// after the attempt was counted; `None` when no live one is left (as `take_attempt`).
    async fn take_change_attempt(
        &self,
        id: AccountId,
        kind: ContactKind,
        now: OffsetDateTime,
    ) -> Result<Option<PendingChange>, StoreError>;

    /// Makes the matched change's contact the account's, proven, provided it is still the one
    /// waiting. A new email's guard moves to the account at once (an account holding that email
    /// without having verified it loses it and is removed, as at signup), and the old email is
    /// freed.
    async fn complete_contact_change(
        &self,
        id: AccountId,
        matched: &PendingChange,
    ) -> Result<ChangeCompletion, StoreError>;

    /// Erases the account, frees its email and keeps the event that announces the closure, at
    /// once, keeping only that and when it was closed. `false` (and nothing written) when it was
    /// closed already.
    async fn close(
        &self,
        id: AccountId,
        email: &Email,
        now: OffsetDateTime,
        announced: &Envelope,
    ) -> Result<bool, StoreError>;
}

/// The abuse limits' counters, per key (a limit's name and a keyed hash of what it counts) and
/// window.
pub trait Counters {
    /// Counts one; `false` (and nothing counted) when `max` were counted in the window already.
    async fn take(&self, key: &str, window: Window, max: u32) -> Result<bool, StoreError>;

    /// Takes one count back (after a success that should not use up the window).
    async fn give_back(&self, key: &str, window: Window) -> Result<(), StoreError>;
}

/// Marketing consent, per channel, with the record of every change (P6, P7).
/// What a link's withdrawal of consent came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkWithdrawal {
    /// The channel is off (it may have been already).
    Withdrawn,
    /// The customer turned the channel on after the link was made: the link must not undo
    /// that newer choice (P7), so nothing changed.
    OptedInSince,
    NoAccount,
}

pub trait ConsentStore {
    async fn marketing(&self, id: AccountId) -> Result<Option<MarketingConsent>, StoreError>;

    /// Turns one channel on or off and records the change (channel, old → new, source, time) in
    /// the same write, the last `consent::HISTORY_KEPT` changes kept; setting what is set records
    /// nothing. The consent as it stands after, or `None` when there is no such account.
    async fn set_marketing(
        &self,
        id: AccountId,
        channel: Channel,
        on: bool,
        source: Source,
        now: OffsetDateTime,
    ) -> Result<Option<MarketingConsent>, StoreError>;

    /// Turns one channel off for a link made at `link_made_at`, recorded as `set_marketing`
    /// records — unless the channel was turned on after that.
    async fn withdraw_by_link(
        &self,
        id: AccountId,
        channel: Channel,
        link_made_at: OffsetDateTime,
        source: Source,
        now: OffsetDateTime,
    ) -> Result<LinkWithdrawal, StoreError>;
}
