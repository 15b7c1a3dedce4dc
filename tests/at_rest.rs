//! Protection at rest (P4): a raw scan of every table of the template, with the SDK and
//! bypassing the functions, shows no national code, economic code or national id in clear —
//! while their owner still sees them where the API showed them before (the invoice). Orders are
//! found by a buyer's code through its keyed hash, and a sealed code moved to another item does
//! not open.

use mizan::invoicing::ports::PlacedOrders;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use mizan::kernel::ids::OrderId;
use mizan::ordering::identity::{LegalId, NationalCode};
use mizan_e2e::{Stack, checkout_body};
use serde_json::{Value, json};

/// A valid national code nobody else in the test run uses (one random body in ten has a valid
/// check digit).
fn fresh_national_code() -> NationalCode {
    loop {
        if let Ok(code) = NationalCode::parse(&random_digits(10)) {
            return code;
        }
    }
}

/// A valid 11-digit national id of a company, likewise unique to this run.
fn fresh_national_id() -> LegalId {
    loop {
        if let Ok(id) = LegalId::parse(&format!("1{}", random_digits(10))) {
            return id;
        }
    }
}

fn random_digits(count: usize) -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes.iter().map(|b| char::from(b'0' + b % 10)).cycle().take(count).collect()
}

/// The same digits as the storefront may show them: Persian.
fn persian(digits: &str) -> String {
    digits.chars().map(|c| c.to_digit(10).and_then(|d| char::from_u32(0x06F0 + d)).unwrap_or(c)).collect()
}

fn natural(code: &NationalCode) -> Value {
    json!({ "type": "natural", "full_name": "مریم کاظمی", "national_code": code.as_str() })
}

fn legal(id: &LegalId) -> Value {
    json!({ "type": "legal", "company_name": "شرکت قهوه‌پردازان پارس", "economic_code": id.as_str(), "national_id": id.as_str(), "postal_code": "1435734561" })
}

async fn place(stack: &Stack, bearer: &str, body: &Value) -> String {
    let placed = stack.check_out(bearer, body).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    placed.body["order_id"].as_str().expect("an order id").to_owned()
}

/// Every DynamoDB table of the template; locally each is named by its logical id.
fn template_tables() -> Vec<String> {
    let tables: Vec<String> = mizan_e2e::template::tables().into_iter().map(|table| table.name).collect();
    assert!(tables.len() >= 7, "the template's tables: {tables:?}");
    tables
}

/// P4: every table is encrypted with the store's own key, and recoverable to any point in time.
#[test]
fn p4_every_table_is_encrypted_with_the_customer_managed_key_and_has_pitr() {
    for table in mizan_e2e::template::tables() {
        assert_eq!(table.kms_key.as_deref(), Some("CustomerDataKey"), "{}: SSE with CustomerDataKey", table.name);
        assert!(table.point_in_time_recovery, "{}: point-in-time recovery", table.name);
    }
}

type Item = HashMap<String, AttributeValue>;

async fn scan_all(stack: &Stack, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = stack
            .dynamodb()
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|error| panic!("scanning {table}: {error:?}"));
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// Every text a value holds, at any depth: strings, numbers, sets, lists, maps, and binary
/// read as text.
fn texts(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => out.push(text.clone()),
        AttributeValue::Ss(set) | AttributeValue::Ns(set) => out.extend(set.iter().cloned()),
        AttributeValue::B(blob) => out.push(String::from_utf8_lossy(blob.as_ref()).into_owned()),
        AttributeValue::Bs(blobs) => out.extend(blobs.iter().map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())),
        AttributeValue::L(list) => list.iter().for_each(|v| texts(v, out)),
        AttributeValue::M(map) => map.iter().for_each(|(key, v)| {
            out.push(key.clone());
            texts(v, out);
        }),
        _ => {}
    }
}

/// Scans every table of the template and fails on any attribute (or attribute name) that holds
/// one of `codes`, as ASCII or Persian digits.
async fn assert_nowhere_in_clear(stack: &Stack, codes: &[&str]) {
    let needles: Vec<String> = codes.iter().flat_map(|code| [code.to_string(), persian(code)]).collect();
    for table in template_tables() {
        for item in scan_all(stack, &table).await {
            let mut found = Vec::new();
            for (name, value) in &item {
                found.push(name.clone());
                texts(value, &mut found);
            }
            for needle in &needles {
                let key = item.get("pk").or_else(|| item.get("id"));
                assert!(
                    !found.iter().any(|text| text.contains(needle.as_str())),
                    "P4: an identity code is in clear in {table}, item {key:?}"
                );
            }
        }
    }
}

