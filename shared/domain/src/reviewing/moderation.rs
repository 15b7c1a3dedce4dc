//! Staff moderating a review (P10, P11): every edit or hiding is a new version naming the staff
//! member and the reason; the author stays linked.

use time::OffsetDateTime;

use crate::kernel::ids::{AccountId, ReviewId};
use crate::reviewing::ports::ReviewStore;
use crate::reviewing::review::{Change, Moderation, Review, ReviewError, SAVE_ATTEMPTS, Version, Visibility};

/// Staff edit or hide a review (P10); `None` when there is no such review. Every change is a
/// new version naming the staff member and the reason; the author stays linked (P11).
pub async fn moderate(
    reviews: &impl ReviewStore,
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
        if reviews.save(&review, Some(&previous), &version, &[]).await? {
            tracing::info!(review = %id, %staff, version = review.version, "review moderated");
            return Ok(Some(review));
        }
    }
    Err(ReviewError::Contended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reviewing::posting::PostOutcome;
    use crate::reviewing::testing::fixtures::{World, now, text};

    #[tokio::test]
    async fn p10_staff_edits_are_new_versions_naming_who_and_why_and_the_author_cannot_undo_them() {
        let (world, product, author) = World::new();
        let PostOutcome::Posted(review) = world.post(author, &product, 2, "متن اصلی نظر").await else {
            panic!()
        };
        let staff = AccountId::new();
        let edit = Moderation::Edit { text: text("متن ویرایش‌شده"), reason: text("ناسزا داشت") };
        let edited = moderate(&world.reviews, review.id, staff, edit, now()).await.unwrap().unwrap();
        assert!(edited.edited_by_store);
        assert_eq!(edited.author, author, "P11: the author stays linked");
        let history = world.reviews.history(review.id);
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].text, text("متن اصلی نظر"), "the original is kept");
        assert_eq!(history[1].change, Change::ByStaff { staff, reason: text("ناسزا داشت") });
        assert!(matches!(world.post(author, &product, 5, "دوباره").await, PostOutcome::Moderated));
    }

    #[tokio::test]
    async fn p11_a_hidden_review_stays_with_its_author_and_history() {
        let (world, product, author) = World::new();
        let PostOutcome::Posted(review) = world.post(author, &product, 1, "نظر تند").await else { panic!() };
        let hide = Moderation::Hide { reason: text("خلاف قوانین") };
        let hidden = moderate(&world.reviews, review.id, AccountId::new(), hide, now()).await.unwrap().unwrap();
        assert_eq!((hidden.visibility, hidden.author), (Visibility::Hidden, author));
        assert_eq!(world.reviews.history(review.id).len(), 2);
    }

    #[tokio::test]
    async fn moderating_a_review_that_does_not_exist_changes_nothing() {
        let (world, _, _) = World::new();
        let hide = Moderation::Hide { reason: text("خلاف قوانین") };
        let missing = ReviewId::parse("00000000-0000-4000-8000-000000000000").unwrap();
        assert!(moderate(&world.reviews, missing, AccountId::new(), hide, now()).await.unwrap().is_none());
    }
}
