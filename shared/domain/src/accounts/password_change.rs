//! Changing one's password while logged in (P12): the current password first, under the same
//! guessing limit as logging in, so a stolen session cannot take the account over; then every
//! other session of the account ends, and this one goes on under a fresh token.

use time::{Duration, OffsetDateTime};

use crate::accounts::abuse_limits::{self, PasswordCheck};
use crate::accounts::password::{HashingFailed, Password, PasswordError};
use crate::accounts::ports::{AccountStore, Counters};
use crate::accounts::session::{Claims, IssuedSession, SessionSigner};
use crate::accounts::verification::CodeHasher;
use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hashing(#[from] HashingFailed),
}

pub enum ChangeOutcome {
    /// Changed: every other session has ended; this is the caller's new one.
    Changed(IssuedSession),
    WrongPassword,
    /// Too many wrong passwords for this account recently (the login's budget).
    Locked(Duration),
    /// The new password breaks the policy; nothing changed.
    Refused(PasswordError),
    /// The account closed meanwhile.
    Gone,
}

pub async fn change(
    accounts: &(impl AccountStore + Counters),
    sessions: &SessionSigner,
    codes: &CodeHasher,
    session: &Claims,
    current_password: &str,
    new_password: &str,
    now: OffsetDateTime,
) -> Result<ChangeOutcome, ChangeError> {
    let id = session.sub;
    let (Some(contacts), Some(credentials)) = (accounts.contacts(id).await?, accounts.credentials(id).await?) else {
        return Ok(ChangeOutcome::Gone);
    };
    let check = abuse_limits::check_password(
        accounts,
        codes,
        &contacts.email,
        &credentials.password_hash,
        current_password,
        now,
    );
    match check.await? {
        PasswordCheck::Right => {}
        PasswordCheck::Wrong => return Ok(ChangeOutcome::WrongPassword),
        PasswordCheck::Locked(wait) => return Ok(ChangeOutcome::Locked(wait)),
    }
    let password = match Password::parse(new_password, Some(&contacts.email)) {
        Ok(password) => password,
        Err(refused) => return Ok(ChangeOutcome::Refused(refused)),
    };
    let told = Envelope::new(DomainEvent::PasswordChanged { account_id: id }, now);
    let Some(generation) = accounts.set_password(id, &password.hash()?, now, &told).await? else {
        return Ok(ChangeOutcome::Gone);
    };
    tracing::info!(account = %id, "password changed; the other sessions ended");
    Ok(ChangeOutcome::Changed(sessions.issue(id, credentials.role, generation, now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::account::Role;
    use crate::accounts::contact::Email;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{PASSWORD, code_hasher, limits, signup};

    const NEW_PASSWORD: &str = "a-brand-new-roast-77";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn keys() -> &'static SessionSigner {
        crate::accounts::testing::fixtures::session_signer()
    }

    /// An account and two of its sessions (this device's, and another's).
    async fn signed_in() -> (InMemoryAccounts, Claims, Claims) {
        let accounts = InMemoryAccounts::default();
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup("m@example.com"), None, now())
            .await
            .unwrap();
        let id = accounts.account_id_for(&Email::parse("m@example.com").unwrap()).await.unwrap().unwrap();
        let session = || crate::accounts::testing::fixtures::session(id, Role::Customer, 0, now());
        (accounts, session(), session())
    }

    async fn holds(accounts: &InMemoryAccounts, claims: &Claims) -> bool {
        claims.holds_for(accounts.session_standing(claims.sub).await.unwrap().as_ref())
    }

    #[tokio::test]
    async fn p12_a_changed_password_ends_the_other_sessions_and_gives_this_one_a_fresh_token() {
        let (accounts, this, other) = signed_in().await;
        let outcome = change(&accounts, keys(), &code_hasher(), &this, PASSWORD, NEW_PASSWORD, now()).await.unwrap();
        let ChangeOutcome::Changed(fresh) = outcome else { panic!("not changed") };
        assert!(!holds(&accounts, &other).await && !holds(&accounts, &this).await);
        assert!(holds(&accounts, &keys().verifying_keys().verify(&fresh.token, now()).unwrap()).await);
        assert!(accounts.credentials(this.sub).await.unwrap().unwrap().password_hash.verify(NEW_PASSWORD));
        let told = accounts.outbox.newest(|event| match event {
            DomainEvent::PasswordChanged { account_id } => Some(account_id),
            _ => None,
        });
        assert_eq!(told, Some(this.sub), "the owner is told, in the same write");
    }

    #[tokio::test]
    async fn p12_a_wrong_current_password_changes_nothing_and_counts_as_a_guess() {
        let (accounts, this, other) = signed_in().await;
        let (keys, codes) = (keys(), code_hasher());
        for _ in 0..crate::accounts::abuse_limits::PASSWORD_GUESSES.max {
            let outcome = change(&accounts, keys, &codes, &this, "wrong-password-1", NEW_PASSWORD, now()).await;
            assert!(matches!(outcome.unwrap(), ChangeOutcome::WrongPassword));
        }
        let locked = change(&accounts, keys, &codes, &this, PASSWORD, NEW_PASSWORD, now()).await.unwrap();
        assert!(matches!(locked, ChangeOutcome::Locked(_)), "a stolen session is no password oracle");
        assert!(holds(&accounts, &other).await);
        let weak = change(&accounts, keys, &codes, &this, PASSWORD, "short", now() + Duration::HOUR).await;
        assert!(matches!(weak.unwrap(), ChangeOutcome::Refused(_)));
        assert!(accounts.credentials(this.sub).await.unwrap().unwrap().password_hash.verify(PASSWORD));
    }
}
