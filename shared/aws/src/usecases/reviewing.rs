//! Posting and moderating reviews (P10, P11, P13, P14).

use mizan::kernel::ports::EventPublisher;
use std::net::IpAddr;

use time::OffsetDateTime;

use crate::dynamodb::accounts::AccountsTable;
use crate::dynamodb::orders::PurchaseIndex;
use crate::dynamodb::products::ProductsTable;
use crate::dynamodb::reviews::ReviewsTable;
use crate::notify::events_topic::EventsTopic;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::kernel::failures::SendError;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::ProductId;
use mizan::kernel::ids::ReviewId;
use mizan::reviewing::review::{Change, Moderation, Rating, Review, ReviewText, Version, Visibility};

/// The stores a review touches, each only as far as it needs (mirroring the IAM policy).
pub struct Stores<'a> {
    pub reviews: &'a ReviewsTable,
    pub products: &'a ProductsTable,
    pub accounts: &'a AccountsTable,
    pub orders: &'a PurchaseIndex,
    pub events: &'a EventsTopic,
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

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] SendError),
    #[error("the review kept changing under this request")]
    Contended,
}

/// How often a save is tried again when the review changed between reading and writing.
const SAVE_ATTEMPTS: usize = 3;

/// Posts the author's review of a product, or replaces their earlier one (whose version stays
/// in the history) — unless staff moderated it.
pub async fn post(
    stores: &Stores<'_>,
    author: AccountId,
    product: ProductId,
    rating: Rating,
    text: ReviewText,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<PostOutcome, ReviewError> {
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
    let id = ReviewId::for_author(&product, author);
    for _ in 0..SAVE_ATTEMPTS {
        let previous = stores.reviews.get(id).await?;
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
        if stores.reviews.save(&review, previous.as_ref(), &version).await? {
            let posted = DomainEvent::ReviewPosted { review_id: id, product_id: product.clone(), account_id: author };
            // One id per version: a retried publish of the same version has its effects once.
            let event = Envelope::once_per(&format!("review-posted#{id}#{}", review.version), posted, now);
            stores.events.publish(&event).await?;
            tracing::info!(review = %id, version = review.version, "review posted");
            return Ok(PostOutcome::Posted(Box::new(review)));
        }
    }
    Err(ReviewError::Contended)
}

/// Staff edit or hide a review (P10); `None` when there is no such review. Every change is a
/// new version naming the staff member and the reason; the author stays linked (P11).
pub async fn moderate(
    reviews: &ReviewsTable,
    id: ReviewId,
    staff: AccountId,
    moderation: Moderation,
    now: OffsetDateTime,
) -> Result<Option<Review>, ReviewError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    for _ in 0..SAVE_ATTEMPTS {
        let Some(previous) = reviews.get(id).await? else { return Ok(None) };
        let mut review = previous.clone();
        review.version += 1;
        let reason = match &moderation {
            Moderation::Edit { text, reason } => {
                review.text = text.clone();
                review.edited_by_store = true;
                reason.clone()
            }
            Moderation::Hide { reason } => {
                review.visibility = Visibility::Hidden;
                reason.clone()
            }
        };
        let version = Version {
            number: review.version,
            rating: review.rating,
            text: review.text.clone(),
            visibility: review.visibility,
            at: now,
            change: Change::ByStaff { staff, reason },
        };
        if reviews.save(&review, Some(&previous), &version).await? {
            tracing::info!(review = %id, %staff, version = review.version, "review moderated");
            return Ok(Some(review));
        }
    }
    Err(ReviewError::Contended)
}
