//! Changing one's email or mobile number while logged in (P9, P12): the current password first,
//! under the login's guessing limit, so a stolen session cannot move the account elsewhere; then
//! the new contact is proven the way a new account proves its own — a link to the new email, a
//! code to the new number — and only then replaces the old one. Until it does, the account's
//! messages, password resets included, still go to the old contact, which is told of the change
//! as soon as it is asked for. A password reset or change drops any change still waiting, so an
//! owner who was not asking can stop it.

use time::{Duration, OffsetDateTime};

use crate::accounts::abuse_limits::{self, AbuseLimits, PasswordCheck};
use crate::accounts::contact::{Email, IranMobile};
use crate::accounts::ports::{AccountStore, ChangeCompletion, Counters};
use crate::accounts::verification::{
    Challenge, CodeHasher, ContactKind, EMAIL_TOKEN_LIFETIME, EmailToken, SMS_CODE_LIFETIME, SmsCode,
};
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;

const EMAIL_PURPOSE: &str = "email-change";
const PHONE_PURPOSE: &str = "phone-change";

/// A contact a customer wants their account to have in place of the one it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewContact {
    Email(Email),
    Phone(IranMobile),
}

impl NewContact {
    pub fn kind(&self) -> ContactKind {
        match self {
            Self::Email(_) => ContactKind::Email,
            Self::Phone(_) => ContactKind::Phone,
        }
    }
}

/// A change waiting for its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    pub new: NewContact,
    pub challenge: Challenge,
}

/// What asking for a change came to.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The proof went to the new contact, and the notice to the old one.
    Sent,
    /// The new contact is the one the account has, proven already: nothing to change.
    Unchanged,
    WrongPassword,
    /// Too many wrong passwords for this account recently (the login's budget).
    Locked(Duration),
    /// This account, or this number, had its share of messages for now.
    Limited(Duration),
    /// The account closed meanwhile.
    Gone,
}

/// What a proof of the new contact came to.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The new contact is the account's, proven.
    Changed,
    /// Wrong, used, expired or malformed: deliberately alike.
    Failed,
    /// The new email is another account's, which proved it: nothing changed. Only the owner of
    /// that inbox, who followed the link, learns it.
    EmailTaken,
}

/// Asks for the account of `session` to have `new` as its contact, once proven; a new request
/// replaces one still waiting.
pub async fn request(
    accounts: &(impl AccountStore + Counters),
    codes: &CodeHasher,
    limits: &AbuseLimits,
    id: AccountId,
    new: NewContact,
    password: &str,
    now: OffsetDateTime,
) -> Result<RequestOutcome, StoreError> {
    let (Some(contacts), Some(credentials)) = (accounts.contacts(id).await?, accounts.credentials(id).await?) else {
        return Ok(RequestOutcome::Gone);
    };
    let check =
        abuse_limits::check_password(accounts, codes, &contacts.email, &credentials.password_hash, password, now);
    match check.await? {
        PasswordCheck::Right => {}
        PasswordCheck::Wrong => return Ok(RequestOutcome::WrongPassword),
        PasswordCheck::Locked(wait) => return Ok(RequestOutcome::Locked(wait)),
    }
    let unchanged = match &new {
        NewContact::Email(email) => *email == contacts.email,
        NewContact::Phone(phone) => *phone == contacts.phone && contacts.phone_verified,
    };
    if unchanged {
        return Ok(RequestOutcome::Unchanged);
    }
    // Each request sends two messages, one of them to an address nobody has proven yet.
    let mut shares = vec![("contact-change-account", limits.resends_per_account, id.to_string())];
    if let NewContact::Phone(phone) = &new {
        shares.push(("sms-phone", limits.sms_per_phone, phone.as_e164().to_owned()));
    }
    for (name, limit, subject) in shares {
        if let Err(wait) = abuse_limits::take(accounts, codes, name, limit, &subject, now).await? {
            tracing::info!(account = %id, limit = name, "contact change refused by an abuse limit");
            return Ok(RequestOutcome::Limited(wait));
        }
    }
    let (challenge, asked) = match &new {
        NewContact::Email(_) => {
            let token = EmailToken::generate(id);
            let challenge = Challenge::new(token.hash_for(codes, EMAIL_PURPOSE), now, EMAIL_TOKEN_LIFETIME);
            (challenge, DomainEvent::EmailChangeRequested { account_id: id, token: token.to_text() })
        }
        NewContact::Phone(_) => {
            let code = SmsCode::generate();
            let challenge = Challenge::new(code.hash_for(codes, PHONE_PURPOSE), now, SMS_CODE_LIFETIME);
            (challenge, DomainEvent::PhoneChangeRequested { account_id: id, code: code.as_str().to_owned() })
        }
    };
    let kind = new.kind();
    if !accounts.open_contact_change(id, &PendingChange { new, challenge }, &Envelope::new(asked, now)).await? {
        return Ok(RequestOutcome::Gone);
    }
    tracing::info!(account = %id, contact = ?kind, "contact change asked for; the proof is on its way");
    Ok(RequestOutcome::Sent)
}

