//! Checkout end to end: the catalog, orders for natural and legal buyers, shipping to another
//! person, stock under concurrency, idempotency, and bad input that changes nothing.

use std::collections::HashSet;

use futures::future::join_all;
use mizan_e2e::{Stack, checkout_body};
use serde_json::{Value, json};

fn natural_buyer() -> Value {
    // Persian digits are accepted everywhere.
    json!({ "type": "natural", "full_name": "مریم کاظمی", "national_code": "۰۰۷۶۲۲۹۶۴۵" })
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn the_catalog_is_public_and_shows_availability_not_stock() {
    let stack = Stack::connect().await;
    let answer = stack.get("/products", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let products = answer.body["products"].as_array().expect("a product list");
    let seeded: Vec<&Value> =
        products.iter().filter(|p| !p["product_id"].as_str().unwrap_or("").starts_with("test-")).collect();
    assert_eq!(seeded.len(), 12, "the seeded catalog");
    for product in seeded {
        assert!(product["name_fa"].as_str().is_some_and(|n| n.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))));
        assert!(product["price"].as_u64().is_some_and(|p| p > 0));
        assert!(product["available"].is_boolean());
        assert!(product.get("stock").is_none(), "exact stock is not published");
    }
}

#[tokio::test]
async fn p2_p4_p8_a_natural_person_checks_out_reads_the_order_and_gets_confirmations() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(12_345_675, 10).await;

    let placed =
        stack.post_as("/checkout", &bearer, Some(&key()), &checkout_body(product.as_str(), 2, natural_buyer())).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    // Server-side prices: 2 × 12,345,675 = 24,691,350; VAT 10% = 2,469,135 (rounded half up per line).
    assert_eq!(placed.body["subtotal"], 24_691_350);
    assert_eq!(placed.body["vat"], 2_469_135);
    assert_eq!(placed.body["total"], 27_160_485);
    assert_eq!(placed.body["lines"][0]["vat_basis_points"], 1000, "the rate applied is stored on the line");
    assert_eq!(placed.body["status"], "awaiting_payment", "a sale once paid, not before");
    assert!(placed.body["payment_due"].as_str().is_some_and(|due| due > placed.body["placed_at"].as_str().unwrap()));
    assert_eq!(placed.body["buyer"], json!({ "type": "natural", "full_name": "مریم کاظمی" }));
    assert!(!placed.body.to_string().contains("0076229645"), "identity codes are not echoed");
    assert_eq!(stack.stock_of(&product).await, 8);

    let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();
    let read = stack.get(&format!("/orders/{order_id}"), Some(&bearer)).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body, placed.body);

    let emails = stack.await_emails(&customer.email, 2).await;
    let confirmation = emails.iter().find(|(subject, _)| subject.ends_with("ثبت شد")).expect("a confirmation");
    assert!(confirmation.1.contains("27,160,485"), "the confirmation states the total");
    let sms = stack.await_sms(&customer.phone_e164, 2).await;
    assert!(sms[1].contains("27,160,485"));
    stack.assert_not_logged(&[&customer.email, &customer.phone_e164, "0076229645", "ولیعصر", "1968913456", &bearer]);
}

#[tokio::test]
async fn p8_a_legal_entity_checks_out_with_matching_codes_only() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(5_000_000, 10).await;
    let company = |economic_code: &str| json!({ "type": "legal", "company_name": "شرکت قهوه‌پردازان پارس", "economic_code": economic_code, "national_id": "10380284790", "postal_code": "1435734561" });
    let placed = stack
        .post_as("/checkout", &bearer, Some(&key()), &checkout_body(product.as_str(), 1, company("10380284790")))
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(placed.body["buyer"]["type"], "legal");

    let mismatch = stack
        .post_as("/checkout", &bearer, Some(&key()), &checkout_body(product.as_str(), 1, company("10840096498")))
        .await;
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.field_codes().contains(&("buyer.economic_code".into(), "economic-code-mismatch".into())));
    assert_eq!(stack.stock_of(&product).await, 9);
}

