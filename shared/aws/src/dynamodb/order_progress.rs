//! The orders table as an order's life sees it: status, history, payment, shipment and lines —
//! never the buyer (sealed; whoever reads through this holds no key to it, P4) — and the
//! recipients of the orders being packed and shipped, for the staff who send them (P15).
//!
//! Two listings, a page at a time and never a scan: a customer's own orders through `ByAccount`
//! (newest first), and the packing queue through the sparse `FulfilmentQueue` index (its
//! `fulfilment_queue` attribute is the status while an order is paid, packed or shipped; oldest
//! paid first). Both indexes hold keys only (and product ids); the page's orders are then read
//! with one BatchGetItem, so a page costs the same for a customer with ten orders or a thousand.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::Update;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::{AccountId, OrderId};
use mizan::kernel::money::Rial;
use mizan::kernel::paging::{ListError, Page, PageRequest};
use mizan::ordering::lifecycle::{OrderProgress, OrderStatus, Transition};
use mizan::ordering::order::Recipient;
use time::OffsetDateTime;

use super::orders::{
    AWAITING_PAYMENT, FULFILMENT_QUEUE, HISTORY_APPEND, order_id_of_key, order_key, read_cart, read_life,
    read_recipient, recipient_key, with_milestone,
};
use super::{BATCH_LIMIT, Item, batch_get, get_n, get_parsed, get_s, get_time, n, s, time};

/// What the progress of an order is read from: everything but the buyer.
const PROGRESS: &str = "pk, account_id, #status, placed_at, #total, #lines, payment_id, paid_at, payment_ref, carrier, tracking_code, #history";

#[derive(Debug, Clone)]
pub struct OrderProgressTable {
    client: Client,
    table: String,
}

