//! The reviews table and what reviews may read of accounts and orders, in memory: a save lands
//! only on the version it read, as the table's condition has it.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::accounts::person::FullName;
use crate::kernel::events::Envelope;
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, ProductId, ReviewId};
use crate::kernel::testing::OutboxEvents;
use crate::reviewing::ports::{Purchases, ReviewStore, Reviewers};
use crate::reviewing::review::{RATE_WINDOW, REVIEWS_PER_HOUR, Review, Version};

#[derive(Default)]
pub struct InMemoryReviews {
    reviews: Mutex<HashMap<ReviewId, (Review, Vec<Version>)>>,
    by_author: Mutex<HashMap<(AccountId, ProductId), ReviewId>>,
    /// How many of the next author lookups miss, as when the author's other first post lands
    /// between a lookup and the save after it.
    stale_lookups: Mutex<u32>,
    posts: Mutex<HashMap<(AccountId, i64), u32>>,
    pub outbox: OutboxEvents,
}

impl InMemoryReviews {
    pub fn miss_next_lookup(&self) {
        *self.stale_lookups.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    pub fn history(&self, id: ReviewId) -> Vec<Version> {
        self.reviews.lock().unwrap_or_else(PoisonError::into_inner).get(&id).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

impl ReviewStore for InMemoryReviews {
    async fn take_post_slot(&self, author: AccountId, now: OffsetDateTime) -> Result<bool, StoreError> {
        let hour = now.unix_timestamp().div_euclid(RATE_WINDOW.whole_seconds());
        let mut posts = self.posts.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = posts.entry((author, hour)).or_default();
        if *taken >= REVIEWS_PER_HOUR {
            return Ok(false);
        }
        *taken += 1;
        Ok(true)
    }

    async fn get(&self, id: ReviewId) -> Result<Option<Review>, StoreError> {
        Ok(self.reviews.lock().unwrap_or_else(PoisonError::into_inner).get(&id).map(|(review, _)| review.clone()))
    }

    async fn id_of(&self, author: AccountId, product: &ProductId) -> Result<Option<ReviewId>, StoreError> {
        let mut stale = self.stale_lookups.lock().unwrap_or_else(PoisonError::into_inner);
        if *stale > 0 {
            *stale -= 1;
            return Ok(None);
        }
        Ok(self.by_author.lock().unwrap_or_else(PoisonError::into_inner).get(&(author, product.clone())).copied())
    }

    async fn save(
        &self,
        review: &Review,
        previous: Option<&Review>,
        version: &Version,
        announced: &[Envelope],
    ) -> Result<bool, StoreError> {
        let mut reviews = self.reviews.lock().unwrap_or_else(PoisonError::into_inner);
        let current = reviews.get(&review.id).map(|(stored, _)| stored.version);
        if current != previous.map(|p| p.version) {
            return Ok(false);
        }
        let mut by_author = self.by_author.lock().unwrap_or_else(PoisonError::into_inner);
        let author_has_one = by_author.contains_key(&(review.author, review.product.clone()));
        if previous.is_none() && author_has_one {
            return Ok(false);
        }
        self.outbox.writable()?;
        self.outbox.add(announced);
        let mut history = reviews.remove(&review.id).map(|(_, history)| history).unwrap_or_default();
        history.push(version.clone());
        reviews.insert(review.id, (review.clone(), history));
        by_author.insert((review.author, review.product.clone()), review.id);
        Ok(true)
    }

    async fn ids_by_author(&self, author: AccountId) -> Result<Vec<ReviewId>, StoreError> {
        let reviews = self.reviews.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(reviews.values().filter(|(review, _)| review.author == author).map(|(review, _)| review.id).collect())
    }

    async fn show_under_name(&self, id: ReviewId, name: &str) -> Result<(), StoreError> {
        if let Some((review, _)) = self.reviews.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&id) {
            review.display_name = name.to_owned();
            review.version += 1;
        }
        Ok(())
    }
}

/// Accounts as reviews see them: a name, whether the email is proven, open or closed.
#[derive(Default)]
pub struct KnownReviewers {
    accounts: Mutex<HashMap<AccountId, (FullName, bool)>>,
}

impl KnownReviewers {
    pub fn add(&self, id: AccountId, name: &str, email_verified: bool) {
        let name = FullName::parse(name).unwrap_or_else(|_| panic!("a test name: {name}"));
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner).insert(id, (name, email_verified));
    }

    pub fn close(&self, id: AccountId) {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    }
}

impl Reviewers for KnownReviewers {
    async fn reviewer(&self, id: AccountId) -> Result<Option<(FullName, bool)>, StoreError> {
        Ok(self.accounts.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned())
    }

    async fn is_open(&self, id: AccountId) -> Result<bool, StoreError> {
        Ok(self.accounts.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&id))
    }
}

/// Who bought what.
#[derive(Default)]
pub struct KnownPurchases(Mutex<HashSet<(AccountId, ProductId)>>);

impl KnownPurchases {
    pub fn add(&self, account: AccountId, product: ProductId) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert((account, product));
    }
}

impl Purchases for KnownPurchases {
    async fn has_bought(&self, account: AccountId, product: &ProductId) -> Result<bool, StoreError> {
        Ok(self.0.lock().unwrap_or_else(PoisonError::into_inner).contains(&(account, product.clone())))
    }
}

/// A shop with one product, and the stores a review touches.
#[cfg(test)]
pub mod fixtures {
    use std::net::{IpAddr, Ipv4Addr};

    use time::OffsetDateTime;

    use super::{InMemoryReviews, KnownPurchases, KnownReviewers};
    use crate::kernel::ids::{AccountId, ProductId};
    use crate::ordering::catalog::Product;
    use crate::ordering::testing::InMemoryShop;
    use crate::reviewing::posting::{self, PostOutcome, Stores};
    use crate::reviewing::review::{Rating, ReviewText};

    pub const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4));
    const SEED: &str = include_str!("../../../../infra/seed/products.json");

    pub fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    pub fn text(words: &str) -> ReviewText {
        ReviewText::parse(words).unwrap()
    }

    #[derive(Default)]
    pub struct World {
        pub reviews: InMemoryReviews,
        pub shop: InMemoryShop,
        pub reviewers: KnownReviewers,
        pub purchases: KnownPurchases,
    }

    impl World {
        /// The seed catalog's first product, and a verified customer named مریم کاظمی.
        pub fn new() -> (Self, ProductId, AccountId) {
            let product = serde_json::from_str::<Vec<Product>>(SEED).unwrap().remove(0);
            let id = product.id.clone();
            let world = Self { shop: InMemoryShop::with_products([product]), ..Self::default() };
            let author = AccountId::new();
            world.reviewers.add(author, "مریم کاظمی", true);
            (world, id, author)
        }

        pub async fn post(&self, author: AccountId, product: &ProductId, stars: u32, words: &str) -> PostOutcome {
            let stores = Stores {
                reviews: &self.reviews,
                products: &self.shop,
                accounts: &self.reviewers,
                orders: &self.purchases,
            };
            let rating = Rating::new(stars).unwrap();
            posting::post(&stores, author, product.clone(), rating, text(words), Some(IP), now()).await.unwrap()
        }
    }
}
