//! Placing an order (P2, P8, P14, P15): prices and VAT from the catalog, never from the client;
//! stock reserved in the same transaction as the order; one order per checkout however often
//! it is retried.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::kernel::events::{DomainEvent, Envelope};
use crate::kernel::failures::StoreError;
use crate::kernel::ids::{AccountId, OrderId, ProductId};
use crate::kernel::ports::{IpRecorder, RecordedRequest};
use crate::kernel::problem::Problem;
use crate::ordering::idempotency::{IdempotencyKey, StoredResponse};
use crate::ordering::idempotent::{self, Outcome, WaitPolicy};
use crate::ordering::lifecycle::{Actor, Milestone, OrderStatus};
use crate::ordering::order::{Buyer, CartLine, Order, Recipient, StoredOrder, unknown_product};
use crate::ordering::ports::{Catalog, IdempotencyStore, OrderBook, Placement};
use crate::ordering::pricing::{PricingError, VatSchedule, price_order};

/// A checkout request that passed every rule of form.
#[derive(Debug)]
pub struct CheckoutRequest {
    pub cart: Vec<CartLine>,
    pub buyer: Buyer,
    pub recipient: Recipient,
}

#[derive(Debug)]
pub enum CheckoutOutcome {
    Placed(Box<StoredOrder>),
    /// These cart lines (by index) name products the catalog does not have.
    UnknownProducts(Vec<usize>),
    OutOfStock(Vec<ProductId>),
    /// The key made an order from another request: keys are single-use.
    KeyReused,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// An order id derived for this customer belongs to another: cannot happen short of a
    /// SHA-256 collision, but a stored order is never handed to someone else on faith.
    #[error("an existing order with this id belongs to another account")]
    Foreign,
}

/// What placing an order needs: the shop (its catalog and its orders, which keep the order's
/// event with it), the VAT table, and how long an order waits for its payment.
pub struct Checkout<'a, S> {
    pub shop: &'a S,
    pub vat: &'a VatSchedule,
    pub payment_window: time::Duration,
}

pub async fn place_order<S: Catalog + OrderBook>(
    store: &Checkout<'_, S>,
    account: AccountId,
    idempotency_key: &str,
    request_hash: &str,
    request: CheckoutRequest,
    now: OffsetDateTime,
) -> Result<CheckoutOutcome, CheckoutError> {
    let id = OrderId::for_checkout(account, idempotency_key);
    // Whole seconds, as stored: the answer to the checkout and every later read agree.
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let wanted: Vec<ProductId> = request.cart.iter().map(|line| line.product_id.clone()).collect();
    let found = store.shop.get_many(&wanted).await?;
    let mut items = Vec::with_capacity(request.cart.len());
    let mut unknown = Vec::new();
    for (index, line) in request.cart.iter().enumerate() {
        match found.iter().find(|product| product.id == line.product_id) {
            Some(product) => items.push((product.clone(), line.quantity)),
            None => unknown.push(index),
        }
    }
    if !unknown.is_empty() {
        return Ok(CheckoutOutcome::UnknownProducts(unknown));
    }

    let priced = price_order(&items, store.vat, now)?;
    let order = Order {
        id,
        request_hash: request_hash.to_owned(),
        account,
        buyer: request.buyer,
        priced,
        status: OrderStatus::AwaitingPayment,
        placed_at: now,
        payment_due: now + store.payment_window,
        payment: None,
        shipment: None,
        history: vec![Milestone {
            status: OrderStatus::AwaitingPayment,
            at: now,
            by: Actor::Customer(account),
            reason: None,
        }],
    };
    let placed = DomainEvent::OrderPlaced { order_id: id, account_id: account, total: order.priced.total };
    // Kept with the order, in its transaction: announced exactly when it is placed.
    let announced = Envelope::once_per(&format!("order-placed#{id}"), placed, now);
    let stored = match store.shop.place(&order, &request.recipient, &announced).await? {
        Placement::Placed => {
            tracing::info!(order = %id, %account, lines = order.priced.lines.len(), "order placed");
            StoredOrder { order, recipient: Some(request.recipient) }
        }
        Placement::AlreadyPlaced => {
            let existing = store.shop.owned(id, account).await?.ok_or(CheckoutError::Foreign)?;
            if existing.order.request_hash != request_hash {
                return Ok(CheckoutOutcome::KeyReused);
            }
            tracing::info!(order = %id, "checkout retried; the existing order stands");
            existing
        }
        Placement::OutOfStock(products) => return Ok(CheckoutOutcome::OutOfStock(products)),
    };
    Ok(CheckoutOutcome::Placed(Box::new(stored)))
}

