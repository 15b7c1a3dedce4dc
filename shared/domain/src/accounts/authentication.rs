//! Who is asking: a bearer token's session, checked against the account as it stands.

use time::OffsetDateTime;

use crate::accounts::ports::AccountStore;
use crate::accounts::session::{Claims, SessionKey};
use crate::kernel::failures::StoreError;

/// The session of a token, or `None`. Tokens are stateless, so the account is read too: a
/// closed account's sessions end at once, and so does a session whose role was granted or
/// withdrawn since it was issued (signing in again gives the new one).
pub async fn authenticate(
    sessions: &SessionKey,
    accounts: &impl AccountStore,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<Claims>, StoreError> {
    let Ok(claims) = sessions.verify(token, now) else { return Ok(None) };
    match accounts.current_role(claims.sub).await? {
        Some(role) if role == claims.role => Ok(Some(claims)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::account::Role;
    use crate::accounts::contact::Email;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{code_hasher, signup};
    use crate::kernel::testing::PublishedEvents;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[tokio::test]
    async fn p4_a_session_lasts_while_its_account_keeps_the_role_it_was_issued_with() {
        let (accounts, sessions) = (InMemoryAccounts::default(), SessionKey::new(&[9; 32]).unwrap());
        register(&accounts, &PublishedEvents::default(), &code_hasher(), signup("m@example.com"), None, now())
            .await
            .unwrap();
        let email = Email::parse("m@example.com").unwrap();
        let id = accounts.account_id_for(&email).await.unwrap().unwrap();
        let token = sessions.issue(id, Role::Customer, now()).token;
        assert_eq!(authenticate(&sessions, &accounts, &token, now()).await.unwrap().map(|c| c.sub), Some(id));
        assert!(authenticate(&sessions, &accounts, "v1.forged.token", now()).await.unwrap().is_none());

        accounts.grant(id, Role::Staff);
        assert!(authenticate(&sessions, &accounts, &token, now()).await.unwrap().is_none());
        let staff = sessions.issue(id, Role::Staff, now()).token;
        assert!(authenticate(&sessions, &accounts, &staff, now()).await.unwrap().is_some());

        accounts.close(id, &email, now()).await.unwrap();
        assert!(authenticate(&sessions, &accounts, &staff, now()).await.unwrap().is_none());
    }
}