#[tokio::test]
async fn p15_shipping_to_another_person_stays_on_the_order_and_expires() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let before = stack.get("/me", Some(&bearer)).await.body;
    let product = stack.add_product(3_000_000, 5).await;
    let gift = json!({
        "items": [{ "product_id": product.as_str(), "quantity": 1 }],
        "buyer": natural_buyer(),
        "shipping": { "recipient_name": "رضا احمدی", "recipient_phone": "09359998877", "address": "شیراز، خیابان زند، پلاک ۷", "postal_code": "7134567890" }
    });
    let placed = stack.post_as("/checkout", &bearer, Some(&key()), &gift).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(placed.body["shipping"]["recipient_name"], "رضا احمدی");

    assert_eq!(stack.get("/me", Some(&bearer)).await.body, before, "the profile is unchanged");
    let order_id = placed.body["order_id"].as_str().unwrap();
    let recipient = stack
        .dynamodb()
        .get_item()
        .table_name(&stack.orders_table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORDER#{order_id}#RECIPIENT")))
        .send()
        .await
        .unwrap()
        .item
        .expect("the recipient is stored with the order");
    let expires_at: i64 = recipient["expires_at"].as_n().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(
        (now + 89 * 86_400..=now + 91 * 86_400).contains(&expires_at),
        "erased 90 days after the order at the latest"
    );
    let order = stack
        .dynamodb()
        .get_item()
        .table_name(&stack.orders_table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORDER#{order_id}")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!format!("{order:?}").contains("رضا"), "the recipient is kept apart from the order");
    // Confirmations go to the customer's own verified contacts, never to the recipient (P9, P15).
    stack.await_sms(&customer.phone_e164, 2).await;
    assert!(stack.sms_to("+989359998877").await.is_empty());
}

#[tokio::test]
async fn another_customer_cannot_see_my_order() {
    let stack = Stack::connect().await;
    let (_, mine) = stack.signed_in_customer().await;
    let (_, theirs) = stack.signed_in_customer().await;
    let product = stack.add_product(1_000_000, 5).await;
    let placed =
        stack.post_as("/checkout", &mine, Some(&key()), &checkout_body(product.as_str(), 1, natural_buyer())).await;
    let path = format!("/orders/{}", placed.body["order_id"].as_str().unwrap());
    assert_eq!(stack.get(&path, Some(&theirs)).await.status, 404);
    assert_eq!(stack.get(&path, None).await.status, 401);
    assert_eq!(stack.get("/orders/not-an-id", Some(&mine)).await.status, 404);
}

#[tokio::test]
async fn thirty_concurrent_checkouts_of_seven_in_stock_sell_exactly_seven() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(2_000_000, 7).await;
    let body = checkout_body(product.as_str(), 1, natural_buyer());
    let keys: Vec<String> = (0..30).map(|_| key()).collect();
    let answers = join_all(keys.iter().map(|key| stack.post_as("/checkout", &bearer, Some(key), &body))).await;
    let placed = answers.iter().filter(|a| a.status == 201).count();
    let refused = answers.iter().filter(|a| a.status == 409 && a.body["code"] == "out-of-stock").count();
    assert_eq!(
        (placed, refused),
        (7, 23),
        "{:?}",
        answers.iter().map(|a| (a.status, a.body["code"].clone())).collect::<Vec<_>>()
    );
    assert_eq!(stack.stock_of(&product).await, 0);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_make_one_order() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(4_000_000, 50).await;
    let body = checkout_body(product.as_str(), 1, natural_buyer());
    let key = key();
    let answers = join_all((0..20).map(|_| stack.post_as("/checkout", &bearer, Some(&key), &body))).await;
    let orders: HashSet<String> = answers
        .iter()
        .filter(|a| (200..300).contains(&a.status))
        .map(|a| a.body["order_id"].as_str().expect("an order id").to_owned())
        .collect();
    assert_eq!(orders.len(), 1, "every 2xx answer names the one order");
    for answer in answers.iter().filter(|a| !(200..300).contains(&a.status)) {
        assert_eq!((answer.status, answer.body["code"].as_str()), (409, Some("request-in-progress")));
        assert!(answer.headers.contains_key("retry-after"));
    }
    assert_eq!(stack.stock_of(&product).await, 49);

    let replay = stack.post_as("/checkout", &bearer, Some(&key), &body).await;
    assert_eq!(replay.body["order_id"].as_str(), orders.iter().next().map(String::as_str));
    let other =
        stack.post_as("/checkout", &bearer, Some(&key), &checkout_body(product.as_str(), 2, natural_buyer())).await;
    assert_eq!((other.status, other.body["code"].as_str()), (422, Some("idempotency-key-reused")));

    // One confirmation (its subject says the order was placed), and no more after a pause.
    let confirmations =
        |emails: Vec<(String, String)>| emails.iter().filter(|(subject, _)| subject.ends_with("ثبت شد")).count();
    stack.await_emails(&customer.email, 2).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(confirmations(stack.emails_to(&customer.email).await), 1);
}