/// A checkout as the storefront sends it: who, under which `Idempotency-Key`, the fingerprint of
/// its body, and where it came from.
pub struct CheckoutCall {
    pub account: AccountId,
    pub key: IdempotencyKey,
    pub payload_hash: String,
    pub source_ip: Option<IpAddr>,
    /// How long this run may still take: a lock older than that belongs to a run that died.
    pub in_progress_for: Duration,
}

/// The whole checkout request: the order is placed once per key (a retry gets the same order,
/// another body under the key is refused, a duplicate of a running checkout is told to come
/// back), its source address is recorded (P14), and the order is read back afresh for the
/// answer. Only the order's id is kept with the idempotency record: the order itself, with its
/// recipient (P15), stays in the order book.
pub async fn check_out<S>(
    checkout: &Checkout<'_, S>,
    idempotency: &impl IdempotencyStore,
    ip_records: &impl IpRecorder,
    call: CheckoutCall,
    request: CheckoutRequest,
    now: OffsetDateTime,
) -> Result<StoredOrder, Problem>
where
    S: Catalog + OrderBook,
{
    let account = call.account;
    let record_id = format!("checkout#{account}#{}", call.key.as_str());
    let work = || async {
        match place_order(checkout, account, call.key.as_str(), &call.payload_hash, request, now).await? {
            CheckoutOutcome::Placed(order) => {
                // The order stands whatever happens here: a lost record is logged, never turned
                // into a failed checkout that the customer would retry.
                if let Some(ip) = call.source_ip
                    && let Err(error) = ip_records.record(account, RecordedRequest::Checkout, ip, now).await
                {
                    tracing::error!(order = %order.order.id, %error, "the checkout's IP could not be recorded");
                }
                Ok(StoredResponse { status: 201, body: json!({ "order_id": order.order.id }).to_string() })
            }
            CheckoutOutcome::UnknownProducts(lines) => {
                Err(Problem::invalid(lines.into_iter().map(unknown_product).collect()))
            }
            CheckoutOutcome::OutOfStock(products) => {
                tracing::info!(products = products.len(), "checkout refused: not enough stock");
                Err(Problem::out_of_stock())
            }
            CheckoutOutcome::KeyReused => Err(Problem::idempotency_key_reused()),
        }
    };
    let outcome = idempotent::run_once(
        idempotency,
        &record_id,
        &call.payload_hash,
        now,
        call.in_progress_for,
        WaitPolicy::default(),
        work,
    );
    let placed = match outcome.await? {
        Outcome::Fresh(response) | Outcome::Replayed(response) => response,
        Outcome::Mismatch => return Err(Problem::idempotency_key_reused()),
        Outcome::InProgress { retry_after_seconds } => return Err(Problem::request_in_progress(retry_after_seconds)),
        Outcome::Failed(problem) => return Err(problem),
    };
    let id = serde_json::from_str::<Value>(&placed.body)
        .ok()
        .and_then(|body| body["order_id"].as_str().and_then(OrderId::parse))
        .ok_or(StoreError::Corrupt("order_id"))?;
    let stored = crate::ordering::customer_orders::own_order(checkout.shop, account, id).await?;
    stored.ok_or_else(|| StoreError::Corrupt("order").into())
}

