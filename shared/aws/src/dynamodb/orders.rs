//! The orders table: each order, its recipient kept apart (P15), and the stock it reserved.
//!
//! Items: `ORDER#<order id>` (the order, its buyer through `buyer_identity`, its priced lines
//! with the VAT applied, totals, its payment status) and `ORDER#<order id>#RECIPIENT` (who
//! receives it, expiring by TTL). An order is written in one transaction with its recipient and
//! the stock decrements of its lines: all of it happens, or none.
//!
//! An order awaiting payment also carries `awaiting_payment` (always `due`), which puts it in the
//! sparse `AwaitingPayment` index by `payment_due`: the sweep finds overdue orders with one Query.
//! Paying or expiring the order removes the attribute, and with it the index entry. The index has
//! one partition; at this shop's volume (orders awaiting payment for 30 minutes) it stays small.
//!
//! The buyer's identity codes are sealed (P4); an order is found by its buyer's code through
//! the keyed hash `buyer_code_hash` and the `ByBuyerCode` index, never by a scan.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::{Item, Transaction, buyer_identity, every_page, get_n, get_parsed, get_s, get_time, n, s, time, transact};
use crate::kms::sealed_fields::FieldSealer;
use mizan::accounts::contact::{IranMobile, PostalCode};
use mizan::accounts::person::FullName;
use mizan::invoicing::ports::PlacedOrders;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::OrderId;
use mizan::kernel::ids::PaymentId;
use mizan::kernel::ids::ProductId;
use mizan::ordering::buyer_lookup::{BuyerCodeHash, BuyerLookupKey};
use mizan::ordering::identity::NationalCode;
use mizan::ordering::lifecycle::{Actor, Carrier, Milestone, OrderPayment, OrderStatus, Shipment, TrackingCode};
use mizan::ordering::order::{Address, CartLine, Order, Recipient, StoredOrder};
use mizan::ordering::ports::Placement;
use mizan::ordering::pricing::{PricedLine, PricedOrder, VatRate};
use mizan::payments::payment::RefId;
use mizan::payments::ports::PayableOrder;
use mizan::privacy::ports::OrderRecords;
use mizan::reviewing::ports::Purchases;

/// Orders with their buyers: sealing and opening identity codes, and hashing them for lookups.
#[derive(Debug, Clone)]
pub struct OrdersTable {
    client: Client,
    table: String,
    fields: FieldSealer,
    lookup: BuyerLookupKey,
}

/// The `ByAccount` index alone: which products a customer has bought, nothing personal. For
/// functions that must not read orders (reviews).
#[derive(Debug, Clone)]
pub struct PurchaseIndex {
    client: Client,
    table: String,
}

/// Orders as payments see them: status, total, lines and payment window, never the buyer — for
/// the payment function, which holds no key to the identity codes (P4).
#[derive(Debug, Clone)]
pub struct PayableOrders {
    client: Client,
    table: String,
}

pub(super) fn order_id_of_key(key: &str) -> Result<OrderId, StoreError> {
    key.strip_prefix("ORDER#").and_then(OrderId::parse).ok_or(StoreError::Corrupt("pk"))
}

pub(super) fn order_key(id: OrderId) -> String {
    format!("ORDER#{id}")
}

/// The attribute that puts an order in the `AwaitingPayment` index while it awaits payment.
pub(super) const AWAITING_PAYMENT: &str = "awaiting_payment";
const DUE: &str = "due";

/// The attribute that puts an order on the packing queue (the `FulfilmentQueue` index, by
/// `paid_at`) while it is paid, packed or shipped: its status then, and absent otherwise.
pub(super) const FULFILMENT_QUEUE: &str = "fulfilment_queue";

/// The order's history: a list of milestones, each as JSON, oldest first.
pub(super) const HISTORY: &str = "history";
pub(super) const HISTORY_APPEND: &str = "#history = list_append(if_not_exists(#history, :no_history), :milestone)";

/// An update that appends `milestone` to the history (`HISTORY_APPEND` in its expression).
pub(super) fn with_milestone(update: UpdateBuilder, milestone: &Milestone) -> Result<UpdateBuilder, StoreError> {
    let json = serde_json::to_string(milestone).map_err(|_| StoreError::Failed("encode-milestone".into()))?;
    Ok(update
        .expression_attribute_names("#history", HISTORY)
        .expression_attribute_values(":no_history", AttributeValue::L(Vec::new()))
        .expression_attribute_values(":milestone", AttributeValue::L(vec![s(json)])))
}

