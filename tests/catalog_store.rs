//! The products table against DynamoDB Local: the seeded catalog, batch reads, the item layout,
//! and the stock condition that keeps an order from taking more than there is.
//!
//! Run with `infra/test -p mizan-e2e --test catalog_store`. Each test writes products with ids of
//! its own, so the tests can run in parallel with each other and with the checkout tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use mizan::kernel::ids::ProductId;
use mizan::kernel::money::Rial;
use mizan::ordering::catalog::{GoodsId, Product, ProductKind, UnitCode, VatClass};
use mizan::ordering::ports::Catalog;
use mizan_aws::dynamodb::products::{ProductsTable, product_item};

const SEED: &str = include_str!("../infra/seed/products.json");

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need the local stack's DynamoDB; run them with `infra/test -p mizan-e2e --test catalog_store`")
    })
}

struct Store {
    client: Client,
    table: String,
    products: ProductsTable,
}

async fn store() -> Store {
    let table = env("PRODUCTS_TABLE");
    // Without it the SDK would go to real AWS with whatever credentials it finds.
    env("AWS_ENDPOINT_URL_DYNAMODB");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&aws);
    Store { products: ProductsTable::new(client.clone(), &table), client, table }
}

fn seed() -> Vec<Product> {
    serde_json::from_str(SEED).expect("infra/seed/products.json holds Products")
}

fn unique_id(label: &str) -> ProductId {
    ProductId::parse(&format!("test-{label}-{}", uuid::Uuid::new_v4().simple())).expect("a valid product id")
}

fn test_product(label: &str, stock: u32, weight_grams: Option<u32>) -> Product {
    Product {
        id: unique_id(label),
        name_fa: "قهوهٔ آزمایشی\u{200C}ای برای انبار".to_owned(),
        kind: if weight_grams.is_some() { ProductKind::Beans } else { ProductKind::Equipment },
        weight_grams,
        unit_code: if weight_grams.is_some() { UnitCode::PACKAGE } else { UnitCode::PIECE },
        price: Rial::new(14_250_000),
        vat_class: VatClass::Standard,
        goods_id: GoodsId::parse("0000000000017").expect("13 digits"),
        stock,
    }
}

impl Store {
    async fn put(&self, product: &Product) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(product_item(product)))
            .send()
            .await
            .expect("the product is written");
    }

    async fn stock_of(&self, id: &ProductId) -> Option<u32> {
        let found = self.products.get_many(std::slice::from_ref(id)).await.expect("get_many answers");
        found.first().map(|product| product.stock)
    }

    /// Runs the reservation alone in a transaction, as checkout runs it beside the order's Put.
    async fn reserve(&self, id: &ProductId, quantity: u32) -> Result<(), Vec<(Option<String>, Option<String>)>> {
        let update = self.products.reserve_stock(id, quantity).expect("the update builds");
        let answer = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(error) => {
                let TransactWriteItemsError::TransactionCanceledException(cancelled) = error.into_service_error()
                else {
                    panic!("a refused reservation cancels the transaction");
                };
                // (reason code, stock as it was) for each item of the transaction.
                Err(cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| {
                        let stock =
                            reason.item().and_then(|item| item.get("stock")).and_then(|v| v.as_n().ok()).cloned();
                        (reason.code().map(str::to_owned), stock)
                    })
                    .collect())
            }
        }
    }
}

#[tokio::test]
async fn the_seeded_catalog_reads_back_as_its_twelve_products() {
    let store = store().await;
    let listed = store.products.list().await.expect("the catalog is listed");
    let seed = seed();
    assert_eq!(seed.len(), 12);
    for expected in &seed {
        let found = listed
            .iter()
            .find(|product| product.id == expected.id)
            .unwrap_or_else(|| panic!("{} is in the table", expected.id));
        // Other tests may have reserved some of the stock meanwhile; nothing ever adds to it.
        assert!(found.stock <= expected.stock, "{}", expected.id);
        assert_eq!(&Product { stock: expected.stock, ..found.clone() }, expected);
    }
}

#[tokio::test]
async fn get_many_returns_what_was_asked_once_each_in_order() {
    let store = store().await;
    let seed = seed();
    let missing = unique_id("missing");
    let asked = [seed[5].id.clone(), missing, seed[0].id.clone(), seed[5].id.clone(), seed[11].id.clone()];
    let found = store.products.get_many(&asked).await.expect("get_many answers");
    let ids: Vec<_> = found.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [seed[5].id.as_str(), seed[0].id.as_str(), seed[11].id.as_str()]);
    assert_eq!(found[0].name_fa, seed[5].name_fa);
    assert!(store.products.get_many(&[]).await.expect("an empty request answers").is_empty());
}

