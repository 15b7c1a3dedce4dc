//! Signing up and proving one's contacts (P2, P5, P9, P12).

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::accounts::abuse_limits::{self, AbuseLimits};
use crate::accounts::account::{NewAccount, Signup, TermsAcceptance, UNVERIFIED_ACCOUNT_LIFETIME};
use crate::accounts::contact::Email;
use crate::accounts::password::HashingFailed;
use crate::accounts::ports::{AccountStore, Counters, Registration};
use crate::accounts::verification::{
    Challenge, CodeHasher, ContactKind, EMAIL_TOKEN_LIFETIME, EmailToken, SMS_CODE_LIFETIME, SmsCode,
};
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::kernel::ports::Outbox;

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hashing(#[from] HashingFailed),
    /// Too many signups from this client address or for this phone number lately: nothing was
    /// stored or sent; try again after this long.
    #[error("signups are limited for now")]
    Limited(time::Duration),
}

/// Registers a signup, or — when its email belongs to an account that verified it — changes
/// nothing and lets the owner know. An account that never verified its email holds it for no
/// one: the new signup replaces it, with its own password, and the old account's links stop
/// working. Every case ends the same way for the caller, so the answer never tells a stranger
/// which emails have accounts; the password is hashed in each, so neither does the timing.
pub async fn register(
    accounts: &(impl AccountStore + Counters),
    events: &impl Outbox,
    codes: &CodeHasher,
    limits: &AbuseLimits,
    signup: Signup,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(), RegistrationError> {
    // Each signup sends an email and an SMS to whatever it names: limited before anything is
    // hashed, stored or sent.
    let limit = limits.signups_per_address;
    if let Err(wait) =
        abuse_limits::take_for_address(accounts, codes, limits, "signup-address", limit, source_ip, now).await?
    {
        tracing::info!(limit = "signup-address", "signup refused by an abuse limit");
        return Err(RegistrationError::Limited(wait));
    }
    let phone = signup.phone.as_e164();
    for (name, limit, subject) in
        [("signup-phone", limits.signups_per_phone, phone), ("sms-phone", limits.sms_per_phone, phone)]
    {
        if let Err(wait) = abuse_limits::take(accounts, codes, name, limit, subject, now).await? {
            tracing::info!(limit = name, "signup refused by an abuse limit");
            return Err(RegistrationError::Limited(wait));
        }
    }
    let id = AccountId::new();
    let email_token = EmailToken::generate(id);
    let sms_code = SmsCode::generate();
    let account = NewAccount {
        id,
        password_hash: signup.password.hash()?,
        email: signup.email,
        phone: signup.phone,
        full_name: signup.full_name,
        terms: TermsAcceptance { version: signup.terms_version, accepted_at: now, source_ip },
        marketing: signup.marketing,
        email_challenge: Challenge::new(email_token.hash(codes), now, EMAIL_TOKEN_LIFETIME),
        phone_challenge: Challenge::new(sms_code.hash(codes), now, SMS_CODE_LIFETIME),
        created_at: now,
        unverified_until: now + UNVERIFIED_ACCOUNT_LIFETIME,
    };
    // The messages that let the customer prove both contacts are kept with the account itself:
    // an account is never stored without them, whatever happens to the topic afterwards.
    let verification = [
        Envelope::new(DomainEvent::EmailVerificationRequested { account_id: id, token: email_token.to_text() }, now),
        Envelope::new(
            DomainEvent::PhoneVerificationRequested { account_id: id, code: sms_code.as_str().to_owned() },
            now,
        ),
    ];
    match accounts.register(&account, &verification).await? {
        Registration::Created => tracing::info!(account = %id, "account registered"),
        Registration::ReplacedUnverified(replaced) => {
            tracing::info!(account = %id, %replaced, "account registered in place of one that never verified its email");
        }
        Registration::EmailTaken(existing) => {
            // At most one notice a day per account: repeated signups cannot flood its owner.
            let notice = DomainEvent::SignupAttemptedOnExistingAccount { account_id: existing };
            let once_a_day = format!("signup-notice#{existing}#{}", now.date());
            if let Err(error) = events.keep(&Envelope::once_per(&once_a_day, notice, now)).await {
                // The notice is a courtesy; failing the request would reveal the account.
                tracing::warn!(account = %existing, %error, "could not keep the existing-account notice");
            }
            tracing::info!(account = %existing, "signup with a registered email; nothing changed");
        }
    }
    Ok(())
}

/// Sends a contact's verification again — a fresh link, or a fresh SMS code with its attempts
/// counted from zero — replacing the one before, which stops working. The caller is told the
/// same whatever the email: nothing is sent for an unknown email, a contact already verified,
/// or an account past its own share of resends, and none of those is said.
pub async fn resend(
    accounts: &(impl AccountStore + Counters),
    codes: &CodeHasher,
    limits: &AbuseLimits,
    kind: ContactKind,
    email: &Email,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(), RegistrationError> {
    let limit = limits.resends_per_address;
    if let Err(wait) =
        abuse_limits::take_for_address(accounts, codes, limits, "resend-address", limit, source_ip, now).await?
    {
        return Err(RegistrationError::Limited(wait));
    }
    let Some(id) = accounts.account_id_for(email).await? else { return Ok(()) };
    let Some(contacts) = accounts.contacts(id).await? else { return Ok(()) };
    let verified = match kind {
        ContactKind::Email => contacts.email_verified,
        ContactKind::Phone => contacts.phone_verified,
    };
    if verified {
        return Ok(());
    }
    let mut shares = vec![("resend-account", limits.resends_per_account, id.to_string())];
    if kind == ContactKind::Phone {
        shares.push(("sms-phone", limits.sms_per_phone, contacts.phone.as_e164().to_owned()));
    }
    for (name, limit, subject) in shares {
        if abuse_limits::take(accounts, codes, name, limit, &subject, now).await?.is_err() {
            tracing::info!(account = %id, limit = name, "resend refused by an abuse limit");
            return Ok(());
        }
    }
    let (challenge, asked) = match kind {
        ContactKind::Email => {
            let token = EmailToken::generate(id);
            let challenge = Challenge::new(token.hash(codes), now, EMAIL_TOKEN_LIFETIME);
            (challenge, DomainEvent::EmailVerificationRequested { account_id: id, token: token.to_text() })
        }
        ContactKind::Phone => {
            let code = SmsCode::generate();
            let challenge = Challenge::new(code.hash(codes), now, SMS_CODE_LIFETIME);
            (challenge, DomainEvent::PhoneVerificationRequested { account_id: id, code: code.as_str().to_owned() })
        }
    };
    if accounts.renew_challenge(id, &contacts.email, kind, &challenge, &Envelope::new(asked, now)).await? {
        tracing::info!(account = %id, contact = ?kind, "verification sent again");
    }
    Ok(())
}

/// Confirms an email with the token from its link. `false` for anything that is not a live
/// token of that account: wrong, used, expired or malformed look the same from outside.
pub async fn verify_email(
    accounts: &impl AccountStore,
    codes: &CodeHasher,
    token: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let Some(token) = EmailToken::parse(token) else { return Ok(false) };
    attempt(accounts, token.account, ContactKind::Email, &token.hash(codes), now).await
}

/// Confirms a phone with the SMS code, for the account of `email`.
pub async fn verify_phone(
    accounts: &impl AccountStore,
    codes: &CodeHasher,
    email: &Email,
    code: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let Some(account) = accounts.account_id_for(email).await? else { return Ok(false) };
    // A malformed code is a wrong code: it counts against the limit like any other guess.
    let candidate = SmsCode::parse(code).map(|code| code.hash(codes)).unwrap_or_default();
    attempt(accounts, account, ContactKind::Phone, &candidate, now).await
}

async fn attempt(
    accounts: &impl AccountStore,
    account: AccountId,
    kind: ContactKind,
    candidate_hash: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let Some(challenge) = accounts.take_attempt(account, kind, now).await? else { return Ok(false) };
    if !challenge.matches(candidate_hash) {
        tracing::info!(%account, contact = ?kind, attempts = challenge.attempts, "wrong verification secret");
        return Ok(false);
    }
    let confirmed = accounts.confirm(account, kind, &challenge).await?;
    if confirmed {
        tracing::info!(%account, contact = ?kind, "contact verified");
    }
    Ok(confirmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, limits, signup};
    use crate::kernel::testing::OutboxEvents;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    async fn registered(accounts: &InMemoryAccounts, email: &str) -> AccountId {
        register(accounts, &accounts.outbox, &code_hasher(), &limits(), signup(email), None, now()).await.unwrap();
        accounts.account_id_for(&Email::parse(email).unwrap()).await.unwrap().unwrap()
    }

    fn sms_code(events: &OutboxEvents) -> String {
        events
            .newest(|event| match event {
                DomainEvent::PhoneVerificationRequested { code, .. } => Some(code),
                _ => None,
            })
            .unwrap()
    }

    #[tokio::test]
    async fn p2_a_signup_stores_the_account_and_asks_to_verify_both_contacts() {
        let accounts = InMemoryAccounts::default();
        let id = registered(&accounts, "maryam@example.com").await;
        let published = accounts.outbox.events();
        assert_eq!(published.len(), 2);
        assert!(matches!(published[0], DomainEvent::EmailVerificationRequested { account_id, .. } if account_id == id));
        assert!(matches!(published[1], DomainEvent::PhoneVerificationRequested { account_id, .. } if account_id == id));
        let contacts = accounts.contacts(id).await.unwrap().unwrap();
        assert!(!contacts.email_verified && !contacts.phone_verified);
    }

    fn email_token(events: &OutboxEvents) -> String {
        events
            .newest(|event| match event {
                DomainEvent::EmailVerificationRequested { token, .. } => Some(token),
                _ => None,
            })
            .unwrap()
    }

    #[tokio::test]
    async fn p9_a_signup_with_a_verified_email_changes_nothing_and_only_tells_the_owner() {
        let accounts = InMemoryAccounts::default();
        let owner = registered(&accounts, "maryam@example.com").await;
        accounts.verify_contacts(owner);
        let mut again = signup("maryam@example.com");
        again.password = crate::accounts::password::Password::parse("another-secret-77", None).unwrap();
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), again, None, now()).await.unwrap();
        assert_eq!(accounts.count(), 1);
        assert_eq!(
            accounts.outbox.events().last(),
            Some(&DomainEvent::SignupAttemptedOnExistingAccount { account_id: owner })
        );
        assert!(accounts.credentials(owner).await.unwrap().unwrap().password_hash.verify(PASSWORD));
    }

    #[tokio::test]
    async fn p9_a_squatter_loses_an_unverified_email_to_its_owners_signup_and_its_link_stops_working() {
        let accounts = InMemoryAccounts::default();
        let email = "owner@example.com";
        let squatter = registered(&accounts, email).await;
        let squatters_link = email_token(&accounts.outbox);
        let mut owners = signup(email);
        owners.password = crate::accounts::password::Password::parse("the-owners-secret-9", None).unwrap();
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), owners, None, now()).await.unwrap();

        let owner = accounts.account_id_for(&Email::parse(email).unwrap()).await.unwrap().unwrap();
        assert_ne!(owner, squatter);
        assert_eq!(accounts.count(), 1, "the squatter's account is gone");
        assert!(accounts.credentials(squatter).await.unwrap().is_none());
        assert!(!verify_email(&accounts, &code_hasher(), &squatters_link, now()).await.unwrap(), "old link dead");
        assert!(verify_email(&accounts, &code_hasher(), &email_token(&accounts.outbox), now()).await.unwrap());
        assert!(accounts.credentials(owner).await.unwrap().unwrap().password_hash.verify("the-owners-secret-9"));
        assert!(
            !accounts.outbox.events().iter().any(|e| matches!(e, DomainEvent::SignupAttemptedOnExistingAccount { .. })),
            "nobody is told of an account that never was"
        );
    }

    #[tokio::test]
    async fn signups_from_one_address_or_for_one_phone_stop_at_their_limit_and_send_nothing_more() {
        use crate::accounts::abuse_limits::Limit;
        let accounts = InMemoryAccounts::default();
        let limits = AbuseLimits {
            signups_per_address: Limit { max: 3, per: time::Duration::HOUR },
            sms_per_phone: Limit { max: 4, per: time::Duration::DAY },
            ..limits()
        };
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let codes = code_hasher();
        let sign_up = |n: usize, ip| {
            register(&accounts, &accounts.outbox, &codes, &limits, signup(&format!("m{n}@example.com")), ip, now())
        };
        for n in 0..3 {
            sign_up(n, Some(ip)).await.unwrap();
        }
        let refused = sign_up(3, Some(ip)).await;
        assert!(
            matches!(refused, Err(RegistrationError::Limited(wait)) if wait == time::Duration::HOUR),
            "{refused:?}"
        );
        sign_up(4, Some("198.51.100.2".parse().unwrap())).await.unwrap();
        // Every signup here names the same phone: its fifth SMS of the day is not sent.
        assert!(matches!(sign_up(5, Some("198.51.100.3".parse().unwrap())).await, Err(RegistrationError::Limited(_))));
        assert_eq!(accounts.count(), 4);
        assert_eq!(accounts.outbox.events().len(), 8, "an email and an SMS for each account, no more");
    }

    #[tokio::test]
    async fn p2_a_resent_link_replaces_the_old_one_and_a_resent_code_starts_its_attempts_afresh() {
        let accounts = InMemoryAccounts::default();
        let id = registered(&accounts, "maryam@example.com").await;
        let email = Email::parse("maryam@example.com").unwrap();
        let (codes, limits) = (code_hasher(), limits());
        let (first_link, first_code) = (email_token(&accounts.outbox), sms_code(&accounts.outbox));
        let wrong = if first_code == "000000" { "111111" } else { "000000" };
        for _ in 0..crate::accounts::verification::MAX_ATTEMPTS {
            verify_phone(&accounts, &codes, &email, wrong, now()).await.unwrap();
        }
        resend(&accounts, &codes, &limits, ContactKind::Phone, &email, None, now()).await.unwrap();
        let code = sms_code(&accounts.outbox);
        assert!(verify_phone(&accounts, &codes, &email, &code, now()).await.unwrap(), "attempts afresh");

        resend(&accounts, &codes, &limits, ContactKind::Email, &email, None, now()).await.unwrap();
        let link = email_token(&accounts.outbox);
        assert_ne!(link, first_link);
        assert!(!verify_email(&accounts, &codes, &first_link, now()).await.unwrap(), "the old link is dead");
        assert!(verify_email(&accounts, &codes, &link, now()).await.unwrap());
        let contacts = accounts.contacts(id).await.unwrap().unwrap();
        assert!(contacts.email_verified && contacts.phone_verified);
    }

    #[tokio::test]
    async fn a_resend_sends_nothing_for_an_unknown_email_a_verified_contact_or_past_the_accounts_share() {
        use crate::accounts::abuse_limits::Limit;
        let accounts = InMemoryAccounts::default();
        let id = registered(&accounts, "maryam@example.com").await;
        let limits = AbuseLimits { resends_per_account: Limit { max: 2, per: time::Duration::HOUR }, ..limits() };
        let (codes, known, unknown) =
            (code_hasher(), Email::parse("maryam@example.com").unwrap(), Email::parse("nobody@example.com").unwrap());
        let before = accounts.outbox.events().len();
        resend(&accounts, &codes, &limits, ContactKind::Email, &unknown, None, now()).await.unwrap();
        assert_eq!(accounts.outbox.events().len(), before, "an unknown email");
        for _ in 0..3 {
            resend(&accounts, &codes, &limits, ContactKind::Email, &known, None, now()).await.unwrap();
        }
        assert_eq!(accounts.outbox.events().len(), before + 2, "the account's share is two");
        accounts.verify_contacts(id);
        let later = now() + time::Duration::HOUR;
        resend(&accounts, &codes, &limits, ContactKind::Phone, &known, None, later).await.unwrap();
        assert_eq!(accounts.outbox.events().len(), before + 2, "a verified contact");
    }

    #[tokio::test]
    async fn resends_from_one_address_stop_at_its_limit() {
        use crate::accounts::abuse_limits::Limit;
        let accounts = InMemoryAccounts::default();
        registered(&accounts, "maryam@example.com").await;
        let limits = AbuseLimits { resends_per_address: Limit { max: 1, per: time::Duration::HOUR }, ..limits() };
        let (email, ip) = (Email::parse("someone@example.com").unwrap(), Some("203.0.113.5".parse().unwrap()));
        resend(&accounts, &code_hasher(), &limits, ContactKind::Email, &email, ip, now()).await.unwrap();
        let refused = resend(&accounts, &code_hasher(), &limits, ContactKind::Email, &email, ip, now()).await;
        assert!(matches!(refused, Err(RegistrationError::Limited(_))), "known or not, the address is limited");
    }

    #[tokio::test]
    async fn a_signup_whose_messages_cannot_be_kept_leaves_no_account_behind() {
        let mut accounts = InMemoryAccounts::default();
        accounts.outbox = OutboxEvents::down();
        let outcome =
            register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup("a@example.com"), None, now())
                .await;
        assert!(matches!(outcome, Err(RegistrationError::Store(_))));
        assert_eq!(accounts.count(), 0);
        assert!(accounts.account_id_for(&Email::parse("a@example.com").unwrap()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn p2_the_sms_code_proves_the_phone_once() {
        let accounts = InMemoryAccounts::default();
        let id = registered(&accounts, "maryam@example.com").await;
        let email = Email::parse("maryam@example.com").unwrap();
        let code = sms_code(&accounts.outbox);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert!(!verify_phone(&accounts, &code_hasher(), &email, wrong, now()).await.unwrap());
        assert!(verify_phone(&accounts, &code_hasher(), &email, &code, now()).await.unwrap());
        assert!(!verify_phone(&accounts, &code_hasher(), &email, &code, now()).await.unwrap());
        assert!(accounts.contacts(id).await.unwrap().unwrap().phone_verified);
    }

    #[tokio::test]
    async fn p2_five_wrong_codes_kill_the_phone_challenge() {
        let accounts = InMemoryAccounts::default();
        registered(&accounts, "maryam@example.com").await;
        let email = Email::parse("maryam@example.com").unwrap();
        let code = sms_code(&accounts.outbox);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..crate::accounts::verification::MAX_ATTEMPTS {
            assert!(!verify_phone(&accounts, &code_hasher(), &email, wrong, now()).await.unwrap());
        }
        assert!(!verify_phone(&accounts, &code_hasher(), &email, &code, now()).await.unwrap());
    }

    #[tokio::test]
    async fn p2_the_email_link_proves_the_email_until_it_expires() {
        let accounts = InMemoryAccounts::default();
        let id = registered(&accounts, "maryam@example.com").await;
        let Some(DomainEvent::EmailVerificationRequested { token, .. }) = accounts.outbox.events().into_iter().next()
        else {
            panic!("no verification email was asked for");
        };
        let late = now() + EMAIL_TOKEN_LIFETIME;
        assert!(!verify_email(&accounts, &code_hasher(), &token, late).await.unwrap());
        assert!(!verify_email(&accounts, &code_hasher(), "not-a-token", now()).await.unwrap());
        assert!(verify_email(&accounts, &code_hasher(), &token, now()).await.unwrap());
        assert!(accounts.contacts(id).await.unwrap().unwrap().email_verified);
    }
}