/// What an order item says of its life: payment, shipment, history (absent on orders placed
/// before they were kept).
type Life = (Option<OrderPayment>, Option<Shipment>, Vec<Milestone>);

pub(super) fn read_life(item: &Item) -> Result<Life, StoreError> {
    let payment = match item.get("payment_id") {
        None => None,
        Some(_) => Some(OrderPayment {
            payment_id: get_parsed(item, "payment_id", |text| PaymentId::parse(text).ok_or(()))?,
            paid_at: get_time(item, "paid_at")?,
            ref_id: item.get("payment_ref").and_then(|value| value.as_s().ok()).cloned(),
        }),
    };
    let shipment = match item.get("carrier") {
        None => None,
        Some(_) => Some(Shipment {
            carrier: get_parsed(item, "carrier", Carrier::parse)?,
            tracking_code: get_parsed(item, "tracking_code", TrackingCode::parse)?,
        }),
    };
    let history = match item.get(HISTORY) {
        None => Vec::new(),
        Some(value) => value
            .as_l()
            .map_err(|_| StoreError::Corrupt("history"))?
            .iter()
            .map(|entry| {
                entry.as_s().ok().and_then(|json| serde_json::from_str(json).ok()).ok_or(StoreError::Corrupt("history"))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok((payment, shipment, history))
}

/// An order's priced lines, as written at placing.
fn read_lines(item: &Item) -> Result<Vec<PricedLine>, StoreError> {
    serde_json::from_str(get_s(item, "lines")?).map_err(|_| StoreError::Corrupt("lines"))
}

/// What each of an order's lines took from stock.
pub(super) fn read_cart(item: &Item) -> Result<Vec<CartLine>, StoreError> {
    Ok(read_lines(item)?
        .into_iter()
        .map(|line| CartLine { product_id: line.product_id, quantity: line.quantity })
        .collect())
}

/// A recipient item's details, unless erased — or due for erasure: TTL deletes late, the promise
/// is kept by the clock (P15).
pub(super) fn read_recipient(item: &Item, now: OffsetDateTime) -> Result<Option<Recipient>, StoreError> {
    if get_time(item, "expires_at")? <= now {
        return Ok(None);
    }
    Ok(Some(Recipient {
        name: get_parsed(item, "name", FullName::parse)?,
        phone: get_parsed(item, "phone", IranMobile::parse)?,
        address: get_parsed(item, "address", Address::parse)?,
        postal_code: get_parsed(item, "postal_code", PostalCode::parse)?,
    }))
}

pub(super) fn recipient_key(id: OrderId) -> String {
    format!("ORDER#{id}#RECIPIENT")
}

impl OrdersTable {
    pub fn new(client: Client, table: impl Into<String>, fields: FieldSealer, lookup: BuyerLookupKey) -> Self {
        Self { client, table: table.into(), fields, lookup }
    }

    /// Writes the order, its recipient, the stock reservations (one per line, in line order,
    /// from `ProductsTable::reserve_stock`) and the order's event (from `OutboxTable::put`) in
    /// one transaction.
    pub(crate) async fn place(
        &self,
        order: &Order,
        recipient: &Recipient,
        reservations: Vec<Update>,
        announcement: TransactWriteItem,
    ) -> Result<Placement, StoreError> {
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.order_item(order).await?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|_| StoreError::Failed("build-put".into()))?;
        let recipient_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(recipient_item(order, recipient)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|_| StoreError::Failed("build-put".into()))?;
        let mut items = vec![
            TransactWriteItem::builder().put(order_put).build(),
            TransactWriteItem::builder().put(recipient_put).build(),
        ];
        items.extend(reservations.into_iter().map(|update| TransactWriteItem::builder().update(update).build()));
        // Last, so that the reasons above are read by position.
        items.push(announcement);

        let reasons = match transact(&self.client, items).await? {
            Transaction::Committed => return Ok(Placement::Placed),
            Transaction::Cancelled(reasons) => reasons,
        };
        if reasons.first().map(String::as_str) == Some("ConditionalCheckFailed") {
            return Ok(Placement::AlreadyPlaced);
        }
        let short: Vec<ProductId> = reasons
            .iter()
            .skip(2)
            .zip(&order.priced.lines)
            .filter(|(reason, _)| *reason == "ConditionalCheckFailed")
            .map(|(_, line)| line.product_id.clone())
            .collect();
        if short.is_empty() {
            return Err(StoreError::Failed(reasons.join(",")));
        }
        Ok(Placement::OutOfStock(short))
    }

    /// The ids of the orders whose buyer has this national code or national id (see
    /// `BuyerLookupKey`), oldest first: a Query of the `ByBuyerCode` index, which holds keys only.
    pub async fn order_ids_of_buyer_code(&self, hash: &BuyerCodeHash) -> Result<Vec<OrderId>, StoreError> {
        let items = every_page(|start| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name("ByBuyerCode")
                .key_condition_expression("#hash = :hash")
                .expression_attribute_names("#hash", buyer_identity::LOOKUP_HASH)
                .expression_attribute_values(":hash", s(hash.as_str()))
                .set_exclusive_start_key(start)
                .send()
        })
        .await?;
        items.iter().map(|item| order_id_of_key(get_s(item, "pk")?)).collect()
    }

    /// The order with its recipient, while the recipient is kept.
    pub async fn get(&self, id: OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let Some(order) = self.order(id).await? else { return Ok(None) };
        self.with_its_recipient(order).await.map(Some)
    }

    /// The order with its recipient if it is `owner`'s; another's is not followed to its
    /// recipient.
    pub async fn owned_with_recipient(&self, id: OrderId, owner: AccountId) -> Result<Option<StoredOrder>, StoreError> {
        let Some(order) = PlacedOrders::owned(self, id, owner).await? else { return Ok(None) };
        self.with_its_recipient(order).await.map(Some)
    }

    async fn with_its_recipient(&self, order: Order) -> Result<StoredOrder, StoreError> {
        let recipient = self.recipient(order.id, OffsetDateTime::now_utc()).await?;
        Ok(StoredOrder { order, recipient })
    }

    async fn stored_item(&self, id: OrderId) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(order_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(answer.item)
    }

    /// The recipient, unless erased — or due for erasure: TTL deletes late, the promise is
    /// kept by the clock (P15).
    async fn recipient(&self, id: OrderId, now: OffsetDateTime) -> Result<Option<Recipient>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(recipient_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.item.map_or(Ok(None), |item| read_recipient(&item, now))
    }
}

impl PurchaseIndex {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl PayableOrders {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The client, for transactions that span this table and others.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The update that marks the order paid by `payment` at `at`, onto the packing queue: on
    /// condition that it awaits payment, or, to take its stock again after it expired, that it
    /// expired.
    pub(crate) fn pay(
        &self,
        id: OrderId,
        payment: PaymentId,
        ref_id: Option<&RefId>,
        at: OffsetDateTime,
        after_expiry: bool,
    ) -> Result<Update, StoreError> {
        let from = if after_expiry { OrderStatus::Expired } else { OrderStatus::AwaitingPayment };
        let milestone = Milestone { status: OrderStatus::Paid, at, by: Actor::System, reason: None };
        let mut set =
            format!("SET #status = :paid, paid_at = :at, payment_id = :payment, #queue = :paid, {HISTORY_APPEND}");
        let mut update = Update::builder();
        if let Some(ref_id) = ref_id {
            set.push_str(", payment_ref = :ref");
            update = update.expression_attribute_values(":ref", s(ref_id.as_str()));
        }
        with_milestone(update, &milestone)?
            .table_name(&self.table)
            .key("pk", s(order_key(id)))
            .update_expression(format!("{set} REMOVE #awaiting"))
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#awaiting", AWAITING_PAYMENT)
            .expression_attribute_names("#queue", FULFILMENT_QUEUE)
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":at", time(at))
            .expression_attribute_values(":payment", s(payment.to_string()))
            .build()
            .map_err(|_| StoreError::Failed("build-update".into()))
    }

    /// The update that expires the order at `at`, on condition it still awaits payment.
    pub(crate) fn expire(&self, id: OrderId, at: OffsetDateTime) -> Result<Update, StoreError> {
        let milestone = Milestone { status: OrderStatus::Expired, at, by: Actor::System, reason: None };
        with_milestone(Update::builder(), &milestone)?
            .table_name(&self.table)
            .key("pk", s(order_key(id)))
            .update_expression(format!("SET #status = :expired, {HISTORY_APPEND} REMOVE #awaiting"))
            .condition_expression("#status = :awaiting")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#awaiting", AWAITING_PAYMENT)
            .expression_attribute_values(":expired", s(OrderStatus::Expired.as_str()))
            .expression_attribute_values(":awaiting", s(OrderStatus::AwaitingPayment.as_str()))
            .build()
            .map_err(|_| StoreError::Failed("build-update".into()))
    }

    /// The order, without its buyer.
    pub(crate) async fn payable(&self, id: OrderId) -> Result<Option<PayableOrder>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(order_key(id)))
            .projection_expression("account_id, #total, #status, payment_due, #lines")
            .expression_attribute_names("#total", "total")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lines", "lines")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let Some(item) = answer.item else { return Ok(None) };
        Ok(Some(PayableOrder {
            id,
            account: AccountId::parse(get_s(&item, "account_id")?).ok_or(StoreError::Corrupt("account_id"))?,
            total: mizan::kernel::money::Rial::new(get_n(&item, "total")?),
            status: get_parsed(&item, "status", |text| OrderStatus::parse(text).ok_or(()))?,
            payment_due: get_time(&item, "payment_due")?,
            lines: read_cart(&item)?,
        }))
    }

    /// The ids of orders awaiting payment whose `payment_due` is not after `now`, earliest first,
    /// at most `limit`: one Query of the sparse `AwaitingPayment` index (keys only).
    pub(crate) async fn overdue(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<OrderId>, StoreError> {
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("AwaitingPayment")
            .key_condition_expression("#awaiting = :due AND payment_due <= :now")
            .expression_attribute_names("#awaiting", AWAITING_PAYMENT)
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(":now", time(now))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.items().iter().map(|item| order_id_of_key(get_s(item, "pk")?)).collect()
    }
}

