//! Signing up and proving one's contacts (P2, P5, P9, P12).

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::dynamodb::accounts::{AccountsTable, Registration};
use crate::notify::events_topic::EventsTopic;
use mizan::accounts::account::{NewAccount, Signup, TermsAcceptance};
use mizan::accounts::contact::Email;
use mizan::accounts::password::HashingFailed;
use mizan::accounts::verification::{
    Challenge, CodeHasher, ContactKind, EMAIL_TOKEN_LIFETIME, EmailToken, SMS_CODE_LIFETIME, SmsCode,
};
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::kernel::ids::AccountId;
use mizan::kernel::store_error::SendError;
use mizan::kernel::store_error::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the verification messages could not be queued: {0}")]
    Publish(#[from] SendError),
    #[error(transparent)]
    Hashing(#[from] HashingFailed),
}

/// Registers a signup, or — when its email already has an account — changes nothing and lets
/// the owner know. Both end the same way for the caller, so the answer never tells a stranger
/// which emails have accounts; the password is hashed in both, so neither does the timing.
pub async fn register(
    accounts: &AccountsTable,
    events: &EventsTopic,
    codes: &CodeHasher,
    signup: Signup,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(), RegistrationError> {
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
    };
    match accounts.register(&account).await? {
        Registration::Created => {
            let verification = [
                DomainEvent::EmailVerificationRequested { account_id: id, token: email_token.to_text() },
                DomainEvent::PhoneVerificationRequested { account_id: id, code: sms_code.as_str().to_owned() },
            ];
            for event in verification {
                if let Err(error) = events.publish(&Envelope::new(event, now)).await {
                    // Without its messages the account could never be verified; removing it lets
                    // the customer simply sign up again.
                    if let Err(undo) = accounts.unregister(&account).await {
                        tracing::error!(account = %id, error = %undo, "could not remove an account whose verification failed to queue");
                    }
                    return Err(error.into());
                }
            }
            tracing::info!(account = %id, "account registered");
        }
        Registration::EmailTaken(existing) => {
            // At most one notice a day per account: repeated signups cannot flood its owner.
            let notice = DomainEvent::SignupAttemptedOnExistingAccount { account_id: existing };
            let once_a_day = format!("signup-notice#{existing}#{}", now.date());
            if let Err(error) = events.publish(&Envelope::once_per(&once_a_day, notice, now)).await {
                // The notice is a courtesy; failing the request would reveal the account.
                tracing::warn!(account = %existing, %error, "could not queue the existing-account notice");
            }
            tracing::info!(account = %existing, "signup with a registered email; nothing changed");
        }
    }
    Ok(())
}

/// Confirms an email with the token from its link. `false` for anything that is not a live
/// token of that account: wrong, used, expired or malformed look the same from outside.
pub async fn verify_email(
    accounts: &AccountsTable,
    codes: &CodeHasher,
    token: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let Some(token) = EmailToken::parse(token) else { return Ok(false) };
    attempt(accounts, token.account, ContactKind::Email, &token.hash(codes), now).await
}

/// Confirms a phone with the SMS code, for the account of `email`.
pub async fn verify_phone(
    accounts: &AccountsTable,
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
    accounts: &AccountsTable,
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