#[tokio::test]
async fn bad_checkouts_are_refused_and_change_nothing() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(1_500_000, 5).await;
    let id = product.as_str();
    let with_buyer = |buyer: Value| checkout_body(id, 1, buyer);
    let with_items = |items: Value| {
        let mut body = checkout_body(id, 1, natural_buyer());
        body["items"] = items;
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (checkout_body("no-such-coffee", 1, natural_buyer()), "items[0].product_id"),
        (checkout_body(id, 0, natural_buyer()), "items[0].quantity"),
        (checkout_body(id, -3, natural_buyer()), "items[0].quantity"),
        (checkout_body(id, 1_000_000, natural_buyer()), "items[0].quantity"),
        (
            with_buyer(json!({ "type": "natural", "full_name": "مریم کاظمی", "national_code": "0076229646" })),
            "buyer.national_code",
        ),
        (
            with_buyer(
                json!({ "type": "legal", "company_name": "شرکت", "economic_code": "10380284790", "national_id": "10380284792", "postal_code": "1435734561" }),
            ),
            "buyer.national_id",
        ),
        (with_buyer(json!({ "type": "alien" })), "buyer.type"),
        // Printed on the invoice: an isolate or an override would make it read as another name.
        (
            with_buyer(
                json!({ "type": "legal", "company_name": "شرکت \u{2067}پارس\u{2069}", "economic_code": "10380284790", "national_id": "10380284790", "postal_code": "1435734561" }),
            ),
            "buyer.company_name",
        ),
        (with_items(json!("many")), "items"),
        (with_items(json!([{ "product_id": id, "quantity": "2" }])), "items[0].quantity"),
        (json!({ "items": [{ "product_id": id, "quantity": 1 }], "buyer": natural_buyer() }), "shipping"),
        (
            with_items(json!([{ "product_id": id, "quantity": 1 }, { "product_id": id, "quantity": 1 }])),
            "items[1].product_id",
        ),
    ];
    let mut keys = Vec::new();
    for (body, field) in cases {
        let key = key();
        let answer = stack.post_as("/checkout", &bearer, Some(&key), &body).await;
        assert_eq!(answer.status, 400, "{field}: {}", answer.body);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        assert!(answer.field_codes().iter().any(|(f, _)| f == field), "{field} in {:?}", answer.field_codes());
        keys.push(key);
    }
    let missing_key = stack.post_as("/checkout", &bearer, None, &checkout_body(id, 1, natural_buyer())).await;
    assert_eq!(missing_key.status, 400);
    assert!(missing_key.field_codes().iter().any(|(f, c)| f == "Idempotency-Key" && c == "idempotency-key-missing"));
    let not_json = stack.post_text_as("/checkout", &bearer, &key(), "{oops").await;
    assert_eq!((not_json.status, not_json.body["code"].as_str()), (400, Some("malformed-body")));

    assert_eq!(stack.stock_of(&product).await, 5, "no stock moved");
    for key in keys {
        assert_eq!(stack.items_containing(&stack.idempotency_table, "id", &key).await, 0, "no idempotency record left");
    }
    assert_eq!(stack.items_containing(&stack.orders_table, "lines", id).await, 0, "no order written");
}

