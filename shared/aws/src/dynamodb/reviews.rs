//! The reviews table: each review's current state and every version of it, per-product rating
//! totals, and per-customer posting counters.
//!
//! Items (partition key `pk`, sort key `sk`):
//! - `REVIEW#<id>` / `CURRENT`: the review as it stands; while published it carries
//!   `listed_product` and `listed_at`, which put it in the `ByProduct` index the listing reads
//!   (a hidden review leaves the index, and nothing else); its `author_id` and `posted_at` put
//!   it in the `ByAuthor` index, hidden or not, which legal exports read (P3, P11);
//! - `REVIEW#<id>` / `V#<number>`: one version — text, rating, when, who (author with source
//!   IP, or staff with a reason) — never changed or deleted (P10, P11, P14);
//! - `AUTHOR#<account id>` / `PRODUCT#<product id>`: which review is the customer's of that
//!   product (`review_id`), created with their first post and never changed: review ids are
//!   random (P13), so this item, not the id, keeps one review per customer and product;
//! - `PRODUCT#<id>` / `STATS`: the sum and count of the product's published ratings, moved in
//!   the same transaction as the review;
//! - `RATE#<account id>` / `<hour>`: how many reviews the customer posted that hour (TTL).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use super::outbox::{self, OutboxTable};
use super::{Item, conditional, every_page, get_bool, get_n, get_parsed, get_s, get_time, n, s, time};
use mizan::kernel::events::Envelope;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::ProductId;
use mizan::kernel::ids::ReviewId;
use mizan::kernel::paging::{ListError, Page, PageRequest};
use mizan::privacy::ports::ReviewHistory;
use mizan::reviewing::ports::ReviewStore;
use mizan::reviewing::review::{
    Change, RATE_WINDOW, REVIEWS_PER_HOUR, Rating, Review, ReviewText, Version, Visibility,
};

const BY_PRODUCT: &str = "ByProduct";
/// Every review's current state by its author (`author_id`, `posted_at`), keys only.
const BY_AUTHOR: &str = "ByAuthor";

#[derive(Debug, Clone)]
pub struct ReviewsTable {
    client: Client,
    table: String,
    outbox: Option<OutboxTable>,
}

fn review_key(id: ReviewId) -> String {
    format!("REVIEW#{id}")
}

fn stats_key(product: &ProductId) -> String {
    format!("PRODUCT#{}", product.as_str())
}

fn authorship_key(author: AccountId, product: &ProductId) -> HashMap<String, AttributeValue> {
    key(format!("AUTHOR#{author}"), &format!("PRODUCT#{}", product.as_str()))
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn visibility_name(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Published => "published",
        Visibility::Hidden => "hidden",
    }
}

