//! Ending sessions: the one in hand (logging out), or every one of the account at once (logging
//! out everywhere, as after a lost phone).

use time::OffsetDateTime;

use crate::accounts::ports::AccountStore;
use crate::accounts::session::Claims;
use crate::kernel::failures::StoreError;

/// Ends the session `claims` came from; the others go on.
pub async fn log_out(accounts: &impl AccountStore, claims: &Claims, now: OffsetDateTime) -> Result<(), StoreError> {
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now);
    if accounts.end_session(claims.sub, &claims.sid, expires_at, now).await? {
        tracing::info!(account = %claims.sub, "logged out");
    }
    Ok(())
}

/// Ends every session of the account `claims` came from, this one included.
pub async fn log_out_everywhere(accounts: &impl AccountStore, claims: &Claims) -> Result<(), StoreError> {
    if accounts.end_all_sessions(claims.sub).await? {
        tracing::info!(account = %claims.sub, "logged out everywhere");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::account::Role;
    use crate::accounts::contact::Email;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{code_hasher, limits, session, signup};

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    /// Two sessions of one account, as two logins give them.
    async fn two_sessions() -> (InMemoryAccounts, Claims, Claims) {
        let accounts = InMemoryAccounts::default();
        let email = "maryam@example.com";
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup(email), None, now()).await.unwrap();
        let id = accounts.account_id_for(&Email::parse(email).unwrap()).await.unwrap().unwrap();
        let (phone, laptop) = (session(id, Role::Customer, 0, now()), session(id, Role::Customer, 0, now()));
        (accounts, phone, laptop)
    }

    async fn holds(accounts: &InMemoryAccounts, claims: &Claims) -> bool {
        claims.holds_for(accounts.session_standing(claims.sub).await.unwrap().as_ref())
    }

    #[tokio::test]
    async fn p12_logging_out_ends_this_session_and_no_other() {
        let (accounts, phone, laptop) = two_sessions().await;
        log_out(&accounts, &phone, now()).await.unwrap();
        assert!(!holds(&accounts, &phone).await);
        assert!(holds(&accounts, &laptop).await);
        log_out(&accounts, &phone, now()).await.unwrap();
        assert!(!holds(&accounts, &phone).await, "twice is harmless");
    }

    #[tokio::test]
    async fn p12_logging_out_everywhere_ends_every_session_and_a_new_login_holds() {
        let (accounts, phone, laptop) = two_sessions().await;
        log_out_everywhere(&accounts, &phone).await.unwrap();
        assert!(!holds(&accounts, &phone).await && !holds(&accounts, &laptop).await);
        let credentials = accounts.credentials(phone.sub).await.unwrap().unwrap();
        let fresh = session(phone.sub, credentials.role, credentials.session_generation, now());
        assert!(holds(&accounts, &fresh).await);
    }
}
