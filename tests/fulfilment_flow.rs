//! The order's life after payment, end to end against the local stack: a fulfilment account
//! packs, ships and delivers; the customer follows each step and its history; twenty concurrent
//! shipments make one; customers cancel before shipping and get their stock and their money back
//! (reversed at the gateway within its window, refunded after it); roles keep to their duties;
//! the recipient goes after delivery (P15).

use futures::future::join_all;
use mizan_e2e::{Customer, Stack, checkout_body, natural_buyer};
use serde_json::{Value, json};

/// A paid order of a fresh product.
struct Sale {
    customer: Customer,
    /// The customer's.
    bearer: String,
    product: String,
    order_id: String,
    /// The gateway's handle of its payment.
    authority: String,
}

async fn paid_order(stack: &Stack, stock: u32) -> Sale {
    let (customer, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(2_500_000, stock).await.as_str().to_owned();
    let placed = stack.check_out(&bearer, &checkout_body(&product, 2, natural_buyer())).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();
    let authority = stack.pay(&bearer, &order_id).await.authority;
    Sale { customer, bearer, product, order_id, authority }
}

async fn step(stack: &Stack, bearer: &str, order_id: &str, action: &str, body: &Value) -> mizan_e2e::Answer {
    stack.post_as(&format!("/admin/orders/{order_id}/{action}"), bearer, None, body).await
}

/// `5450000` as the messages print it: `5,450,000`.
fn thousands(rials: u64) -> String {
    let digits = rials.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

fn statuses(order: &Value) -> Vec<&str> {
    order["history"].as_array().expect("a history").iter().filter_map(|step| step["status"].as_str()).collect()
}

#[tokio::test]
async fn p15_a_paid_order_is_packed_shipped_and_delivered_and_the_customer_follows_each_step() {
    let stack = Stack::connect().await;
    let Sale { customer, bearer, order_id, .. } = paid_order(&stack, 10).await;
    let (staff, _) = stack.staff_member("fulfilment").await;

    let queue = stack.get("/admin/orders?status=paid&limit=50", Some(&staff)).await;
    assert_eq!(queue.status, 200, "{}", queue.body);

    let packed = step(&stack, &staff, &order_id, "pack", &json!({})).await;
    assert_eq!((packed.status, packed.body["status"].as_str()), (200, Some("packed")), "{}", packed.body);
    assert!(packed.body["recipient"]["address"].is_string(), "staff sending the parcel see where it goes");
    let address = packed.body["recipient"]["address"].as_str().expect("an address").to_owned();
    let invoice = stack.await_invoice(&bearer, &order_id).await;
    assert!(!invoice.body.to_string().contains(&address), "P15: the invoice never holds the recipient");

    let ship = json!({ "carrier": "tipax", "tracking_code": "TPX-884211" });
    let shipped = step(&stack, &staff, &order_id, "ship", &ship).await;
    assert_eq!(shipped.status, 200, "{}", shipped.body);
    let mine = stack.get(&format!("/orders/{order_id}"), Some(&bearer)).await;
    assert_eq!(mine.body["status"], "shipped");
    assert_eq!(mine.body["shipment"]["tracking_code"], "TPX-884211");
    assert!(mine.body["payment"]["ref_id"].is_string(), "{}", mine.body);
    let shipped_mail = stack.await_email_about(&customer.email, "ارسال شد").await;
    assert!(shipped_mail[0].1.contains("TPX-884211") && shipped_mail[0].1.contains("tipaxco.com"), "{shipped_mail:?}");
    stack.await_sms_containing(&customer.phone_e164, "TPX-884211").await;

    let cancel = stack.post_as(&format!("/orders/{order_id}/cancel"), &bearer, None, &json!({})).await;
    assert_eq!((cancel.status, cancel.body["code"].as_str()), (409, Some("order-already-shipped")));

    let delivered = step(&stack, &staff, &order_id, "deliver", &json!({})).await;
    assert_eq!(delivered.status, 200, "{}", delivered.body);
    assert!(delivered.body.get("recipient").is_none(), "a delivered order's recipient is not shown to staff");
    let mine = stack.get(&format!("/orders/{order_id}"), Some(&bearer)).await;
    assert_eq!(statuses(&mine.body), ["awaiting_payment", "paid", "packed", "shipped", "delivered"]);
    assert!(mine.body["history"][3]["by"] == "staff");
    stack.await_email_about(&customer.email, "تحویل شد").await;

    // The test stack keeps a recipient three seconds after delivery (RecipientKeptAfterFulfilment).
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let later = stack.get(&format!("/orders/{order_id}"), Some(&bearer)).await;
    assert_eq!(later.body["shipping"], Value::Null, "P15: the recipient is gone after delivery");
    assert_eq!(later.body["status"], "delivered");
    // The document itself; its standing with the tax system moves on meanwhile.
    let document = |mut body: Value| {
        body.as_object_mut().map(|fields| fields.remove("tax_system"));
        body
    };
    let invoice_later = stack.await_invoice(&bearer, &order_id).await;
    assert_eq!(document(invoice_later.body), document(invoice.body.clone()), "the invoice is unchanged by the erasure");

    let no_return = stack.get(&format!("/orders/{order_id}/invoice?kind=return"), Some(&bearer)).await;
    assert_eq!(no_return.status, 404, "a sale that stands has no return invoice");
    let unknown = stack.get(&format!("/orders/{order_id}/invoice?kind=credit"), Some(&bearer)).await;
    assert_eq!((unknown.status, unknown.body["errors"][0]["code"].as_str()), (400, Some("invoice-kind-unknown")));
}

#[tokio::test]
async fn twenty_concurrent_shipments_of_one_order_make_one() {
    let stack = Stack::connect().await;
    let Sale { customer, order_id, .. } = paid_order(&stack, 10).await;
    let (staff, _) = stack.staff_member("fulfilment").await;
    assert_eq!(step(&stack, &staff, &order_id, "pack", &json!({})).await.status, 200);
    let ship = json!({ "carrier": "iran_post", "tracking_code": "123456789012345678901234" });
    let answers = join_all((0..20).map(|_| step(&stack, &staff, &order_id, "ship", &ship))).await;
    assert!(
        answers.iter().all(|answer| answer.status == 200),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let history = &answers[0].body;
    let shipped_steps = statuses(history).iter().filter(|status| **status == "shipped").count();
    assert_eq!(shipped_steps, 1, "{history}");
    let other = step(&stack, &staff, &order_id, "ship", &json!({ "carrier": "tipax", "tracking_code": "TPX-1" })).await;
    assert_eq!((other.status, other.body["code"].as_str()), (409, Some("order-transition-not-allowed")));
    stack.await_email_about(&customer.email, "ارسال شد").await;
    // Whatever was still on its way has arrived by now.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let shipped: Vec<_> =
        stack.emails_to(&customer.email).await.into_iter().filter(|(s, _)| s.contains("ارسال شد")).collect();
    assert_eq!(shipped.len(), 1, "one message for one shipment");
}

#[tokio::test]
async fn a_customer_cancels_a_paid_unshipped_order_its_stock_comes_back_and_the_payment_is_reversed() {
    let stack = Stack::connect().await;
    let Sale { customer, bearer, product, order_id, authority } = paid_order(&stack, 10).await;
    let product = mizan::kernel::ids::ProductId::parse(&product).expect("a product id");
    assert_eq!(stack.stock_of(&product).await, 8);
    let cancelled = stack.post_as(&format!("/orders/{order_id}/cancel"), &bearer, None, &json!({})).await;
    assert_eq!((cancelled.status, cancelled.body["status"].as_str()), (200, Some("cancelled")), "{}", cancelled.body);
    assert_eq!(stack.stock_of(&product).await, 10);
    let again = stack.post_as(&format!("/orders/{order_id}/cancel"), &bearer, None, &json!({})).await;
    assert_eq!(again.status, 200, "cancelling twice is harmless");
    assert_eq!(stack.stock_of(&product).await, 10, "and puts nothing back twice");
    // Minutes after the payment: the gateway still reverses it, the whole amount at once.
    let at_gateway = stack.await_gateway_payment(&authority, |p| p["status"] == "reversed", "reversal").await;
    assert_eq!(at_gateway["refunds"], json!([]), "a reversed payment is not refunded as well");

    // The books see the sale undone: a return invoice (ins 4) naming the sale's.
    let sale = stack.await_invoice(&bearer, &order_id).await;
    let returned = stack.await_return_invoice(&bearer, &order_id).await;
    assert_eq!(returned.status, 200, "{}", returned.body);
    assert_eq!((returned.body["invoice_subject"].as_u64(), sale.body["invoice_subject"].as_u64()), (Some(4), Some(1)));
    assert_eq!(returned.body["returns"], sale.body["tax_id"]);
    assert_ne!(returned.body["tax_id"], sale.body["tax_id"]);
    assert_eq!(returned.body["totals"], sale.body["totals"]);

    let cancelled = stack.await_email_about(&customer.email, "لغو شد").await;
    assert!(cancelled[0].1.contains("درخواست خودتان"), "{cancelled:?}");
    let refunded = stack.await_email_about(&customer.email, "بازپرداخت").await;
    let paid = at_gateway["amount"].as_u64().expect("the amount paid");
    assert!(refunded[0].1.contains(&thousands(paid)), "the whole amount paid: {refunded:?}");
    stack.await_sms_containing(&customer.phone_e164, "بازپرداخت").await;
}

#[tokio::test]
async fn staff_cancel_a_packed_order_after_the_reversal_window_and_the_payment_is_refunded_once() {
    let stack = Stack::connect().await;
    let Sale { customer, bearer, order_id, authority, .. } = paid_order(&stack, 10).await;
    let (staff, _) = stack.staff_member("fulfilment").await;
    assert_eq!(step(&stack, &staff, &order_id, "pack", &json!({})).await.status, 200);
    // An hour since the payment, as the gateway sees it: too late to reverse.
    stack.gateway_act(&authority, "age:3600").await;
    let no_reason = step(&stack, &staff, &order_id, "cancel", &json!({})).await;
    assert_eq!((no_reason.status, no_reason.body["code"].as_str()), (400, Some("validation-failed")));
    let reason = json!({ "reason": "قهوهٔ این سفارش در انبار آسیب دید" });
    let cancelled = step(&stack, &staff, &order_id, "cancel", &reason).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let cancel = stack.post_as(&format!("/orders/{order_id}/cancel"), &bearer, None, &json!({})).await;
    assert_eq!(cancel.status, 200, "the customer's cancellation of a cancelled order changes nothing");

    let refunded = stack
        .await_gateway_payment(&authority, |p| p["refunds"].as_array().is_some_and(|r| !r.is_empty()), "refund")
        .await;
    let refunds = refunded["refunds"].as_array().expect("refunds");
    assert_eq!(refunds.len(), 1, "{refunded}");
    assert_eq!(refunds[0]["amount"], refunded["amount"], "the whole amount");
    assert_eq!(refunded["status"], "verified", "not reversed");
    let mine = stack.get(&format!("/orders/{order_id}"), Some(&bearer)).await;
    assert_eq!(mine.body["history"][3]["reason"], reason["reason"], "{}", mine.body);
    let returned = stack.await_return_invoice(&bearer, &order_id).await;
    assert_eq!(returned.body["invoice_subject"], 4, "{}", returned.body);

    let reference = refunds[0]["id"].as_str().expect("the gateway's refund id");
    let refunded = stack.await_email_about(&customer.email, "بازپرداخت").await;
    assert!(refunded[0].1.contains(reference), "the refund's reference: {refunded:?}");
    let cancelled = stack.await_email_about(&customer.email, "لغو شد").await;
    assert!(cancelled[0].1.contains("از سوی فروشگاه"), "{cancelled:?}");
}

#[tokio::test]
async fn p4_p13_roles_keep_to_their_duties_and_customers_to_their_own_orders() {
    let stack = Stack::connect().await;
    let Sale { bearer, order_id, .. } = paid_order(&stack, 10).await;
    let (_, other) = stack.signed_in_customer().await;
    assert_eq!(stack.get("/admin/orders", Some(&bearer)).await.status, 404);
    assert_eq!(step(&stack, &bearer, &order_id, "pack", &json!({})).await.status, 404);
    let theirs = stack.post_as(&format!("/orders/{order_id}/cancel"), &other, None, &json!({})).await;
    assert_eq!(theirs.status, 404);
    let (staff, _) = stack.staff_member("fulfilment").await;
    assert_eq!(stack.get("/admin/legal-exports", Some(&staff)).await.status, 403);
    let moderate = json!({ "action": "hide", "reason": "آزمون نقش‌ها" });
    let moderated = stack.patch_as("/admin/reviews/any-review", Some(&staff), &moderate).await;
    assert_eq!(moderated.status, 403, "a fulfilment account does not moderate reviews");

    let my_orders = stack.get("/me/orders", Some(&bearer)).await;
    assert_eq!(my_orders.status, 200, "{}", my_orders.body);
    let ids: Vec<&str> =
        my_orders.body["orders"].as_array().unwrap().iter().filter_map(|o| o["order_id"].as_str()).collect();
    assert_eq!(ids, [order_id.as_str()]);
    let others = stack.get("/me/orders", Some(&other)).await;
    assert_eq!(others.body["orders"], json!([]), "nobody sees another customer's orders");
    let bad = stack.get("/admin/orders?status=delivered", Some(&staff)).await;
    assert_eq!((bad.status, bad.body["code"].as_str()), (400, Some("validation-failed")));
}