async fn raw_item(stack: &Stack, table: &str, key: &str) -> Item {
    stack
        .dynamodb()
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("DynamoDB Local answers")
        .item
        .unwrap_or_else(|| panic!("{key} is stored"))
}

fn sealed(item: &Item, attribute: &str) -> String {
    let value = item.get(attribute).and_then(|v| v.as_s().ok()).unwrap_or_else(|| panic!("{attribute} is stored"));
    assert!(value.starts_with("f1.") && value.split('.').count() == 4, "{attribute} is sealed: {value}");
    value.clone()
}

#[tokio::test]
async fn p4_a_raw_scan_of_every_table_shows_no_national_code_economic_code_or_national_id_in_clear() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(4_000_000, 10).await;
    let national_code = fresh_national_code();
    let national_id = fresh_national_id();

    let natural_order = place(&stack, &bearer, &checkout_body(product.as_str(), 1, natural(&national_code))).await;
    let legal_order = place(&stack, &bearer, &checkout_body(product.as_str(), 1, legal(&national_id))).await;

    // The owner still sees the codes where the API showed them: on the official invoice.
    stack.pay(&bearer, &natural_order).await;
    stack.pay(&bearer, &legal_order).await;
    let invoice = stack.await_invoice(&bearer, &natural_order).await;
    assert_eq!(invoice.status, 200, "{}", invoice.body);
    assert_eq!(invoice.body["buyer"]["national_code"], national_code.as_str());
    let invoice = stack.await_invoice(&bearer, &legal_order).await;
    assert_eq!(invoice.status, 200, "{}", invoice.body);
    assert_eq!(invoice.body["buyer"]["economic_code"], national_id.as_str());
    assert_eq!(invoice.body["buyer"]["national_id"], national_id.as_str());
    let read = stack.get(&format!("/orders/{legal_order}"), Some(&bearer)).await;
    assert_eq!((read.status, &read.body["buyer"]["type"]), (200, &json!("legal")), "{}", read.body);

    // Stored sealed, in orders and in invoices alike...
    let orders = std::env::var("ORDERS_TABLE").expect("ORDERS_TABLE: run through infra/test");
    let invoices = std::env::var("INVOICES_TABLE").expect("INVOICES_TABLE: run through infra/test");
    sealed(&raw_item(&stack, &orders, &format!("ORDER#{natural_order}")).await, "buyer_national_code");
    sealed(&raw_item(&stack, &invoices, &format!("INVOICE#{natural_order}")).await, "buyer_national_code");
    for (table, key) in [(&orders, format!("ORDER#{legal_order}")), (&invoices, format!("INVOICE#{legal_order}"))] {
        let item = raw_item(&stack, table, &key).await;
        assert_ne!(sealed(&item, "buyer_economic_code"), sealed(&item, "buyer_national_id"), "sealed apart");
    }
    // ...and nowhere in clear: not these codes, nor those every other test uses.
    assert_nowhere_in_clear(&stack, &[national_code.as_str(), national_id.as_str(), "0076229645", "10380284790"]).await;
}