#[tokio::test]
async fn an_order_keeps_the_vat_it_was_priced_with_when_the_rate_table_changes() {
    use mizan::ordering::checkout::{Checkout, CheckoutOutcome, CheckoutRequest, place_order};
    use mizan::ordering::order::{Address, Buyer, CartLine, DEFAULT_PAYMENT_WINDOW, Recipient};
    use mizan::ordering::pricing::VatSchedule;
    use mizan_aws::dynamodb::outbox::OutboxTable;
    use mizan_aws::dynamodb::products::ProductsTable;
    use mizan_aws::dynamodb::shop::Shop;

    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().map(str::to_owned).unwrap();
    let product = stack.add_product(1_000_005, 3).await;

    // The order is placed under another configuration than the running function's (10%): a
    // table whose 12% starts before today, as a future budget law might.
    let old_config =
        VatSchedule::from_json(r#"[{"from":"2020-01-01T00:00:00+03:30","percent":12,"source":"آزمون"}]"#).unwrap();
    let shop = Shop {
        products: ProductsTable::new(stack.dynamodb().clone(), &stack.products_table),
        orders: stack.orders_store().await,
        outbox: OutboxTable::new(stack.dynamodb().clone(), std::env::var("OUTBOX_TABLE").unwrap()),
    };
    let store = Checkout { shop: &shop, vat: &old_config, payment_window: DEFAULT_PAYMENT_WINDOW };
    let request = CheckoutRequest {
        cart: vec![CartLine { product_id: product.clone(), quantity: 1 }],
        buyer: Buyer::Natural {
            full_name: mizan::accounts::person::FullName::parse(&customer.full_name).unwrap(),
            national_code: mizan::ordering::identity::NationalCode::parse("0076229645").unwrap(),
        },
        recipient: Recipient {
            name: mizan::accounts::person::FullName::parse("مریم کاظمی").unwrap(),
            phone: mizan::accounts::contact::IranMobile::parse("09121112233").unwrap(),
            address: Address::parse("تهران، خیابان ولیعصر، کوچه بهار، پلاک ۱۲").unwrap(),
            postal_code: mizan::accounts::contact::PostalCode::parse("1968913456").unwrap(),
        },
    };
    let account_id = mizan::kernel::ids::AccountId::parse(&account).unwrap();
    let outcome = place_order(&store, account_id, &key(), "a-request-hash", request, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let CheckoutOutcome::Placed(placed) = outcome else { panic!("the order is placed: {outcome:?}") };

    // Read back by the function, which prices new orders at 10%: the stored 12% stands.
    let read = stack.get(&format!("/orders/{}", placed.order.id), Some(&bearer)).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["lines"][0]["vat_basis_points"], 1200);
    assert_eq!(read.body["vat"], 120_001, "12% of 1,000,005 = 120,000.6, rounded half up");
    let fresh =
        stack.post_as("/checkout", &bearer, Some(&key()), &checkout_body(product.as_str(), 1, natural_buyer())).await;
    assert_eq!(
        (fresh.body["lines"][0]["vat_basis_points"].as_u64(), fresh.body["vat"].as_u64()),
        (Some(1000), Some(100_001))
    );
}

#[tokio::test]
async fn a_key_stays_bound_to_its_order_after_its_idempotency_record_is_gone() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(2_500_000, 10).await;
    let key = key();
    let body = checkout_body(product.as_str(), 1, natural_buyer());
    let first = stack.post_as("/checkout", &bearer, Some(&key), &body).await;
    assert_eq!(first.status, 201, "{}", first.body);

    // As after the record's 24 hours: DynamoDB's TTL removed it.
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().map(str::to_owned).unwrap();
    stack
        .dynamodb()
        .delete_item()
        .table_name(&stack.idempotency_table)
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S(format!("checkout#{account}#{key}")))
        .send()
        .await
        .unwrap();

    let other =
        stack.post_as("/checkout", &bearer, Some(&key), &checkout_body(product.as_str(), 3, natural_buyer())).await;
    assert_eq!((other.status, other.body["code"].as_str()), (422, Some("idempotency-key-reused")));
    let again = stack.post_as("/checkout", &bearer, Some(&key), &body).await;
    assert_eq!((again.status, &again.body["order_id"]), (201, &first.body["order_id"]));
    assert_eq!(stack.stock_of(&product).await, 9, "one order, whatever the retries");
}

/// P14: the address a login and an order came from is recorded, with its expiry (six months).
#[tokio::test]
async fn p14_logins_and_orders_record_where_they_came_from_for_a_limited_time() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().expect("an id").to_owned();
    let product = stack.add_product(500_000, 3).await;
    let placed =
        stack.post_as("/checkout", &bearer, Some(&key()), &checkout_body(product.as_str(), 1, natural_buyer())).await;
    assert_eq!(placed.status, 201, "{}", placed.body);

    let table = std::env::var("IP_RECORDS_TABLE").expect("run through infra/test");
    let records = stack
        .dynamodb()
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ACCOUNT#{account}")))
        .send()
        .await
        .expect("DynamoDB Local answers");
    let kinds: Vec<&str> =
        records.items().iter().filter_map(|item| item.get("request")?.as_s().ok()).map(String::as_str).collect();
    assert_eq!(kinds, ["login", "checkout"], "in time order");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for item in records.items() {
        assert!(item.get("ip").and_then(|ip| ip.as_s().ok()).is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()));
        let expires: i64 = item.get("expires_at").and_then(|e| e.as_n().ok()?.parse().ok()).expect("a TTL");
        let days = (expires - now) / 86_400;
        assert!((180..=184).contains(&days), "kept about six months, not {days} days");
    }
}
