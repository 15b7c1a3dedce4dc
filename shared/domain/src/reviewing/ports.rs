//! What the reviewing context needs from the world: the reviews table, what a review may know
//! of its author, and whether the author bought the product. Implemented in `mizan-aws`;
//! `reviewing::testing` keeps them in memory.

use time::OffsetDateTime;

use crate::accounts::person::FullName;
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, ProductId, ReviewId};
use crate::reviewing::review::{Review, Version};

pub trait ReviewStore {
    /// Takes one of the author's posts of the current hour; `false` when they are used up.
    async fn take_post_slot(&self, author: AccountId, now: OffsetDateTime) -> Result<bool, StoreError>;

    async fn get(&self, id: ReviewId) -> Result<Option<Review>, StoreError>;

    /// The id of the author's review of the product, if they posted one.
    async fn id_of(&self, author: AccountId, product: &ProductId) -> Result<Option<ReviewId>, StoreError>;

    /// Writes the review, its new version and the events that announce it at once, provided the
    /// review is still `previous`: `false` when it changed meanwhile. A first post (`previous`
    /// absent) also records it as the author's review of the product, and is `false` when the
    /// author's other first post of it landed meanwhile.
    async fn save(
        &self,
        review: &Review,
        previous: Option<&Review>,
        version: &Version,
        announced: &[Envelope],
    ) -> Result<bool, StoreError>;

    /// Every review of an author, hidden or not.
    async fn ids_by_author(&self, author: AccountId) -> Result<Vec<ReviewId>, StoreError>;

    /// Shows the review under another name (a closed account's), moving its version on so that
    /// a moderation read before cannot undo it.
    async fn show_under_name(&self, id: ReviewId, name: &str) -> Result<(), StoreError>;
}

/// What a review may know of its author, and nothing more (P13).
pub trait Reviewers {
    /// The author's name (shown as a display name) and whether their email is proven; `None`
    /// when there is no such account.
    async fn reviewer(&self, id: AccountId) -> Result<Option<(FullName, bool)>, StoreError>;

    /// Whether the account is still open.
    async fn is_open(&self, id: AccountId) -> Result<bool, StoreError>;
}

/// Which products a customer bought, and nothing else of their orders.
pub trait Purchases {
    async fn has_bought(&self, account: AccountId, product: &ProductId) -> Result<bool, StoreError>;
}