#[tokio::test]
async fn get_many_reads_more_than_one_batch() {
    let store = store().await;
    // BatchGetItem takes at most 100 keys a request.
    let products: Vec<_> = (0..130).map(|i| test_product(&format!("batch{i}"), i, Some(250))).collect();
    for product in &products {
        store.put(product).await;
    }
    let ids: Vec<_> = products.iter().map(|p| p.id.clone()).rev().collect();
    let found = store.products.get_many(&ids).await.expect("get_many answers");
    assert_eq!(found.len(), 130);
    assert!(found.iter().map(|p| &p.id).eq(ids.iter()), "in the order asked");
    assert!(found.iter().all(|p| products.contains(p)));
}

#[tokio::test]
async fn a_product_written_with_product_item_round_trips() {
    let store = store().await;
    for product in [test_product("beans", 40, Some(500)), test_product("grinder", 0, None)] {
        store.put(&product).await;
        let found = store.products.get_many(std::slice::from_ref(&product.id)).await.expect("get_many answers");
        assert_eq!(found, std::slice::from_ref(&product));
        let listed = store.products.list().await.expect("the catalog is listed");
        assert_eq!(listed.iter().filter(|p| p.id == product.id).collect::<Vec<_>>(), [&product]);
    }
}

#[tokio::test]
async fn the_stored_item_has_one_attribute_per_field() {
    let store = store().await;
    let product = test_product("layout", 7, None);
    store.put(&product).await;
    let raw = store
        .client
        .get_item()
        .table_name(&store.table)
        .key("pk", AttributeValue::S(format!("PRODUCT#{}", product.id)))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item answers");
    let item = raw.item().expect("the item is there");
    let mut names: Vec<_> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    // No weight_grams: absent, not NULL, for a product without one.
    assert_eq!(names, ["goods_id", "kind", "name_fa", "pk", "price", "stock", "unit_code", "vat_class"]);
    assert_eq!(item.get("price"), Some(&AttributeValue::N("14250000".to_owned())));
    assert_eq!(item.get("kind"), Some(&AttributeValue::S("equipment".to_owned())));
}

#[tokio::test]
async fn reserve_stock_never_takes_more_than_there_is() {
    let store = store().await;
    let product = test_product("reserve", 3, Some(250));
    store.put(&product).await;

    let refused = store.reserve(&product.id, 4).await.expect_err("4 of 3 is refused");
    assert_eq!(refused, [(Some("ConditionalCheckFailed".to_owned()), None)]);
    assert_eq!(store.stock_of(&product.id).await, Some(3), "a refused reservation changes nothing");

    store.reserve(&product.id, 2).await.expect("2 of 3 is taken");
    assert_eq!(store.stock_of(&product.id).await, Some(1));
    assert!(store.reserve(&product.id, 2).await.is_err(), "2 of 1 is refused");
    store.reserve(&product.id, 1).await.expect("the last one is taken");
    assert_eq!(store.stock_of(&product.id).await, Some(0));
    assert!(store.reserve(&product.id, 1).await.is_err(), "nothing is left");
    assert_eq!(store.stock_of(&product.id).await, Some(0));
}

#[tokio::test]
async fn reserving_a_product_that_does_not_exist_fails_and_creates_nothing() {
    let store = store().await;
    let ghost = unique_id("ghost");
    let refused = store.reserve(&ghost, 1).await.expect_err("no stock to take");
    assert_eq!(refused.first().and_then(|(code, _)| code.as_deref()), Some("ConditionalCheckFailed"));
    assert_eq!(store.stock_of(&ghost).await, None);
}

#[tokio::test]
async fn concurrent_reservations_sell_exactly_the_stock() {
    let store = std::sync::Arc::new(store().await);
    let product = test_product("race", 5, Some(250));
    store.put(&product).await;
    let attempts: Vec<_> = (0..12)
        .map(|_| {
            let (store, id) = (store.clone(), product.id.clone());
            tokio::spawn(async move { store.reserve(&id, 1).await.is_ok() })
        })
        .collect();
    let mut taken = 0;
    for attempt in attempts {
        if attempt.await.expect("the task finishes") {
            taken += 1;
        }
    }
    // DynamoDB may cancel a transaction for a conflicting one as well as for the condition,
    // so fewer than five may succeed, but never more, and stock + taken always equals 5.
    let left = store.stock_of(&product.id).await.expect("the product is there");
    assert!(taken <= 5);
    assert_eq!(left + taken, 5);
}
