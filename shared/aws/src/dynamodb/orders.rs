//! The orders table: each order, its recipient kept apart (P15), and the stock it reserved.
//!
//! Items: `ORDER#<order id>` (the order, its buyer through `buyer_identity`, its priced lines
//! with the VAT applied, totals) and `ORDER#<order id>#RECIPIENT` (who receives it, expiring by
//! TTL). An order is written in one transaction with its recipient and the stock decrements of
//! its lines: all of it happens, or none.
//!
//! The buyer's identity codes are sealed (P4); an order is found by its buyer's code through
//! the keyed hash `buyer_code_hash` and the `ByBuyerCode` index, never by a scan.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::{Item, buyer_identity, every_page, get_n, get_parsed, get_s, get_time, n, s, time};
use crate::kms::sealed_fields::FieldSealer;
use mizan::accounts::contact::{IranMobile, PostalCode};
use mizan::accounts::person::FullName;
use mizan::invoicing::ports::PlacedOrders;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::OrderId;
use mizan::kernel::ids::ProductId;
use mizan::ordering::buyer_lookup::{BuyerCodeHash, BuyerLookupKey};
use mizan::ordering::identity::NationalCode;
use mizan::ordering::order::{Address, Order, OrderStatus, Recipient, StoredOrder};
use mizan::ordering::ports::Placement;
use mizan::ordering::pricing::{PricedLine, PricedOrder, VatRate};
use mizan::privacy::ports::OrderRecords;
use mizan::reviewing::ports::Purchases;

/// Concurrent orders of one product conflict in DynamoDB; they are retried this often.
const CONFLICT_RETRIES: u32 = 8;

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

fn order_id_of_key(key: &str) -> Result<OrderId, StoreError> {
    key.strip_prefix("ORDER#").and_then(OrderId::parse).ok_or(StoreError::Corrupt("pk"))
}

fn order_key(id: OrderId) -> String {
    format!("ORDER#{id}")
}

fn recipient_key(id: OrderId) -> String {
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

        let mut attempt = 0;
        loop {
            let written = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match written {
                Ok(_) => return Ok(Placement::Placed),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error()
            else {
                return Err(crate::dynamodb::store_error(&error));
            };
            let reasons: Vec<Option<&str>> = cancelled.cancellation_reasons().iter().map(|r| r.code()).collect();
            if reasons.first() == Some(&Some("ConditionalCheckFailed")) {
                return Ok(Placement::AlreadyPlaced);
            }
            let short: Vec<ProductId> = reasons
                .iter()
                .skip(2)
                .zip(&order.priced.lines)
                .filter(|(reason, _)| **reason == Some("ConditionalCheckFailed"))
                .map(|(_, line)| line.product_id.clone())
                .collect();
            if !short.is_empty() {
                return Ok(Placement::OutOfStock(short));
            }
            if reasons.contains(&Some("TransactionConflict")) && attempt < CONFLICT_RETRIES {
                attempt += 1;
                // Jittered backoff, so the conflicting orders do not collide again in step.
                let jitter = u64::from(rand::random::<u8>() % 20);
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
                continue;
            }
            // Contention and throttling pass; anything else is a bug worth its own name in the log.
            let codes: Vec<&str> = reasons.iter().flatten().copied().filter(|code| *code != "None").collect();
            return Err(match codes.iter().all(|code| matches!(*code, "TransactionConflict" | "ThrottlingError")) {
                true => StoreError::Unavailable(codes.join(",")),
                false => StoreError::Failed(codes.join(",")),
            });
        }
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
        let recipient = self.recipient(id, OffsetDateTime::now_utc()).await?;
        Ok(Some(StoredOrder { order, recipient }))
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
        let Some(item) = answer.item else { return Ok(None) };
        if get_time(&item, "expires_at")? <= now {
            return Ok(None);
        }
        Ok(Some(Recipient {
            name: get_parsed(&item, "name", FullName::parse)?,
            phone: get_parsed(&item, "phone", IranMobile::parse)?,
            address: get_parsed(&item, "address", Address::parse)?,
            postal_code: get_parsed(&item, "postal_code", PostalCode::parse)?,
        }))
    }
}

impl PurchaseIndex {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
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
        let key = order_key(order.id);
        buyer_identity::write(&self.fields, &key, &order.buyer, &mut item).await?;
        buyer_identity::write_lookup_hash(&self.lookup, &order.buyer, &mut item);
        Ok(item)
    }

    async fn read_order(&self, id: OrderId, item: &Item) -> Result<Order, StoreError> {
        let lines: Vec<PricedLine> =
            serde_json::from_str(get_s(item, "lines")?).map_err(|_| StoreError::Corrupt("lines"))?;
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
            status: match get_s(item, "status")? {
                "placed" => OrderStatus::Placed,
                _ => return Err(StoreError::Corrupt("status")),
            },
            placed_at: get_time(item, "placed_at")?,
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
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(order_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        match answer.item {
            Some(item) => Ok(Some(self.read_order(id, &item).await?)),
            None => Ok(None),
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