impl ReviewsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), outbox: None }
    }

    /// The table as the review function uses it: saves keep their events in `outbox`.
    pub fn with_outbox(self, outbox: OutboxTable) -> Self {
        Self { outbox: Some(outbox), ..self }
    }

    /// The sum and count of a product's published ratings.
    pub async fn totals(&self, product: &ProductId) -> Result<(u64, u64), StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(stats_key(product), "STATS")))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        match answer.item {
            Some(item) => Ok((get_n(&item, "rating_sum")?, get_n(&item, "rating_count")?)),
            None => Ok((0, 0)),
        }
    }

    /// Published reviews of a product, newest first, a page at a time. The cursor is the opaque
    /// position after the last review of the previous page.
    pub async fn list(&self, product: &ProductId, asked: PageRequest<'_>) -> Result<Page<Review>, ListError> {
        let start = match asked.cursor {
            Some(cursor) => Some(decode_cursor(cursor, product).ok_or(ListError::BadCursor)?),
            None => None,
        };
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_PRODUCT)
            .key_condition_expression("listed_product = :product")
            .expression_attribute_values(":product", s(product.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(asked.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let reviews = answer.items().iter().map(read_review).collect::<Result<Vec<_>, _>>()?;
        let next = answer.last_evaluated_key.as_ref().map(encode_cursor);
        Ok(Page { items: reviews, next })
    }
}

fn review_item(review: &Review) -> Item {
    let mut item = key(review_key(review.id), "CURRENT");
    item.extend([
        ("review_id".to_owned(), s(review.id.to_string())),
        ("product_id".to_owned(), s(review.product.as_str())),
        ("author_id".to_owned(), s(review.author.to_string())),
        ("display_name".to_owned(), s(&review.display_name)),
        ("rating".to_owned(), n(review.rating.stars())),
        ("text".to_owned(), s(review.text.as_str())),
        ("verified_buyer".to_owned(), AttributeValue::Bool(review.verified_buyer)),
        ("edited_by_store".to_owned(), AttributeValue::Bool(review.edited_by_store)),
        ("visibility".to_owned(), s(visibility_name(review.visibility))),
        ("posted_at".to_owned(), time(review.posted_at)),
        ("version".to_owned(), n(review.version)),
    ]);
    if review.visibility == Visibility::Published {
        item.insert("listed_product".to_owned(), s(review.product.as_str()));
        // Zero-padded so that the index's string order is time order; the id breaks ties.
        item.insert("listed_at".to_owned(), s(format!("{:012}#{}", review.posted_at.unix_timestamp(), review.id)));
    }
    item
}

fn read_review(item: &Item) -> Result<Review, StoreError> {
    Ok(Review {
        id: get_parsed(item, "review_id", |t| ReviewId::parse(t).ok_or(()))?,
        product: get_parsed(item, "product_id", ProductId::parse)?,
        author: get_parsed(item, "author_id", |t| AccountId::parse(t).ok_or(()))?,
        display_name: get_s(item, "display_name")?.to_owned(),
        rating: Rating::new(get_n(item, "rating")?).ok_or(StoreError::Corrupt("rating"))?,
        text: get_parsed(item, "text", ReviewText::parse)?,
        verified_buyer: get_bool(item, "verified_buyer")?,
        edited_by_store: get_bool(item, "edited_by_store")?,
        visibility: read_visibility(item)?,
        posted_at: get_time(item, "posted_at")?,
        version: get_n(item, "version")?,
    })
}

fn read_visibility(item: &Item) -> Result<Visibility, StoreError> {
    match get_s(item, "visibility")? {
        "published" => Ok(Visibility::Published),
        "hidden" => Ok(Visibility::Hidden),
        _ => Err(StoreError::Corrupt("visibility")),
    }
}

fn version_item(id: ReviewId, version: &Version) -> Item {
    let mut item = key(review_key(id), &format!("V#{:08}", version.number));
    item.extend([
        ("number".to_owned(), n(version.number)),
        ("rating".to_owned(), n(version.rating.stars())),
        ("text".to_owned(), s(version.text.as_str())),
        ("visibility".to_owned(), s(visibility_name(version.visibility))),
        ("at".to_owned(), time(version.at)),
    ]);
    match &version.change {
        Change::ByAuthor { source_ip } => {
            item.insert("changed_by".to_owned(), s("author"));
            if let Some(ip) = source_ip {
                item.insert("source_ip".to_owned(), s(ip.to_string()));
            }
        }
        Change::ByStaff { staff, reason } => {
            item.insert("changed_by".to_owned(), s("staff"));
            item.insert("staff_id".to_owned(), s(staff.to_string()));
            item.insert("reason".to_owned(), s(reason.as_str()));
        }
    }
    item
}

fn read_version(item: &Item) -> Result<Version, StoreError> {
    let change = match get_s(item, "changed_by")? {
        "author" => Change::ByAuthor {
            source_ip: item.get("source_ip").and_then(|v| v.as_s().ok()).and_then(|ip| ip.parse().ok()),
        },
        "staff" => Change::ByStaff {
            staff: get_parsed(item, "staff_id", |t| AccountId::parse(t).ok_or(()))?,
            reason: get_parsed(item, "reason", ReviewText::parse)?,
        },
        _ => return Err(StoreError::Corrupt("changed_by")),
    };
    Ok(Version {
        number: get_n(item, "number")?,
        rating: Rating::new(get_n(item, "rating")?).ok_or(StoreError::Corrupt("rating"))?,
        text: get_parsed(item, "text", ReviewText::parse)?,
        visibility: read_visibility(item)?,
        at: get_time(item, "at")?,
        change,
    })
}

/// The position is the index key of the last review shown, as base64url JSON: opaque to the
/// storefront, and checked to belong to the listed product when it comes back.
fn encode_cursor(last: &HashMap<String, AttributeValue>) -> String {
    let fields: HashMap<&str, &str> =
        last.iter().filter_map(|(name, value)| Some((name.as_str(), value.as_s().ok()?.as_str()))).collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&fields).unwrap_or_default())
}

fn decode_cursor(cursor: &str, product: &ProductId) -> Option<HashMap<String, AttributeValue>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let fields: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    if names != ["listed_at", "listed_product", "pk", "sk"] {
        return None;
    }
    // Each value must be what this listing itself wrote, so a forged cursor can neither reach
    // another product nor make the query fail.
    let id = ReviewId::parse(fields.get("pk")?.strip_prefix("REVIEW#")?)?;
    let (seconds, tail) = fields.get("listed_at")?.split_once('#')?;
    let well_formed = fields.get("listed_product").map(String::as_str) == Some(product.as_str())
        && fields.get("sk").map(String::as_str) == Some("CURRENT")
        && seconds.len() == 12
        && seconds.bytes().all(|b| b.is_ascii_digit())
        && ReviewId::parse(tail) == Some(id);
    well_formed.then(|| fields.into_iter().map(|(name, value)| (name, s(value))).collect())
}