/// Completes an email change with the token from the link sent to the new address. The link
/// alone is the proof: whoever reads that inbox may follow it, logged in or not.
pub async fn confirm_email(
    accounts: &impl AccountStore,
    codes: &CodeHasher,
    token: &str,
    now: OffsetDateTime,
) -> Result<ConfirmOutcome, StoreError> {
    let Some(token) = EmailToken::parse(token) else { return Ok(ConfirmOutcome::Failed) };
    confirm(accounts, token.account, ContactKind::Email, &token.hash_for(codes, EMAIL_PURPOSE), now).await
}

/// Completes a change of number with the code sent to the new one, for the logged-in account.
pub async fn confirm_phone(
    accounts: &impl AccountStore,
    codes: &CodeHasher,
    id: AccountId,
    code: &str,
    now: OffsetDateTime,
) -> Result<ConfirmOutcome, StoreError> {
    // A malformed code is a wrong code: it counts against the limit like any other guess.
    let candidate = SmsCode::parse(code).map(|code| code.hash_for(codes, PHONE_PURPOSE)).unwrap_or_default();
    confirm(accounts, id, ContactKind::Phone, &candidate, now).await
}

async fn confirm(
    accounts: &impl AccountStore,
    id: AccountId,
    kind: ContactKind,
    candidate_hash: &str,
    now: OffsetDateTime,
) -> Result<ConfirmOutcome, StoreError> {
    let Some(pending) = accounts.take_change_attempt(id, kind, now).await? else { return Ok(ConfirmOutcome::Failed) };
    if !pending.challenge.matches(candidate_hash) {
        tracing::info!(account = %id, contact = ?kind, attempts = pending.challenge.attempts, "wrong contact change secret");
        return Ok(ConfirmOutcome::Failed);
    }
    Ok(match accounts.complete_contact_change(id, &pending).await? {
        ChangeCompletion::Changed => {
            tracing::info!(account = %id, contact = ?kind, "contact changed");
            ConfirmOutcome::Changed
        }
        ChangeCompletion::EmailTaken => ConfirmOutcome::EmailTaken,
        ChangeCompletion::Superseded => ConfirmOutcome::Failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::contact::Email;
    use crate::accounts::password_reset;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, limits, signup};

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn email(text: &str) -> Email {
        Email::parse(text).unwrap()
    }

    async fn verified(accounts: &InMemoryAccounts, address: &str) -> AccountId {
        register(accounts, &accounts.outbox, &code_hasher(), &limits(), signup(address), None, now()).await.unwrap();
        let id = accounts.account_id_for(&email(address)).await.unwrap().unwrap();
        accounts.verify_contacts(id);
        id
    }

    async fn ask(accounts: &InMemoryAccounts, id: AccountId, new: NewContact, password: &str) -> RequestOutcome {
        request(accounts, &code_hasher(), &limits(), id, new, password, now()).await.unwrap()
    }

    fn last_email_change_token(accounts: &InMemoryAccounts) -> String {
        let token = accounts.outbox.newest(|event| match event {
            DomainEvent::EmailChangeRequested { token, .. } => Some(token),
            _ => None,
        });
        token.unwrap()
    }

    fn last_phone_change_code(accounts: &InMemoryAccounts) -> String {
        let code = accounts.outbox.newest(|event| match event {
            DomainEvent::PhoneChangeRequested { code, .. } => Some(code),
            _ => None,
        });
        code.unwrap()
    }

    #[tokio::test]
    async fn p9_a_new_email_replaces_the_old_only_once_its_link_is_followed() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        let new = email("maryam.k@example.org");
        assert_eq!(ask(&accounts, id, NewContact::Email(new.clone()), PASSWORD).await, RequestOutcome::Sent);
        let waiting = accounts.contacts(id).await.unwrap().unwrap();
        assert_eq!(waiting.email, email("maryam@example.com"), "the old email stays the account's meanwhile");
        assert_eq!(waiting.pending_email.as_ref(), Some(&new));
        assert_eq!(accounts.account_id_for(&new).await.unwrap(), None, "nobody holds the new one yet");

        let token = last_email_change_token(&accounts);
        assert_eq!(confirm_email(&accounts, &code_hasher(), &token, now()).await.unwrap(), ConfirmOutcome::Changed);
        let changed = accounts.contacts(id).await.unwrap().unwrap();
        assert_eq!((changed.email, changed.email_verified, changed.pending_email), (new.clone(), true, None));
        assert_eq!(accounts.account_id_for(&new).await.unwrap(), Some(id));
        assert_eq!(accounts.account_id_for(&email("maryam@example.com")).await.unwrap(), None, "the old one is free");
        assert_eq!(
            confirm_email(&accounts, &code_hasher(), &token, now()).await.unwrap(),
            ConfirmOutcome::Failed,
            "a link works once"
        );
    }

    #[tokio::test]
    async fn p12_a_change_needs_the_current_password() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        let new = NewContact::Email(email("thief@example.net"));
        assert_eq!(ask(&accounts, id, new.clone(), "not-the-password").await, RequestOutcome::WrongPassword);
        assert!(accounts.contacts(id).await.unwrap().unwrap().pending_email.is_none());
        for _ in 0..4 {
            ask(&accounts, id, new.clone(), "still-not-it").await;
        }
        assert!(matches!(ask(&accounts, id, new, PASSWORD).await, RequestOutcome::Locked(_)), "the login's budget");
    }

    #[tokio::test]
    async fn the_email_or_number_the_account_has_is_no_change() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        let same_email = NewContact::Email(email("Maryam@Example.com"));
        assert_eq!(ask(&accounts, id, same_email, PASSWORD).await, RequestOutcome::Unchanged);
        let phone = accounts.contacts(id).await.unwrap().unwrap().phone;
        assert_eq!(ask(&accounts, id, NewContact::Phone(phone), PASSWORD).await, RequestOutcome::Unchanged);
    }

    #[tokio::test]
    async fn p9_an_email_another_account_proved_stays_its_own() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        let other = verified(&accounts, "sara@example.com").await;
        ask(&accounts, id, NewContact::Email(email("sara@example.com")), PASSWORD).await;
        let token = last_email_change_token(&accounts);
        assert_eq!(confirm_email(&accounts, &code_hasher(), &token, now()).await.unwrap(), ConfirmOutcome::EmailTaken);
        assert_eq!(accounts.account_id_for(&email("sara@example.com")).await.unwrap(), Some(other));
        assert_eq!(accounts.contacts(id).await.unwrap().unwrap().email, email("maryam@example.com"));
    }

    #[tokio::test]
    async fn p9_an_email_held_unproven_goes_to_whoever_proves_it() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup("sara@example.com"), None, now())
            .await
            .unwrap();
        let squatter = accounts.account_id_for(&email("sara@example.com")).await.unwrap().unwrap();
        ask(&accounts, id, NewContact::Email(email("sara@example.com")), PASSWORD).await;
        let token = last_email_change_token(&accounts);
        assert_eq!(confirm_email(&accounts, &code_hasher(), &token, now()).await.unwrap(), ConfirmOutcome::Changed);
        assert_eq!(accounts.account_id_for(&email("sara@example.com")).await.unwrap(), Some(id));
        assert!(accounts.contacts(squatter).await.unwrap().is_none(), "the unproven holder is gone");
    }

    #[tokio::test]
    async fn p9_a_new_number_replaces_the_old_once_its_code_is_entered() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        let new = IranMobile::parse("09351112233").unwrap();
        assert_eq!(ask(&accounts, id, NewContact::Phone(new.clone()), PASSWORD).await, RequestOutcome::Sent);
        let code = last_phone_change_code(&accounts);
        assert_eq!(
            confirm_phone(&accounts, &code_hasher(), id, "000000", now()).await.unwrap(),
            ConfirmOutcome::Failed
        );
        assert_ne!(accounts.contacts(id).await.unwrap().unwrap().phone, new);
        assert_eq!(confirm_phone(&accounts, &code_hasher(), id, &code, now()).await.unwrap(), ConfirmOutcome::Changed);
        let changed = accounts.contacts(id).await.unwrap().unwrap();
        assert_eq!((changed.phone, changed.phone_verified, changed.pending_phone), (new, true, None));
    }

    #[tokio::test]
    async fn p2_a_signup_code_proves_no_change_of_number() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        ask(&accounts, id, NewContact::Phone(IranMobile::parse("09351112233").unwrap()), PASSWORD).await;
        let code = last_phone_change_code(&accounts);
        let hashed_for_signup = SmsCode::parse(&code).unwrap().hash(&code_hasher());
        let pending = accounts.take_change_attempt(id, ContactKind::Phone, now()).await.unwrap().unwrap();
        assert!(!pending.challenge.matches(&hashed_for_signup), "the purposes differ");
    }

    #[tokio::test]
    async fn p12_a_password_reset_drops_a_change_still_waiting() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        ask(&accounts, id, NewContact::Email(email("thief@example.net")), PASSWORD).await;
        let token = last_email_change_token(&accounts);
        password_reset::request(&accounts, &code_hasher(), &limits(), &email("maryam@example.com"), None, now())
            .await
            .unwrap();
        let reset_token = accounts.outbox.newest(|event| match event {
            DomainEvent::PasswordResetRequested { token, .. } => Some(token),
            _ => None,
        });
        let reset_token = reset_token.unwrap();
        let codes = code_hasher();
        let done = password_reset::confirm(&accounts, &codes, &reset_token, "a-brand-new-roast-77", now());
        assert_eq!(done.await.unwrap(), password_reset::ResetOutcome::Done);
        assert_eq!(confirm_email(&accounts, &code_hasher(), &token, now()).await.unwrap(), ConfirmOutcome::Failed);
        assert_eq!(accounts.contacts(id).await.unwrap().unwrap().email, email("maryam@example.com"));
    }

    #[tokio::test]
    async fn changes_are_limited_per_account() {
        let accounts = InMemoryAccounts::default();
        let id = verified(&accounts, "maryam@example.com").await;
        let max = limits().resends_per_account.max;
        for n in 0..max {
            let new = NewContact::Email(email(&format!("maryam{n}@example.org")));
            assert_eq!(ask(&accounts, id, new, PASSWORD).await, RequestOutcome::Sent);
        }
        let one_more = NewContact::Email(email("maryam.last@example.org"));
        assert!(matches!(ask(&accounts, id, one_more, PASSWORD).await, RequestOutcome::Limited(_)));
    }
}
