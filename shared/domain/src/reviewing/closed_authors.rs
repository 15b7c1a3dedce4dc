//! The reviews of a closed account (P11): they stay, under an anonymous name, still linked to
//! the account id for legal follow-up.

use crate::accounts::closure::ANONYMOUS_DISPLAY_NAME;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::reviewing::ports::{ReviewStore, Reviewers};

#[derive(Debug, thiserror::Error)]
pub enum AnonymiseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The closure is announced before the account is deleted, which may not have landed yet:
    /// the caller fails so that the event is retried later.
    #[error("account {0}: its closure was announced but the account is still there")]
    StillOpen(AccountId),
}

/// Shows every review of a closed account under the anonymous name; how many there were.
pub async fn anonymise(
    reviews: &impl ReviewStore,
    accounts: &impl Reviewers,
    account: AccountId,
) -> Result<usize, AnonymiseError> {
    if accounts.is_open(account).await? {
        return Err(AnonymiseError::StillOpen(account));
    }
    let ids = reviews.ids_by_author(account).await?;
    for review in &ids {
        reviews.show_under_name(*review, ANONYMOUS_DISPLAY_NAME).await?;
    }
    tracing::info!(%account, reviews = ids.len(), "a closed account's reviews are anonymous");
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reviewing::posting::PostOutcome;
    use crate::reviewing::testing::fixtures::World;

    #[tokio::test]
    async fn p11_a_closed_accounts_reviews_show_an_anonymous_name_and_stay_linked_to_it() {
        let (world, product, author) = World::new();
        let PostOutcome::Posted(review) = world.post(author, &product, 4, "خوب بود").await else { panic!() };
        let early = anonymise(&world.reviews, &world.reviewers, author).await;
        assert!(matches!(early, Err(AnonymiseError::StillOpen(account)) if account == author));

        world.reviewers.close(author);
        assert_eq!(anonymise(&world.reviews, &world.reviewers, author).await.unwrap(), 1);
        let now_shown = world.reviews.get(review.id).await.unwrap().unwrap();
        assert_eq!(now_shown.display_name, ANONYMOUS_DISPLAY_NAME);
        assert_eq!(now_shown.author, author);
        assert!(now_shown.version > review.version, "a moderation read before cannot undo it");
    }
}