impl ReviewStore for ReviewsTable {
    /// Takes one of the customer's posts for this hour; `false` once they are used up.
    async fn take_post_slot(&self, author: AccountId, now: OffsetDateTime) -> Result<bool, StoreError> {
        let hour = now.unix_timestamp().div_euclid(RATE_WINDOW.whole_seconds());
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("RATE#{author}"), &hour.to_string())))
            .update_expression("ADD posts :one SET expires_at = :forget")
            .condition_expression("attribute_not_exists(posts) OR posts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(REVIEWS_PER_HOUR))
            .expression_attribute_values(":forget", time(now + RATE_WINDOW * 2))
            .send()
            .await;
        conditional(updated.map(|_| ()))
    }

    async fn get(&self, id: ReviewId) -> Result<Option<Review>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(review_key(id), "CURRENT")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.item.map(|item| read_review(&item)).transpose()
    }

    async fn id_of(&self, author: AccountId, product: &ProductId) -> Result<Option<ReviewId>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(authorship_key(author, product)))
            .projection_expression("review_id")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.item.map(|item| get_parsed(&item, "review_id", |t| ReviewId::parse(t).ok_or(()))).transpose()
    }

    /// Writes a review's new state with the version that made it and the events that announce
    /// it, on condition that nobody changed it since `previous` was read, and moves the
    /// product's rating totals by the difference. `Ok(false)` when someone did (the caller reads
    /// again). A first post also writes the author's item for the product, on condition that
    /// there is none.
    async fn save(
        &self,
        review: &Review,
        previous: Option<&Review>,
        version: &Version,
        announced: &[Envelope],
    ) -> Result<bool, StoreError> {
        let mut current = Put::builder().table_name(&self.table).set_item(Some(review_item(review)));
        current = match previous {
            None => current.condition_expression("attribute_not_exists(pk)"),
            Some(previous) => current
                .condition_expression("version = :previous")
                .expression_attribute_values(":previous", n(previous.version)),
        };
        let history = Put::builder()
            .table_name(&self.table)
            .set_item(Some(version_item(review.id, version)))
            .condition_expression("attribute_not_exists(pk)");
        let mut items = vec![
            TransactWriteItem::builder()
                .put(current.build().map_err(|_| StoreError::Failed("build-put".into()))?)
                .build(),
            TransactWriteItem::builder()
                .put(history.build().map_err(|_| StoreError::Failed("build-put".into()))?)
                .build(),
        ];
        if previous.is_none() {
            let mut authorship = authorship_key(review.author, &review.product);
            authorship.insert("review_id".to_owned(), s(review.id.to_string()));
            let first = Put::builder()
                .table_name(&self.table)
                .set_item(Some(authorship))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|_| StoreError::Failed("build-put".into()))?;
            items.push(TransactWriteItem::builder().put(first).build());
        }
        let counted = |r: &Review| (r.visibility == Visibility::Published).then(|| i64::from(r.rating.stars()));
        let before = previous.and_then(counted);
        let after = counted(review);
        let sum = after.unwrap_or(0) - before.unwrap_or(0);
        let count = i64::from(after.is_some()) - i64::from(before.is_some());
        if sum != 0 || count != 0 {
            let stats = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(stats_key(&review.product), "STATS")))
                .update_expression("ADD rating_sum :sum, rating_count :count")
                .expression_attribute_values(":sum", n(sum))
                .expression_attribute_values(":count", n(count))
                .build()
                .map_err(|_| StoreError::Failed("build-update".into()))?;
            items.push(TransactWriteItem::builder().update(stats).build());
        }
        items.extend(outbox::puts(self.outbox.as_ref(), announced)?);
        let written = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match written {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => Ok(false),
            Err(error) => Err(crate::dynamodb::store_error(&error)),
        }
    }

    /// The ids of every review an account wrote, published or hidden, from the `ByAuthor`
    /// index (P3 exports, P11).
    async fn ids_by_author(&self, author: AccountId) -> Result<Vec<ReviewId>, StoreError> {
        let items = every_page(|start| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(BY_AUTHOR)
                .key_condition_expression("author_id = :author")
                .expression_attribute_values(":author", s(author.to_string()))
                .set_exclusive_start_key(start)
                .send()
        })
        .await?;
        items
            .iter()
            .map(|item| {
                let key = get_s(item, "pk")?;
                key.strip_prefix("REVIEW#").and_then(ReviewId::parse).ok_or(StoreError::Corrupt("pk"))
            })
            .collect()
    }

    /// Shows a review under `name` instead of its author's (a closed account): the review stays,
    /// linked to the account id (P11); its versions are not touched. Nothing when the review is
    /// gone.
    async fn show_under_name(&self, id: ReviewId, name: &str) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(review_key(id), "CURRENT")))
            // The version moves too, so that a moderation read before this write cannot pass its
            // version condition and put the author's name back.
            .update_expression("SET display_name = :name, version = version + :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":name", s(name))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        conditional(updated.map(|_| ())).map(|_| ())
    }
}

impl ReviewHistory for ReviewsTable {
    /// Every version of a review, oldest first.
    async fn history(&self, id: ReviewId) -> Result<Vec<Version>, StoreError> {
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :version)")
            .expression_attribute_values(":pk", s(review_key(id)))
            .expression_attribute_values(":version", s("V#"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.items().iter().map(read_version).collect()
    }
}