/// One of the two listings: the index, its partition and sort key attributes.
struct Listing {
    index: &'static str,
    partition: (&'static str, String),
    sort: &'static str,
}

impl OrderProgressTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The client, for transactions that span this table and others.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub async fn get(&self, id: OrderId) -> Result<Option<OrderProgress>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(order_key(id)))
            .projection_expression(PROGRESS)
            .set_expression_attribute_names(Some(progress_names()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.item.as_ref().map(read_progress).transpose()
    }

    /// The orders of these ids that exist, in the order asked (at most `BATCH_LIMIT`).
    async fn many(&self, ids: &[OrderId]) -> Result<Vec<OrderProgress>, StoreError> {
        let keys = ids.iter().take(BATCH_LIMIT).map(|id| Item::from([("pk".to_owned(), s(order_key(*id)))])).collect();
        let items = batch_get(&self.client, &self.table, keys, |request| {
            request.projection_expression(PROGRESS).set_expression_attribute_names(Some(progress_names()))
        })
        .await?;
        let mut found: HashMap<OrderId, OrderProgress> = items
            .iter()
            .map(read_progress)
            .map(|read| read.map(|order| (order.id, order)))
            .collect::<Result<_, _>>()?;
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// A customer's orders, newest first.
    pub async fn of_customer(
        &self,
        account: AccountId,
        asked: PageRequest<'_>,
    ) -> Result<Page<OrderProgress>, ListError> {
        let listing = Listing { index: "ByAccount", partition: ("account_id", account.to_string()), sort: "placed_at" };
        let (ids, next) = self.page_of_ids(&listing, false, asked).await?;
        Ok(Page { items: self.many(&ids).await?, next })
    }

    /// The orders in `status` (paid, packed or shipped), oldest paid first, each with its
    /// recipient while it is kept. An order that moved on since the index saw it is left out.
    pub async fn queue(
        &self,
        status: OrderStatus,
        asked: PageRequest<'_>,
    ) -> Result<Page<(OrderProgress, Option<Recipient>)>, ListError> {
        let listing = Listing {
            index: "FulfilmentQueue",
            partition: (FULFILMENT_QUEUE, status.as_str().to_owned()),
            sort: "paid_at",
        };
        let (ids, next) = self.page_of_ids(&listing, true, asked).await?;
        let orders: Vec<OrderProgress> =
            self.many(&ids).await?.into_iter().filter(|order| order.status == status).collect();
        let ids: Vec<OrderId> = orders.iter().map(|order| order.id).collect();
        let mut recipients = self.recipients(&ids).await?;
        let items = orders
            .into_iter()
            .map(|order| {
                let recipient = recipients.remove(&order.id);
                (order, recipient)
            })
            .collect();
        Ok(Page { items, next })
    }

    /// The recipient of an order, while it is kept.
    pub async fn recipient(&self, id: OrderId) -> Result<Option<Recipient>, StoreError> {
        Ok(self.recipients(&[id]).await?.remove(&id))
    }

    /// The recipients of these orders that are still kept.
    async fn recipients(&self, ids: &[OrderId]) -> Result<HashMap<OrderId, Recipient>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let keys =
            ids.iter().take(BATCH_LIMIT).map(|id| Item::from([("pk".to_owned(), s(recipient_key(*id)))])).collect();
        let items = batch_get(&self.client, &self.table, keys, |request| request).await?;
        let now = OffsetDateTime::now_utc();
        let mut recipients = HashMap::with_capacity(items.len());
        for item in &items {
            if let Some(recipient) = read_recipient(item, now)? {
                recipients.insert(get_parsed(item, "order_id", |text| OrderId::parse(text).ok_or(()))?, recipient);
            }
        }
        Ok(recipients)
    }

    /// One page of order ids from an index, and the cursor after it.
    async fn page_of_ids(
        &self,
        listing: &Listing,
        oldest_first: bool,
        asked: PageRequest<'_>,
    ) -> Result<(Vec<OrderId>, Option<String>), ListError> {
        let (partition_name, partition_value) = &listing.partition;
        let start = match asked.cursor {
            Some(cursor) => Some(decode_cursor(cursor, listing).ok_or(ListError::BadCursor)?),
            None => None,
        };
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(listing.index)
            .key_condition_expression("#partition = :partition")
            .expression_attribute_names("#partition", *partition_name)
            .expression_attribute_values(":partition", s(partition_value))
            .scan_index_forward(oldest_first)
            .limit(i32::try_from(asked.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let ids =
            answer.items().iter().map(|item| order_id_of_key(get_s(item, "pk")?)).collect::<Result<Vec<_>, _>>()?;
        let next = match answer.last_evaluated_key() {
            Some(last) if !last.is_empty() => Some(encode_cursor(last, listing)?),
            _ => None,
        };
        Ok((ids, next))
    }

    /// The update that writes `transition`, on condition that the order is still where it was.
    pub(crate) fn advance(&self, transition: &Transition) -> Result<Update, StoreError> {
        let to = transition.to();
        let mut set = vec!["#status = :to".to_owned(), HISTORY_APPEND.to_owned()];
        let mut remove = Vec::new();
        let mut update = with_milestone(Update::builder(), &transition.milestone)?
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":from", s(transition.from.as_str()));
        if let Some(shipment) = transition.shipment() {
            set.push("carrier = :carrier, tracking_code = :tracking".to_owned());
            update = update
                .expression_attribute_values(":carrier", s(shipment.carrier.as_str()))
                .expression_attribute_values(":tracking", s(shipment.tracking_code.as_str()));
        }
        update = update.expression_attribute_names("#queue", FULFILMENT_QUEUE);
        match to.in_fulfilment() {
            true => set.push("#queue = :to".to_owned()),
            false => remove.push("#queue"),
        }
        if transition.from == OrderStatus::AwaitingPayment {
            remove.push("#awaiting");
            update = update.expression_attribute_names("#awaiting", AWAITING_PAYMENT);
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        update
            .table_name(&self.table)
            .key("pk", s(order_key(transition.order)))
            .update_expression(expression)
            .condition_expression("#status = :from")
            .build()
            .map_err(|_| StoreError::Failed("build-update".into()))
    }

    /// The update that has the recipient's details erased at `at` (P15). The recipient is written
    /// with its order and only TTL removes it, after a time the transition is earlier than; the
    /// condition keeps a stray update from creating a recipient of nothing but a date.
    pub(crate) fn shorten_recipient(&self, id: OrderId, at: OffsetDateTime) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .key("pk", s(recipient_key(id)))
            .update_expression("SET expires_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", time(at))
            .build()
            .map_err(|_| StoreError::Failed("build-update".into()))
    }
}

fn progress_names() -> HashMap<String, String> {
    ["status", "total", "lines", "history"].into_iter().map(|name| (format!("#{name}"), name.to_owned())).collect()
}

fn read_progress(item: &Item) -> Result<OrderProgress, StoreError> {
    let (payment, shipment, history) = read_life(item)?;
    Ok(OrderProgress {
        id: order_id_of_key(get_s(item, "pk")?)?,
        account: get_parsed(item, "account_id", |text| AccountId::parse(text).ok_or(()))?,
        status: get_parsed(item, "status", |text| OrderStatus::parse(text).ok_or(()))?,
        placed_at: get_time(item, "placed_at")?,
        total: Rial::new(get_n(item, "total")?),
        lines: read_cart(item)?,
        payment,
        shipment,
        history,
    })
}

/// The position after the last order shown: its id and sort key, as base64url. The partition is
/// not in it: it is filled in from the request, so a cursor cannot reach another customer's
/// orders or another queue.
fn encode_cursor(last: &Item, listing: &Listing) -> Result<String, StoreError> {
    let id = order_id_of_key(get_s(last, "pk")?)?;
    let sort: i64 = get_n(last, listing.sort)?;
    Ok(URL_SAFE_NO_PAD.encode(format!("{sort}.{id}")))
}

fn decode_cursor(cursor: &str, listing: &Listing) -> Option<Item> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (sort, id) = text.split_once('.')?;
    let sort: i64 = sort.parse().ok()?;
    let id = OrderId::parse(id)?;
    let (partition_name, partition_value) = &listing.partition;
    Some(Item::from([
        ("pk".to_owned(), s(order_key(id))),
        ((*partition_name).to_owned(), s(partition_value)),
        (listing.sort.to_owned(), n(sort)),
    ]))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    #[test]
    fn a_cursor_round_trips_and_cannot_leave_its_listing() {
        let mine =
            Listing { index: "ByAccount", partition: ("account_id", AccountId::new().to_string()), sort: "placed_at" };
        let id = OrderId::for_checkout(AccountId::new(), "k");
        let last = Item::from([
            ("pk".to_owned(), s(order_key(id))),
            ("account_id".to_owned(), s("someone else")),
            ("placed_at".to_owned(), n(1_800_000_000)),
        ]);
        let cursor = encode_cursor(&last, &mine).unwrap();
        let start = decode_cursor(&cursor, &mine).unwrap();
        assert_eq!(start.get("account_id"), Some(&s(&mine.partition.1)), "the partition is the asker's");
        assert_eq!(start.get("placed_at"), Some(&AttributeValue::N("1800000000".into())));
        for forged in ["", "!!", "MTIz", &URL_SAFE_NO_PAD.encode("12.not-an-order"), &URL_SAFE_NO_PAD.encode("x.y")] {
            assert!(decode_cursor(forged, &mine).is_none(), "{forged}");
        }
    }
}
