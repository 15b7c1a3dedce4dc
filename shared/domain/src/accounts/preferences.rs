//! A customer's privacy settings and the one-click unsubscribe (P6, P7): marketing on a channel
//! stops the moment it is turned off, whichever way it is.

use time::OffsetDateTime;

use crate::accounts::account::MarketingConsent;
use crate::accounts::consent::{Channel, Source, UnsubscribeKeys};
use crate::accounts::ports::{ConsentStore, LinkWithdrawal};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;

/// Changes only the channels named (`None` leaves a channel as it is); the consent as it stands
/// after, or `None` when the account is gone.
pub async fn change(
    accounts: &impl ConsentStore,
    account: AccountId,
    wanted: [(Channel, Option<bool>); 2],
    now: OffsetDateTime,
) -> Result<Option<MarketingConsent>, StoreError> {
    for (channel, on) in wanted {
        if let Some(on) = on
            && accounts.set_marketing(account, channel, on, Source::Settings, now).await?.is_none()
        {
            return Ok(None);
        }
    }
    accounts.marketing(account).await
}

/// What an unsubscribe link came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsubscribed {
    /// Marketing on this channel is off (or the account is gone: nothing is left to stop).
    Stopped(Channel),
    /// The customer turned this channel on after the link was made: the link is outdated, and
    /// their newer choice stands (P7).
    OptedInSince(Channel),
    /// Not a link of ours, or one whose key was retired.
    InvalidLink,
}

/// The one-click unsubscribe (or the page's button): the token is the authority, no login;
/// repeating it is harmless.
pub async fn unsubscribe(
    accounts: &impl ConsentStore,
    keys: &UnsubscribeKeys,
    token: &str,
    source: Source,
    now: OffsetDateTime,
) -> Result<Unsubscribed, StoreError> {
    let Some(grant) = keys.verify(token) else { return Ok(Unsubscribed::InvalidLink) };
    Ok(match accounts.withdraw_by_link(grant.account, grant.channel, grant.issued_at, source, now).await? {
        LinkWithdrawal::Withdrawn | LinkWithdrawal::NoAccount => Unsubscribed::Stopped(grant.channel),
        LinkWithdrawal::OptedInSince => Unsubscribed::OptedInSince(grant.channel),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::consent::Unsubscribe;
    use crate::accounts::contact::Email;
    use crate::accounts::ports::AccountStore;
    use crate::accounts::registration::register;
    use crate::accounts::testing::InMemoryAccounts;
    use crate::accounts::testing::fixtures::{code_hasher, limits, signup};

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn keys(setting: &str) -> UnsubscribeKeys {
        UnsubscribeKeys::parse(setting).unwrap()
    }

    const CURRENT: &str = "k2:a-current-secret-of-at-least-32-bytes";
    const RETIRED: &str = "k1:a-retired-secret-of-at-least-32-bytes";

    async fn subscribed() -> (InMemoryAccounts, AccountId) {
        let accounts = InMemoryAccounts::default();
        register(&accounts, &accounts.outbox, &code_hasher(), &limits(), signup("m@example.com"), None, now())
            .await
            .unwrap();
        let id = accounts.account_id_for(&Email::parse("m@example.com").unwrap()).await.unwrap().unwrap();
        accounts.consent(id, MarketingConsent { email: true, sms: true });
        (accounts, id)
    }

    #[tokio::test]
    async fn p7_settings_change_only_the_channels_named() {
        let (accounts, id) = subscribed().await;
        let after = change(&accounts, id, [(Channel::Email, Some(false)), (Channel::Sms, None)], now()).await.unwrap();
        assert_eq!(after, Some(MarketingConsent { email: false, sms: true }));
        let gone = change(&accounts, AccountId::new(), [(Channel::Email, Some(false)), (Channel::Sms, None)], now());
        assert_eq!(gone.await.unwrap(), None);
    }

    #[tokio::test]
    async fn p7_one_click_stops_the_links_channel_and_repeating_it_is_harmless() {
        let (accounts, id) = subscribed().await;
        let token = keys(CURRENT).issue(Unsubscribe { account: id, channel: Channel::Email, issued_at: now() });
        for _ in 0..2 {
            let done = unsubscribe(&accounts, &keys(CURRENT), &token, Source::OneClick, now()).await.unwrap();
            assert_eq!(done, Unsubscribed::Stopped(Channel::Email));
        }
        assert_eq!(accounts.marketing(id).await.unwrap(), Some(MarketingConsent { email: false, sms: true }));
    }

    #[tokio::test]
    async fn p7_a_forged_or_retired_link_changes_nothing() {
        let (accounts, id) = subscribed().await;
        let old = keys(RETIRED).issue(Unsubscribe { account: id, channel: Channel::Sms, issued_at: now() });
        let rotated = keys(&format!("{CURRENT},{RETIRED}"));
        assert_eq!(
            unsubscribe(&accounts, &keys(CURRENT), &old, Source::Link, now()).await.unwrap(),
            Unsubscribed::InvalidLink,
            "a retired key's links stop working"
        );
        assert_eq!(
            unsubscribe(&accounts, &rotated, "u1.k2.forged.mac", Source::Link, now()).await.unwrap(),
            Unsubscribed::InvalidLink
        );
        assert_eq!(accounts.marketing(id).await.unwrap(), Some(MarketingConsent { email: true, sms: true }));
        assert_eq!(
            unsubscribe(&accounts, &rotated, &old, Source::Link, now()).await.unwrap(),
            Unsubscribed::Stopped(Channel::Sms),
            "while both keys are listed, older links still work"
        );
    }

    #[tokio::test]
    async fn p7_an_old_link_cannot_undo_a_later_opt_in_but_a_newer_link_can() {
        let (accounts, id) = subscribed().await;
        let later = now() + time::Duration::minutes(5);
        let old = keys(CURRENT).issue(Unsubscribe { account: id, channel: Channel::Email, issued_at: now() });
        assert_eq!(
            unsubscribe(&accounts, &keys(CURRENT), &old, Source::OneClick, now()).await.unwrap(),
            Unsubscribed::Stopped(Channel::Email)
        );
        change(&accounts, id, [(Channel::Email, Some(true)), (Channel::Sms, None)], later).await.unwrap();
        assert_eq!(
            unsubscribe(&accounts, &keys(CURRENT), &old, Source::OneClick, later).await.unwrap(),
            Unsubscribed::OptedInSince(Channel::Email),
            "a mail provider repeating the old one-click must not undo the opt-in"
        );
        assert_eq!(accounts.marketing(id).await.unwrap(), Some(MarketingConsent { email: true, sms: true }));
        let newer = keys(CURRENT).issue(Unsubscribe { account: id, channel: Channel::Email, issued_at: later });
        assert_eq!(
            unsubscribe(&accounts, &keys(CURRENT), &newer, Source::Link, later).await.unwrap(),
            Unsubscribed::Stopped(Channel::Email)
        );
        assert_eq!(accounts.marketing(id).await.unwrap(), Some(MarketingConsent { email: false, sms: true }));
    }
}