// The item layout of an order, its buyer sealed.
impl OrdersTable {
    async fn order_item(&self, order: &Order) -> Result<Item, StoreError> {
        let lines =
            serde_json::to_string(&order.priced.lines).map_err(|_| StoreError::Failed("encode-lines".into()))?;
        let products: Vec<String> = order.priced.lines.iter().map(|line| line.product_id.as_str().to_owned()).collect();
        let mut item = Item::from([
            ("pk".to_owned(), s(order_key(order.id))),
            ("order_id".to_owned(), s(order.id.to_string())),
            ("request_hash".to_owned(), s(&order.request_hash)),
            ("account_id".to_owned(), s(order.account.to_string())),
            ("placed_at".to_owned(), time(order.placed_at)),
            ("status".to_owned(), s(order.status.as_str())),
            ("payment_due".to_owned(), time(order.payment_due)),
            ("lines".to_owned(), s(lines)),
            // For "has this customer bought this product" (the verified-buyer mark of reviews).
            ("product_ids".to_owned(), AttributeValue::Ss(products)),
            ("subtotal".to_owned(), n(order.priced.subtotal.value())),
            ("vat".to_owned(), n(order.priced.vat.value())),
            ("total".to_owned(), n(order.priced.total.value())),
            ("vat_rate_basis_points".to_owned(), n(order.priced.vat_rate.basis_points)),
            ("vat_rate_from".to_owned(), time(order.priced.vat_rate.from)),
            ("vat_rate_source".to_owned(), s(&order.priced.vat_rate.source)),
        ]);
        if order.status == OrderStatus::AwaitingPayment {
            item.insert(AWAITING_PAYMENT.to_owned(), s(DUE));
        }
        let history = order
            .history
            .iter()
            .map(|milestone| serde_json::to_string(milestone).map(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError::Failed("encode-history".into()))?;
        item.insert(HISTORY.to_owned(), AttributeValue::L(history));
        let key = order_key(order.id);
        buyer_identity::write(&self.fields, &key, &order.buyer, &mut item).await?;
        buyer_identity::write_lookup_hash(&self.lookup, &order.buyer, &mut item);
        Ok(item)
    }

    async fn read_order(&self, id: OrderId, item: &Item) -> Result<Order, StoreError> {
        let (payment, shipment, history) = read_life(item)?;
        let lines = read_lines(item)?;
        let rial = |name| get_n::<u64>(item, name).map(mizan::kernel::money::Rial::new);
        Ok(Order {
            id,
            request_hash: get_s(item, "request_hash")?.to_owned(),
            account: AccountId::parse(get_s(item, "account_id")?).ok_or(StoreError::Corrupt("account_id"))?,
            buyer: buyer_identity::read(&self.fields, &order_key(id), item).await?,
            priced: PricedOrder {
                lines,
                subtotal: rial("subtotal")?,
                vat: rial("vat")?,
                total: rial("total")?,
                vat_rate: VatRate {
                    basis_points: get_n(item, "vat_rate_basis_points")?,
                    from: get_time(item, "vat_rate_from")?,
                    source: get_s(item, "vat_rate_source")?.to_owned(),
                },
            },
            status: get_parsed(item, "status", |text| OrderStatus::parse(text).ok_or(()))?,
            placed_at: get_time(item, "placed_at")?,
            payment_due: get_time(item, "payment_due")?,
            payment,
            shipment,
            history,
        })
    }
}

fn recipient_item(order: &Order, recipient: &Recipient) -> Item {
    Item::from([
        ("pk".to_owned(), s(recipient_key(order.id))),
        ("order_id".to_owned(), s(order.id.to_string())),
        ("name".to_owned(), s(recipient.name.as_str())),
        ("phone".to_owned(), s(recipient.phone.as_e164())),
        ("address".to_owned(), s(recipient.address.as_str())),
        ("postal_code".to_owned(), s(recipient.postal_code.as_str())),
        ("expires_at".to_owned(), time(order.recipient_erasure_at())),
    ])
}

impl Purchases for PurchaseIndex {
    /// Whether the customer has an order containing the product (the verified-buyer mark). Reads
    /// the `ByAccount` index only, which carries ids and product ids, nothing personal.
    async fn has_bought(&self, account: AccountId, product: &ProductId) -> Result<bool, StoreError> {
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("ByAccount")
                .key_condition_expression("account_id = :account")
                .filter_expression("contains(product_ids, :product)")
                .expression_attribute_values(":account", s(account.to_string()))
                .expression_attribute_values(":product", s(product.as_str()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| crate::dynamodb::store_error(&e))?;
            if page.count > 0 {
                return Ok(true);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(false);
            }
        }
    }
}

impl PlacedOrders for OrdersTable {
    /// The order alone, without its recipient: what invoicing needs, and no more (P15).
    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        match self.stored_item(id).await? {
            Some(item) => Ok(Some(self.read_order(id, &item).await?)),
            None => Ok(None),
        }
    }

