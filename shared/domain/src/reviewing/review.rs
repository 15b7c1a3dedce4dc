//! Product reviews (P10, P11, P13, P14): what a customer may post, what the public sees, and
//! how staff moderate.
//!
//! The public sees a display name (first name and an initial), never who the author is; the
//! store keeps the author's account, time and IP with every version, hidden or not, for legal
//! follow-up (P11).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::kernel::failures::StoreError;
use crate::kernel::ids::AccountId;
use crate::kernel::ids::ProductId;
use crate::kernel::ids::ReviewId;
use crate::kernel::paging::PageSizes;
use crate::kernel::problem::Rejection;
use crate::kernel::text::{TextBoundsError, bounded_text};

pub const MIN_TEXT_CHARS: usize = 3;
pub const MAX_TEXT_CHARS: usize = 2000;
/// A customer may post (or repost) this many reviews an hour: enough for a real customer,
/// too few for a spam run.
pub const REVIEWS_PER_HOUR: u32 = 5;
pub const RATE_WINDOW: Duration = Duration::HOUR;
/// Listing pages hold at most 50 reviews.
pub const REVIEW_PAGES: PageSizes =
    PageSizes { max: 50, out_of_range: "تعداد در هر صفحه باید بین ۱ تا ۵۰ باشد." };

/// A rating from one to five stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rating(u8);

impl Rating {
    pub fn new(stars: u32) -> Option<Self> {
        u8::try_from(stars).ok().filter(|s| (1..=5).contains(s)).map(Self)
    }

    pub fn stars(self) -> u8 {
        self.0
    }
}

/// A review text or moderation reason that breaks the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid review text: {0}")]
pub struct TextError(pub TextBoundsError);

impl Rejection for TextError {
    fn code(&self) -> &'static str {
        match self.0 {
            TextBoundsError::Empty => "text-empty",
            TextBoundsError::TooShort => "text-too-short",
            TextBoundsError::TooLong => "text-too-long",
            TextBoundsError::Control => "text-control-characters",
        }
    }
    fn message(&self) -> &'static str {
        match self.0 {
            TextBoundsError::Empty => "متن را بنویسید.",
            TextBoundsError::TooShort => "متن بیش از اندازه کوتاه است.",
            TextBoundsError::TooLong => "متن نباید بیش از ۲۰۰۰ نویسه باشد.",
            TextBoundsError::Control => "متن نویسه‌های نامعتبر دارد.",
        }
    }
}

/// A review's text or a moderation reason: normalised Persian text within bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReviewText(String);

impl ReviewText {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        bounded_text(input, MIN_TEXT_CHARS, MAX_TEXT_CHARS).map(Self).map_err(TextError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Published,
    /// Out of the listing, kept with its history and its author (P10, P11).
    Hidden,
}

/// A review as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: ReviewId,
    pub product: ProductId,
    pub author: AccountId,
    /// As the public sees the author: first name and an initial.
    pub display_name: String,
    pub rating: Rating,
    pub text: ReviewText,
    pub verified_buyer: bool,
    pub edited_by_store: bool,
    pub visibility: Visibility,
    pub posted_at: OffsetDateTime,
    pub version: u32,
}

/// Who changed a review, and why (P10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The author wrote it (first post or a repost), from this address (P14).
    ByAuthor { source_ip: Option<IpAddr> },
    /// Staff edited or hid it, giving a reason.
    ByStaff { staff: AccountId, reason: ReviewText },
}

/// One version of a review, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub number: u32,
    pub rating: Rating,
    pub text: ReviewText,
    pub visibility: Visibility,
    pub at: OffsetDateTime,
    pub change: Change,
}

/// What staff do to a review; always with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    Edit { text: ReviewText, reason: ReviewText },
    Hide { reason: ReviewText },
}

/// The average rating of a product's published reviews, in hundredths of a star.
pub fn average_hundredths(sum: u64, count: u64) -> Option<u64> {
    (count > 0).then(|| (sum * 100 + count / 2) / count)
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the review kept changing under this request")]
    Contended,
}

/// How often a save is tried again when the review changed between reading and writing.
pub const SAVE_ATTEMPTS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_one_to_five_stars() {
        assert_eq!(Rating::new(0), None);
        assert_eq!(Rating::new(1).map(Rating::stars), Some(1));
        assert_eq!(Rating::new(5).map(Rating::stars), Some(5));
        assert_eq!(Rating::new(6), None);
    }

    #[test]
    fn review_text_is_normalised_and_bounded() {
        assert_eq!(ReviewText::parse("  قهوه‌ای عالي  بود ").unwrap().as_str(), "قهوه‌ای عالی بود");
        assert_eq!(ReviewText::parse("   \n\t "), Err(TextError(TextBoundsError::Empty)));
        assert_eq!(ReviewText::parse("خو"), Err(TextError(TextBoundsError::TooShort)));
        assert_eq!(ReviewText::parse(&"ق".repeat(MAX_TEXT_CHARS + 1)), Err(TextError(TextBoundsError::TooLong)));
        assert_eq!(ReviewText::parse("خوب\u{0000}بود"), Err(TextError(TextBoundsError::Control)));
    }

    #[test]
    fn the_average_is_rounded_to_hundredths() {
        assert_eq!(average_hundredths(0, 0), None);
        assert_eq!(average_hundredths(14, 3), Some(467));
        assert_eq!(average_hundredths(10, 2), Some(500));
    }

    #[test]
    fn the_listings_page_bound_is_told_in_persian_digits() {
        let bound = crate::kernel::persian_format::persian_digits(&REVIEW_PAGES.max.to_string());
        assert!(REVIEW_PAGES.out_of_range.contains(&bound));
    }
}