/// At the edge a failed checkout is the store's fault, never the customer's; the details go to
/// the log only.
impl From<CheckoutError> for Problem {
    fn from(error: CheckoutError) -> Self {
        match error {
            CheckoutError::Store(error) => error.into(),
            CheckoutError::Pricing(error) => {
                tracing::error!(%error, "an order could not be priced");
                Problem::internal()
            }
            CheckoutError::Foreign => {
                tracing::error!("an order id collided with another account's order");
                Problem::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::accounts::contact::{IranMobile, PostalCode};
    use crate::accounts::person::FullName;
    use crate::kernel::money::Rial;
    use crate::kernel::testing::{OutboxEvents, RecordedIps};
    use crate::ordering::catalog::Product;
    use crate::ordering::identity::NationalCode;
    use crate::ordering::order::{Address, DEFAULT_PAYMENT_WINDOW};
    use crate::ordering::testing::{InMemoryIdempotency, InMemoryShop};

    const SEED: &str = include_str!("../../../../infra/seed/products.json");
    const RATES: &str = r#"[{"from":"2024-03-20T00:00:00+03:30","percent":10,"source":"قانون بودجه ۱۴۰۳"}]"#;
    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    /// The seed catalog's first product, with this much stock.
    fn product(stock: u32) -> Product {
        let mut product = serde_json::from_str::<Vec<Product>>(SEED).unwrap().remove(0);
        product.stock = stock;
        product
    }

    fn request(product: &ProductId, quantity: u32) -> CheckoutRequest {
        CheckoutRequest {
            cart: vec![CartLine { product_id: product.clone(), quantity }],
            buyer: Buyer::Natural {
                full_name: FullName::parse("مریم کاظمی").unwrap(),
                national_code: NationalCode::parse("0076229645").unwrap(),
            },
            recipient: Recipient {
                name: FullName::parse("رضا احمدی").unwrap(),
                phone: IranMobile::parse("09121112233").unwrap(),
                address: Address::parse("تهران، خیابان ولیعصر، کوچه بهار، پلاک ۱۲").unwrap(),
                postal_code: PostalCode::parse("1968913456").unwrap(),
            },
        }
    }

    struct World {
        shop: InMemoryShop,
        vat: VatSchedule,
        idempotency: InMemoryIdempotency,
        ips: RecordedIps,
        account: AccountId,
    }

    impl World {
        fn with(product: Product) -> Self {
            Self {
                shop: InMemoryShop::with_products([product]),
                vat: VatSchedule::from_json(RATES).unwrap(),
                idempotency: InMemoryIdempotency::default(),
                ips: RecordedIps::default(),
                account: AccountId::new(),
            }
        }

        fn checkout(&self) -> Checkout<'_, InMemoryShop> {
            Checkout { shop: &self.shop, vat: &self.vat, payment_window: DEFAULT_PAYMENT_WINDOW }
        }

        async fn place(&self, key: &str, hash: &str, request: CheckoutRequest) -> CheckoutOutcome {
            place_order(&self.checkout(), self.account, key, hash, request, now()).await.unwrap()
        }

        async fn check_out(&self, key: &str, hash: &str, request: CheckoutRequest) -> Result<StoredOrder, Problem> {
            let call = CheckoutCall {
                account: self.account,
                key: IdempotencyKey::parse(key).unwrap(),
                payload_hash: hash.to_owned(),
                source_ip: Some(IP),
                in_progress_for: Duration::from_secs(10),
            };
            check_out(&self.checkout(), &self.idempotency, &self.ips, call, request, now()).await
        }
    }

    #[tokio::test]
    async fn p8_prices_and_vat_come_from_the_catalog_and_the_order_is_announced() {
        let kenya = product(5);
        let world = World::with(kenya.clone());
        let CheckoutOutcome::Placed(placed) = world.place("k1", "h1", request(&kenya.id, 2)).await else {
            panic!("the order is placed");
        };
        let net = kenya.price.value() * 2;
        assert_eq!(placed.order.priced.subtotal, Rial::new(net));
        assert_eq!(placed.order.priced.vat, Rial::new(net / 10));
        assert_eq!(placed.order.priced.total, Rial::new(net + net / 10));
        assert_eq!(world.shop.stock_of(&kenya.id), Some(3));
        assert_eq!(placed.order.status, OrderStatus::AwaitingPayment, "an order is not a sale until it is paid");
        assert_eq!(placed.order.payment_due, now() + DEFAULT_PAYMENT_WINDOW);
        let announced = DomainEvent::OrderPlaced {
            order_id: placed.order.id,
            account_id: world.account,
            total: placed.order.priced.total,
        };
        assert_eq!(world.shop.outbox.events(), vec![announced]);
    }

    #[tokio::test]
    async fn unknown_products_are_named_by_line_and_nothing_is_written() {
        let world = World::with(product(5));
        let ghost = ProductId::parse("no-such-coffee").unwrap();
        let outcome = world.place("k1", "h1", request(&ghost, 1)).await;
        assert!(matches!(outcome, CheckoutOutcome::UnknownProducts(lines) if lines == [0]));
        assert_eq!(world.shop.order_count(), 0);
        assert!(world.shop.outbox.events().is_empty());
    }

    #[tokio::test]
    async fn more_than_the_stock_is_refused_and_changes_nothing() {
        let kenya = product(1);
        let world = World::with(kenya.clone());
        let outcome = world.place("k1", "h1", request(&kenya.id, 2)).await;
        assert!(matches!(outcome, CheckoutOutcome::OutOfStock(short) if short == [kenya.id.clone()]));
        assert_eq!(world.shop.stock_of(&kenya.id), Some(1));
        assert_eq!(world.shop.order_count(), 0);
        assert!(world.shop.outbox.events().is_empty());
    }

    #[tokio::test]
    async fn a_retried_checkout_is_the_same_order_and_announces_it_once() {
        let kenya = product(5);
        let world = World::with(kenya.clone());
        let CheckoutOutcome::Placed(first) = world.place("k1", "h1", request(&kenya.id, 1)).await else { panic!() };
        let CheckoutOutcome::Placed(again) = world.place("k1", "h1", request(&kenya.id, 1)).await else { panic!() };
        assert_eq!(first.order.id, again.order.id);
        assert_eq!(world.shop.stock_of(&kenya.id), Some(4), "the stock is taken once");
        assert_eq!(world.shop.outbox.envelopes().len(), 1, "the retry found the order placed and kept no event");
        let reused = world.place("k1", "another-body", request(&kenya.id, 1)).await;
        assert!(matches!(reused, CheckoutOutcome::KeyReused));
    }

    #[tokio::test]
    async fn an_order_whose_event_cannot_be_kept_is_not_placed() {
        let kenya = product(5);
        let mut world = World::with(kenya.clone());
        world.shop.outbox = OutboxEvents::down();
        let refused = world.check_out("k1", "h1", request(&kenya.id, 1)).await.unwrap_err();
        assert_eq!(refused.status, 503);
        assert_eq!(world.shop.order_count(), 0);
        assert_eq!(world.shop.stock_of(&kenya.id), Some(5), "no stock is taken");
        world.shop.outbox.down = false;
        assert!(world.check_out("k1", "h1", request(&kenya.id, 1)).await.is_ok(), "the key was released for the retry");
    }

    #[tokio::test]
    async fn p14_p15_a_checkout_records_its_address_and_answers_the_order_with_its_recipient() {
        let kenya = product(5);
        let world = World::with(kenya.clone());
        let placed = world.check_out("k1", "h1", request(&kenya.id, 1)).await.unwrap();
        assert_eq!(placed.recipient.map(|r| r.postal_code), Some(PostalCode::parse("1968913456").unwrap()));
        let records = world.ips.records();
        assert_eq!(records.len(), 1);
        assert_eq!((records[0].0, records[0].1, records[0].2), (world.account, RecordedRequest::Checkout, IP));
    }

    #[tokio::test]
    async fn p14_an_order_stands_when_its_address_cannot_be_recorded() {
        let kenya = product(5);
        let world = World { ips: RecordedIps::down(), ..World::with(kenya.clone()) };
        assert!(world.check_out("k1", "h1", request(&kenya.id, 1)).await.is_ok());
        assert_eq!(world.shop.order_count(), 1);
    }

    #[tokio::test]
    async fn one_order_per_key_and_another_body_under_it_is_refused() {
        let kenya = product(5);
        let world = World::with(kenya.clone());
        let first = world.check_out("k1", "h1", request(&kenya.id, 1)).await.unwrap();
        let replayed = world.check_out("k1", "h1", request(&kenya.id, 1)).await.unwrap();
        assert_eq!(first.order.id, replayed.order.id);
        assert_eq!(world.shop.order_count(), 1);
        let refused = world.check_out("k1", "h2", request(&kenya.id, 3)).await.unwrap_err();
        assert_eq!(refused.code, "idempotency-key-reused");
    }

    #[tokio::test]
    async fn a_refused_checkout_is_not_remembered_so_its_retry_can_succeed() {
        let kenya = product(1);
        let world = World::with(kenya.clone());
        let refused = world.check_out("k1", "h1", request(&kenya.id, 2)).await.unwrap_err();
        assert_eq!(refused.code, "out-of-stock");
        world.shop.restock(&kenya.id, 5);
        assert!(world.check_out("k1", "h1", request(&kenya.id, 2)).await.is_ok());
    }
}