#[tokio::test]
async fn p4_orders_are_found_by_the_keyed_hash_of_a_buyer_code_and_a_moved_sealed_code_does_not_open() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(2_000_000, 10).await;
    let national_code = fresh_national_code();
    let national_id = fresh_national_id();
    let first = place(&stack, &bearer, &checkout_body(product.as_str(), 1, natural(&national_code))).await;
    let second = place(&stack, &bearer, &checkout_body(product.as_str(), 1, natural(&national_code))).await;
    let company = place(&stack, &bearer, &checkout_body(product.as_str(), 1, legal(&national_id))).await;

    let store = stack.orders_store().await;
    let lookup = stack.buyer_lookup_key();
    let mut by_code: Vec<String> = store
        .order_ids_of_buyer_code(&lookup.national_code(&national_code))
        .await
        .expect("the ByBuyerCode index answers")
        .iter()
        .map(ToString::to_string)
        .collect();
    by_code.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(by_code, expected, "both orders of the national code, and only those");
    let by_id = store.order_ids_of_buyer_code(&lookup.national_id(&national_id)).await.expect("the index answers");
    assert_eq!(by_id.iter().map(ToString::to_string).collect::<Vec<_>>(), vec![company]);

    // The stored hash is keyed: not the code, and not what another key makes of it.
    let orders = std::env::var("ORDERS_TABLE").expect("ORDERS_TABLE: run through infra/test");
    let item = raw_item(&stack, &orders, &format!("ORDER#{first}")).await;
    let hash = item["buyer_code_hash"].as_s().expect("a hash");
    assert_eq!(hash, lookup.national_code(&national_code).as_str());
    assert!(!hash.contains(national_code.as_str()));

    // The whole item copied under another order's key: its sealed code is bound to the first
    // key (AAD), so the store refuses it instead of handing a code to the wrong order.
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().map(str::to_owned).unwrap();
    let account = mizan::kernel::ids::AccountId::parse(&account).expect("an account id");
    let elsewhere = OrderId::for_checkout(account, &uuid::Uuid::new_v4().to_string());
    let mut copy = item.clone();
    copy.insert("pk".to_owned(), AttributeValue::S(format!("ORDER#{elsewhere}")));
    copy.insert("order_id".to_owned(), AttributeValue::S(elsewhere.to_string()));
    stack.dynamodb().put_item().table_name(&orders).set_item(Some(copy)).send().await.expect("DynamoDB Local answers");
    let moved = store.order(elsewhere).await;
    assert!(
        matches!(moved, Err(mizan::kernel::failures::StoreError::Corrupt("buyer_national_code"))),
        "a sealed code does not open in another item: {moved:?}"
    );
    stack
        .dynamodb()
        .delete_item()
        .table_name(&orders)
        .key("pk", AttributeValue::S(format!("ORDER#{elsewhere}")))
        .send()
        .await
        .expect("DynamoDB Local answers");
    let original = OrderId::parse(&first).expect("an order id");
    assert!(store.order(original).await.expect("the original reads").is_some());
}

#[tokio::test]
async fn p4_p13_a_strangers_read_opens_no_order_or_invoice_of_someone_else() {
    let stack = Stack::connect().await;
    let (_, owner) = stack.signed_in_customer().await;
    let (_, stranger) = stack.signed_in_customer().await;
    let product = stack.add_product(2_000_000, 10).await;
    let order = place(&stack, &owner, &checkout_body(product.as_str(), 1, natural(&fresh_national_code()))).await;
    stack.pay(&owner, &order).await;
    assert_eq!(stack.await_invoice(&owner, &order).await.status, 200);

    // The order and its invoice copied under another order id of the owner's: their sealed codes
    // are bound to the first key and open nowhere else, so any attempt to open them fails.
    let owner_id = stack.get("/me", Some(&owner)).await.body["account_id"].as_str().map(str::to_owned).unwrap();
    let owner_id = mizan::kernel::ids::AccountId::parse(&owner_id).expect("an account id");
    let elsewhere = OrderId::for_checkout(owner_id, &uuid::Uuid::new_v4().to_string());
    let orders = std::env::var("ORDERS_TABLE").expect("ORDERS_TABLE: run through infra/test");
    let invoices = std::env::var("INVOICES_TABLE").expect("INVOICES_TABLE: run through infra/test");
    let planted = [
        (&orders, format!("ORDER#{order}"), format!("ORDER#{elsewhere}")),
        (&invoices, format!("INVOICE#{order}"), format!("INVOICE#{elsewhere}")),
    ];
    for (table, from, to) in &planted {
        let mut copy = raw_item(&stack, table, from).await;
        copy.insert("pk".to_owned(), AttributeValue::S(to.clone()));
        copy.insert("order_id".to_owned(), AttributeValue::S(elsewhere.to_string()));
        // Out of the tax system's queue: only this test reads the copy.
        copy.remove("tax_queue");
        copy.remove("tax_due_at");
        stack
            .dynamodb()
            .put_item()
            .table_name(*table)
            .set_item(Some(copy))
            .send()
            .await
            .expect("DynamoDB Local answers");
    }

    for path in [format!("/orders/{elsewhere}"), format!("/orders/{elsewhere}/invoice")] {
        let answer = stack.get(&path, Some(&stranger)).await;
        assert_eq!(answer.status, 404, "{path}: whose it is is read before anything is opened: {}", answer.body);
    }
    let opened_for_the_owner = PlacedOrders::owned(&stack.orders_store().await, elsewhere, owner_id).await;
    assert!(
        opened_for_the_owner.is_err(),
        "the owner's read does open it, and the copy does not open: {opened_for_the_owner:?}"
    );

    for (table, _, key) in &planted {
        let deleted =
            stack.dynamodb().delete_item().table_name(*table).key("pk", AttributeValue::S(key.clone())).send();
        deleted.await.expect("DynamoDB Local answers");
    }
}