    /// Whose the order is is read first: another's is not opened (its sealed codes are not
    /// decrypted).
    async fn owned(&self, id: OrderId, owner: AccountId) -> Result<Option<Order>, StoreError> {
        match self.stored_item(id).await? {
            Some(item) if get_s(&item, "account_id")? == owner.to_string() => {
                Ok(Some(self.read_order(id, &item).await?))
            }
            _ => Ok(None),
        }
    }
}

impl OrderRecords for OrdersTable {
    /// The ids of the orders whose buyer carries this national code (P3 exports): by its keyed
    /// hash, through the `ByBuyerCode` index; the code itself is stored sealed (P4).
    async fn orders_with_buyer_code(&self, code: &NationalCode) -> Result<Vec<OrderId>, StoreError> {
        self.order_ids_of_buyer_code(&self.lookup.national_code(code)).await
    }

    /// The ids of a customer's orders, oldest first, from the `ByAccount` index (P3 exports).
    async fn order_ids_of(&self, account: AccountId) -> Result<Vec<OrderId>, StoreError> {
        let items = every_page(|start| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name("ByAccount")
                .key_condition_expression("account_id = :account")
                .expression_attribute_values(":account", s(account.to_string()))
                .set_exclusive_start_key(start)
                .send()
        })
        .await?;
        items.iter().map(|item| order_id_of_key(get_s(item, "pk")?)).collect()
    }

    async fn with_recipient(&self, id: OrderId) -> Result<Option<StoredOrder>, StoreError> {
        self.get(id).await
    }
}
