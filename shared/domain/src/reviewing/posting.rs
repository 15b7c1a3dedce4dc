//! Posting a review (P11, P13, P14): from a verified email, at most a few an hour, one per
//! customer and product; posting again replaces one's own review, whose earlier version stays.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::ids::{AccountId, ProductId, ReviewId};
use crate::ordering::ports::Catalog;
use crate::reviewing::ports::{Purchases, ReviewStore, Reviewers};
use crate::reviewing::review::{Change, Rating, Review, ReviewError, ReviewText, SAVE_ATTEMPTS, Version, Visibility};

/// What posting a review touches, each only as far as it needs (mirroring the IAM policy).
pub struct Stores<'a, R, C, A, P> {
    pub reviews: &'a R,
    pub products: &'a C,
    pub accounts: &'a A,
    pub orders: &'a P,
}

#[derive(Debug)]
pub enum PostOutcome {
    Posted(Box<Review>),
    UnknownProduct,
    EmailNotVerified,
    TooMany,
    /// Staff edited or hid the author's review: reposting would undo their moderation (P10).
    Moderated,
}

/// Posts the author's review of a product, or replaces their earlier one (whose version stays
/// in the history) — unless staff moderated it.
pub async fn post<R, C, A, P>(
    stores: &Stores<'_, R, C, A, P>,
    author: AccountId,
    product: ProductId,
    rating: Rating,
    text: ReviewText,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<PostOutcome, ReviewError>
where
    R: ReviewStore,
    C: Catalog,
    A: Reviewers,
    P: Purchases,
{
    if stores.products.get_many(std::slice::from_ref(&product)).await?.is_empty() {
        return Ok(PostOutcome::UnknownProduct);
    }
    let Some((name, email_verified)) = stores.accounts.reviewer(author).await? else {
        return Ok(PostOutcome::EmailNotVerified);
    };
    if !email_verified {
        return Ok(PostOutcome::EmailNotVerified);
    }
    if !stores.reviews.take_post_slot(author, now).await? {
        return Ok(PostOutcome::TooMany);
    }
    let verified_buyer = stores.orders.has_bought(author, &product).await?;
    let now = now.replace_nanosecond(0).unwrap_or(now);
    for _ in 0..SAVE_ATTEMPTS {
        let previous = match stores.reviews.id_of(author, &product).await? {
            Some(id) => stores.reviews.get(id).await?,
            None => None,
        };
        let id = previous.as_ref().map_or_else(ReviewId::new, |p| p.id);
        if previous.as_ref().is_some_and(|p| p.edited_by_store || p.visibility == Visibility::Hidden) {
            return Ok(PostOutcome::Moderated);
        }
        let review = Review {
            id,
            product: product.clone(),
            author,
            display_name: name.display_name(),
            rating,
            text: text.clone(),
            verified_buyer,
            edited_by_store: false,
            visibility: Visibility::Published,
            posted_at: now,
            version: previous.as_ref().map_or(1, |p| p.version + 1),
        };
        let version = Version {
            number: review.version,
            rating,
            text: text.clone(),
            visibility: review.visibility,
            at: now,
            change: Change::ByAuthor { source_ip },
        };
        let posted = DomainEvent::ReviewPosted { review_id: id, product_id: product.clone(), account_id: author };
        // One id per version: the version is announced with the save that makes it.
        let announced = Envelope::once_per(&format!("review-posted#{id}#{}", review.version), posted, now);
        if stores.reviews.save(&review, previous.as_ref(), &version, &[announced]).await? {
            tracing::info!(review = %id, version = review.version, "review posted");
            return Ok(PostOutcome::Posted(Box::new(review)));
        }
    }
    Err(ReviewError::Contended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reviewing::testing::fixtures::{IP, World};

    fn posted(outcome: PostOutcome) -> Review {
        match outcome {
            PostOutcome::Posted(review) => *review,
            other => panic!("the review was not posted: {other:?}"),
        }
    }

    #[tokio::test]
    async fn p13_a_review_shows_a_display_name_and_p11_p14_keeps_its_author_and_address() {
        let (world, product, author) = World::new();
        let review = posted(world.post(author, &product, 5, "قهوهٔ خوش‌عطری بود").await);
        assert_eq!(review.display_name, "مریم ک.");
        assert_eq!(review.author, author);
        let history = world.reviews.history(review.id);
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].change, Change::ByAuthor { source_ip: Some(IP) });
        assert!(matches!(
            world.reviews.outbox.events()[..],
            [DomainEvent::ReviewPosted { review_id, account_id, .. }] if review_id == review.id && account_id == author
        ));
    }

    #[tokio::test]
    async fn posting_again_replaces_the_review_and_keeps_the_earlier_version() {
        let (world, product, author) = World::new();
        let first = posted(world.post(author, &product, 3, "معمولی بود").await);
        let second = posted(world.post(author, &product, 5, "بار دوم عالی بود").await);
        assert_eq!((first.id, second.version), (second.id, 2));
        let history = world.reviews.history(second.id);
        assert_eq!(history.iter().map(|v| v.rating.stars()).collect::<Vec<_>>(), [3, 5]);
    }

    #[tokio::test]
    async fn p13_a_review_id_is_random_so_nobody_can_derive_it_from_the_author_and_product() {
        let (world, product, author) = World::new();
        let (elsewhere, _, _) = World::new();
        elsewhere.reviewers.add(author, "مریم کاظمی", true);
        let here = posted(world.post(author, &product, 4, "خوب بود").await);
        let there = posted(elsewhere.post(author, &product, 4, "خوب بود").await);
        assert_ne!(here.id, there.id);
    }

    #[tokio::test]
    async fn a_first_post_that_loses_the_race_to_the_authors_other_one_replaces_it() {
        let (world, product, author) = World::new();
        let first = posted(world.post(author, &product, 3, "معمولی بود").await);
        world.reviews.miss_next_lookup();
        let second = posted(world.post(author, &product, 5, "بار دوم عالی بود").await);
        assert_eq!((second.id, second.version), (first.id, 2));
        assert_eq!(world.reviews.ids_by_author(author).await.unwrap(), [first.id]);
    }

    #[tokio::test]
    async fn only_a_verified_email_may_post_and_only_about_a_product_that_exists() {
        let (world, product, verified) = World::new();
        let unverified = AccountId::new();
        world.reviewers.add(unverified, "رضا احمدی", false);
        assert!(matches!(world.post(unverified, &product, 4, "خوب بود").await, PostOutcome::EmailNotVerified));
        assert!(matches!(world.post(AccountId::new(), &product, 4, "خوب بود").await, PostOutcome::EmailNotVerified));
        let ghost = ProductId::parse("no-such-coffee").unwrap();
        assert!(matches!(world.post(verified, &ghost, 4, "خوب بود").await, PostOutcome::UnknownProduct));
        assert!(world.reviews.outbox.events().is_empty());
    }

    #[tokio::test]
    async fn an_author_posts_at_most_a_few_reviews_an_hour() {
        let (world, product, author) = World::new();
        for _ in 0..crate::reviewing::review::REVIEWS_PER_HOUR {
            posted(world.post(author, &product, 4, "خوب بود").await);
        }
        assert!(matches!(world.post(author, &product, 4, "خوب بود").await, PostOutcome::TooMany));
    }

    #[tokio::test]
    async fn a_buyer_of_the_product_is_marked_as_one() {
        let (world, product, author) = World::new();
        assert!(!posted(world.post(author, &product, 4, "خوب بود").await).verified_buyer);
        world.purchases.add(author, product.clone());
        assert!(posted(world.post(author, &product, 4, "خوب بود").await).verified_buyer);
    }
}
