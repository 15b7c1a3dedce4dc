//! Who is asking: a bearer token's session, checked against the account as it stands.

use time::OffsetDateTime;

use crate::accounts::ports::AccountStore;
use crate::accounts::session::{Claims, SessionKey};
use crate::kernel::store_error::StoreError;

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
