//! Official invoices end to end: one per order with gapless serials under concurrency and
//! redelivery, valid tax ids, reading by the owner only, VAT certificates for legal entities (P8).

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use mizan::invoicing::tax_id::TaxId;
use mizan_e2e::{Stack, checkout_body, natural_buyer};
use serde_json::{Value, json};

fn legal_buyer() -> Value {
    json!({ "type": "legal", "company_name": "شرکت قهوه‌پردازان پارس", "economic_code": "10380284790", "national_id": "10380284790", "postal_code": "1435734561" })
}

async fn counter(stack: &Stack) -> u64 {
    let item = stack
        .dynamodb()
        .get_item()
        .table_name(std::env::var("INVOICES_TABLE").expect("INVOICES_TABLE: run through infra/test"))
        .key("pk", AttributeValue::S("COUNTER#invoice".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item;
    item.map(|item| item["value"].as_n().unwrap().parse().unwrap()).unwrap_or(0)
}

async fn all_serials(stack: &Stack) -> Vec<u64> {
    let table = std::env::var("INVOICES_TABLE").unwrap();
    let mut serials = Vec::new();
    let mut start = None;
    loop {
        let page = stack
            .dynamodb()
            .scan()
            .table_name(&table)
            .consistent_read(true)
            .filter_expression("begins_with(pk, :invoice)")
            .expression_attribute_values(":invoice", AttributeValue::S("INVOICE#".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        serials.extend(page.items().iter().map(|item| item["serial"].as_n().unwrap().parse::<u64>().unwrap()));
        start = page.last_evaluated_key;
        if start.is_none() {
            return serials;
        }
    }
}

/// Every serial ever handed out has exactly one invoice: no gap, no duplicate. Read around the
/// scan, so that invoices issued meanwhile by other tests cannot fool it.
async fn assert_serials_gapless(stack: &Stack) {
    let before = counter(stack).await;
    let serials = all_serials(stack).await;
    let after = counter(stack).await;
    let unique: HashSet<u64> = serials.iter().copied().collect();
    assert_eq!(unique.len(), serials.len(), "no serial is used twice");
    assert!(serials.iter().all(|s| (1..=after).contains(s)), "no serial beyond the counter");
    assert!((1..=before).all(|s| unique.contains(&s)), "no gap below {before}");
}

/// The payment's event as the relay delivers it (again): its id and time are a redelivery's own.
fn order_paid_event(order_id: &str, account_id: &str) -> Value {
    let message = json!({
        "event_id": uuid::Uuid::new_v4(), "occurred_at": "2026-11-25T09:00:00Z", "type": "OrderPaid",
        "order_id": order_id, "account_id": account_id, "payment_id": uuid::Uuid::new_v4(),
        "amount": 3_575_000, "paid_at": "2026-11-25T09:00:00Z", "ref_id": "201"
    });
    mizan_e2e::sns_event(&message)
}

#[tokio::test]
async fn p8_fifty_concurrent_orders_get_fifty_invoices_with_gapless_serials_even_when_redelivered() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let product = stack.add_product(3_250_000, 100).await;
    let body = checkout_body(product.as_str(), 1, natural_buyer());
    let keys: Vec<String> = (0..50).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let placed = join_all(keys.iter().map(|key| stack.post_as("/checkout", &bearer, Some(key), &body))).await;
    let orders: Vec<String> = placed
        .iter()
        .map(|answer| {
            assert_eq!(answer.status, 201, "{}", answer.body);
            answer.body["order_id"].as_str().unwrap().to_owned()
        })
        .collect();
    join_all(orders.iter().map(|id| stack.pay(&bearer, id))).await;

    let invoices = join_all(orders.iter().map(|id| stack.await_invoice(&bearer, id))).await;
    let serials: HashSet<u64> = invoices.iter().map(|invoice| invoice.body["serial"].as_u64().unwrap()).collect();
    assert_eq!(serials.len(), 50, "fifty invoices, fifty distinct serials");
    let memory_id = std::env::var("TAX_MEMORY_ID").unwrap();
    for invoice in &invoices {
        assert_eq!(invoice.status, 200, "{}", invoice.body);
        let tax_id = TaxId::parse(invoice.body["tax_id"].as_str().unwrap()).expect("a valid tax id and check digit");
        assert!(tax_id.as_str().starts_with(&memory_id));
        assert_eq!(invoice.body["invoice_type"], 1);
        assert_eq!(invoice.body["totals"]["total"], 3_575_000);
        assert_eq!(invoice.body["total_in_words"], "سه میلیون و پانصد و هفتاد و پنج هزار ریال");
        assert_eq!(invoice.body["buyer"]["national_code"], "0076229645");
        assert_eq!(invoice.body["payment"]["method"], 5, "paid through the gateway");
        assert_eq!(invoice.body["payment"]["amount"], 3_575_000);
        assert!(invoice.body["payment"]["tracking_number"].is_string(), "{}", invoice.body);
        assert_eq!(invoice.body["issued_at"], invoice.body["payment"]["paid_at"], "issued when paid");
    }
    assert_serials_gapless(&stack).await;

    // Every OrderPaid delivered again: no new invoice, no serial consumed.
    let events: Vec<Value> = orders.iter().map(|id| order_paid_event(id, &account)).collect();
    let redelivered = join_all(events.iter().map(|event| stack.invoke("invoice", event))).await;
    assert!(redelivered.iter().all(|answer| answer.status == 200), "redeliveries are accepted");
    let again = join_all(orders.iter().map(|id| stack.await_invoice(&bearer, id))).await;
    let serials_again: HashSet<u64> = again.iter().map(|invoice| invoice.body["serial"].as_u64().unwrap()).collect();
    assert_eq!(serials_again, serials, "each order keeps its one invoice");
    assert_serials_gapless(&stack).await;
}

#[tokio::test]
async fn p8_only_the_owner_reads_an_invoice_and_only_a_legal_entity_gets_a_vat_certificate() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let (_, stranger) = stack.signed_in_customer().await;
    let product = stack.add_product(10_000_000, 10).await;

    let legal = stack.check_out(&bearer, &checkout_body(product.as_str(), 1, legal_buyer())).await;
    let legal_id = legal.body["order_id"].as_str().unwrap().to_owned();
    stack.pay(&bearer, &legal_id).await;
    let invoice = stack.await_invoice(&bearer, &legal_id).await;
    assert_eq!(invoice.status, 200, "{}", invoice.body);
    assert_eq!(invoice.body["buyer"]["postal_code"], "1435734561");
    assert_eq!(invoice.body["buyer"]["tob"], 2);
    assert_eq!(stack.get(&format!("/orders/{legal_id}/invoice"), Some(&stranger)).await.status, 404);
    assert_eq!(stack.get(&format!("/orders/{legal_id}/invoice"), None).await.status, 401);

    let first = stack.post_as(&format!("/orders/{legal_id}/vat-certificate"), &bearer, None, &json!({})).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["vat"], 1_000_000);
    assert_eq!(first.body["tax_id"], invoice.body["tax_id"]);
    let second = stack.post_as(&format!("/orders/{legal_id}/vat-certificate"), &bearer, None, &json!({})).await;
    assert_eq!(second.body, first.body, "issued once; repeated calls return the same");
    let page = stack.post_for_page_as(&format!("/orders/{legal_id}/vat-certificate"), &bearer).await;
    let content_type = page.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!((page.status, content_type.starts_with("text/html")), (200, true), "{content_type}");
    let html = page.body.as_str().expect("a page");
    assert!(html.contains("گواهی مالیات بر ارزش افزوده") && html.contains("۱٬۰۰۰٬۰۰۰"), "{html}");
    assert!(html.contains(first.body["tax_id"].as_str().unwrap()), "the certificate issued before: {html}");
    assert_eq!(
        stack.post_as(&format!("/orders/{legal_id}/vat-certificate"), &stranger, None, &json!({})).await.status,
        404
    );

    let natural = stack.check_out(&bearer, &checkout_body(product.as_str(), 1, natural_buyer())).await;
    let natural_id = natural.body["order_id"].as_str().unwrap().to_owned();
    stack.pay(&bearer, &natural_id).await;
    stack.await_invoice(&bearer, &natural_id).await;
    let refused = stack.post_as(&format!("/orders/{natural_id}/vat-certificate"), &bearer, None, &json!({})).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (409, Some("not-a-legal-entity")));
}
