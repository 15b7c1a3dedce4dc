//! Payments end to end, against the local stack and the Zarinpal emulator: a whole sale from
//! signup to the receipt and the invoice; cancelling and paying again; a return opened twenty
//! times at once; tampered returns; the sweep that settles forgotten payments and expires unpaid
//! orders; late payments; bad input.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use mizan_e2e::{Answer, Stack, checkout_body, natural_buyer};
use serde_json::{Value, json};

/// A verified, signed-in customer with an order of `quantity` of a fresh product (of `stock`).
struct Buyer {
    customer: mizan_e2e::Customer,
    bearer: String,
    product: String,
    order_id: String,
}

async fn buyer_with_order(stack: &Stack, stock: u32, quantity: i64) -> Buyer {
    let (customer, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(2_500_000, stock).await.as_str().to_owned();
    let placed = stack.check_out(&bearer, &checkout_body(&product, quantity, natural_buyer())).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(placed.body["status"], "awaiting_payment");
    let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();
    Buyer { customer, bearer, product, order_id }
}

async fn order_status(stack: &Stack, buyer: &Buyer) -> String {
    let order = stack.get(&format!("/orders/{}", buyer.order_id), Some(&buyer.bearer)).await;
    assert_eq!(order.status, 200, "{}", order.body);
    order.body["status"].as_str().expect("a status").to_owned()
}

fn outcome(page: &Answer) -> String {
    let html = page.body.as_str().unwrap_or_else(|| panic!("a page, not {}", page.body));
    let start = html.find(r#"data-outcome=""#).expect("an outcome") + r#"data-outcome=""#.len();
    html[start..].chars().take_while(|c| *c != '"').collect()
}

/// One tick of the payment function's schedule.
async fn sweep(stack: &Stack) {
    stack.tick("payment").await;
}

/// Moves the order's payment window into the past, as if the customer had let it pass.
async fn let_window_pass(stack: &Stack, order_id: &str) {
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    stack
        .dynamodb()
        .update_item()
        .table_name(&stack.orders_table)
        .key("pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .update_expression("SET payment_due = :past")
        .expression_attribute_values(":past", AttributeValue::N(past.to_string()))
        .send()
        .await
        .expect("DynamoDB Local answers");
}

/// The events kept in the outbox about this order, of this type.
async fn kept_events(stack: &Stack, order_id: &str, kind: &str) -> usize {
    let table = std::env::var("OUTBOX_TABLE").expect("OUTBOX_TABLE");
    let items = stack
        .dynamodb()
        .scan()
        .table_name(table)
        .filter_expression("contains(envelope, :order) AND contains(envelope, :type)")
        .expression_attribute_values(":order", AttributeValue::S(order_id.to_owned()))
        .expression_attribute_values(":type", AttributeValue::S(format!(r#""type":"{kind}""#)))
        .send()
        .await
        .expect("DynamoDB Local answers");
    usize::try_from(items.count).unwrap_or(0)
}

fn receipts(emails: &[(String, String)]) -> usize {
    emails.iter().filter(|(subject, _)| subject.starts_with("رسید پرداخت")).count()
}

#[tokio::test]
async fn p6_a_whole_sale_signup_checkout_the_gateways_page_receipt_and_invoice() {
    let stack = Stack::connect().await;
    let buyer = buyer_with_order(&stack, 5, 2).await;
    let started = stack.start_payment(&buyer.bearer, &buyer.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    assert!(started.redirect_url.starts_with(&stack.zarinpal), "{}", started.redirect_url);

    // The browser: the gateway's page, its pay button, and back to our callback.
    let browser = reqwest::Client::new();
    let page = browser.get(&started.redirect_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("5,500,000"), "the gateway asks the order's total in Rials: {page}");
    let pay_action = format!("/pg/StartPay/{}/pay", started.authority);
    assert!(page.contains(&pay_action), "{page}");
    let back = browser.post(format!("{}{pay_action}", stack.zarinpal)).send().await.unwrap();
    assert!(back.url().as_str().starts_with(&stack.api), "the gateway sends the browser back to us: {}", back.url());
    let result = back.text().await.unwrap();
    assert!(result.contains(r#"data-outcome="paid""#) && result.contains(r#"dir="rtl""#), "{result}");
    assert!(result.contains(r#"id="ref-id""#), "the customer sees the reference number: {result}");

    assert_eq!(order_status(&stack, &buyer).await, "paid");
    let invoice = stack.await_invoice(&buyer.bearer, &buyer.order_id).await;
    assert_eq!(invoice.status, 200, "{}", invoice.body);
    assert_eq!(invoice.body["payment"]["method"], 5);
    assert_eq!(invoice.body["payment"]["amount"], 5_500_000);
    let emails = stack.await_emails(&buyer.customer.email, 4).await;
    assert_eq!(receipts(&emails), 1, "{emails:?}");
    let sms = stack.await_sms(&buyer.customer.phone_e164, 3).await;
    assert!(sms.iter().any(|text| text.contains("تأیید شد")), "a receipt by SMS: {sms:?}");
    // P13: the gateway heard the amount and the order, no contact of the customer.
    let at_gateway = stack.gateway_payment(&started.authority).await.to_string();
    let mobile = &buyer.customer.phone_e164[3..];
    assert!(!at_gateway.contains(&buyer.customer.email) && !at_gateway.contains(mobile), "{at_gateway}");
    stack.assert_not_logged(&[&buyer.customer.email, &buyer.customer.phone_e164]);
}

#[tokio::test]
async fn a_payment_cancelled_on_the_gateway_leaves_the_order_unpaid_and_payable_again() {
    let stack = Stack::connect().await;
    let buyer = buyer_with_order(&stack, 5, 1).await;
    let started = stack.start_payment(&buyer.bearer, &buyer.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    let callback = stack.gateway_act(&started.authority, "cancel").await.expect("a callback");
    assert!(callback.ends_with("Status=NOK"), "{callback}");
    assert_eq!(outcome(&stack.follow(&callback).await), "not-paid");
    assert_eq!(order_status(&stack, &buyer).await, "awaiting_payment");
    let invoice = stack.get(&format!("/orders/{}/invoice", buyer.order_id), Some(&buyer.bearer)).await;
    assert_eq!((invoice.status, invoice.body["code"].as_str()), (409, Some("order-not-paid")));

    stack.pay(&buyer.bearer, &buyer.order_id).await;
    assert_eq!(order_status(&stack, &buyer).await, "paid");
    let again = stack.start_payment(&buyer.bearer, &buyer.order_id).await.err().expect("refused");
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("order-already-paid")));
}

#[tokio::test]
async fn the_same_return_twenty_times_at_once_pays_once_invoices_once_and_sends_one_receipt() {
    let stack = Stack::connect().await;
    let buyer = buyer_with_order(&stack, 5, 1).await;
    let started = stack.start_payment(&buyer.bearer, &buyer.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    let callback = stack.gateway_act(&started.authority, "pay").await.expect("a callback");
    let pages = join_all((0..20).map(|_| stack.follow(&callback))).await;
    for page in &pages {
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(outcome(page), "paid");
    }
    assert_eq!(kept_events(&stack, &buyer.order_id, "OrderPaid").await, 1, "one OrderPaid");
    let invoice = stack.await_invoice(&buyer.bearer, &buyer.order_id).await;
    assert_eq!(invoice.status, 200);
    // Verification, confirmation, receipt, invoice; then a moment for any duplicate to arrive.
    stack.await_emails(&buyer.customer.email, 4).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let emails = stack.emails_to(&buyer.customer.email).await;
    assert_eq!(receipts(&emails), 1, "one receipt: {emails:?}");
}

#[tokio::test]
async fn tampered_returns_mark_nothing_paid() {
    let stack = Stack::connect().await;
    let (mine, theirs) = (buyer_with_order(&stack, 5, 1).await, buyer_with_order(&stack, 5, 1).await);
    let my_payment = stack.start_payment(&mine.bearer, &mine.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    let their_payment =
        stack.start_payment(&theirs.bearer, &theirs.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));

    // Another payment's authority put into my payment's return.
    let borrowed = format!(
        "/payments/zarinpal/callback/{}?Authority={}&Status=OK",
        my_payment.payment_id, their_payment.authority
    );
    let answer = stack.get(&borrowed, None).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (404, Some("not-found")), "{}", answer.body);

    // Status=OK with nothing paid.
    let forged =
        format!("/payments/zarinpal/callback/{}?Authority={}&Status=OK", my_payment.payment_id, my_payment.authority);
    assert_eq!(outcome(&stack.get(&forged, None).await), "not-paid");

    // The gateway took a different amount than our records say.
    stack.gateway_act(&my_payment.authority, "amount:1000").await;
    stack.gateway_act(&my_payment.authority, "pay-no-callback").await;
    assert_eq!(outcome(&stack.get(&forged, None).await), "unconfirmed");

    assert_eq!(order_status(&stack, &mine).await, "awaiting_payment");
    assert_eq!(order_status(&stack, &theirs).await, "awaiting_payment");
    // A sweep asks again and is refused the same way.
    sweep(&stack).await;
    assert_eq!(order_status(&stack, &mine).await, "awaiting_payment");
    assert_eq!(kept_events(&stack, &mine.order_id, "OrderPaid").await, 0);
}

#[tokio::test]
async fn a_gateway_that_does_not_answer_the_verification_leaves_the_order_unconfirmed_not_paid() {
    let stack = Stack::connect().await;
    let buyer = buyer_with_order(&stack, 5, 1).await;
    let started = stack.start_payment(&buyer.bearer, &buyer.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    stack.gateway_act(&started.authority, "verify-timeout").await;
    let callback = stack.gateway_act(&started.authority, "pay").await.expect("a callback");
    let page = stack.follow(&callback).await;
    assert_eq!(page.status, 200, "answered in time, not cut off: {}", page.body);
    assert_eq!(outcome(&page), "unconfirmed");
    assert_eq!(order_status(&stack, &buyer).await, "awaiting_payment");
}

#[tokio::test]
async fn a_payment_without_its_return_is_settled_by_the_sweep() {
    let stack = Stack::connect().await;
    let buyer = buyer_with_order(&stack, 5, 1).await;
    let started = stack.start_payment(&buyer.bearer, &buyer.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    assert_eq!(stack.gateway_act(&started.authority, "pay-no-callback").await, None);
    sweep(&stack).await;
    assert_eq!(order_status(&stack, &buyer).await, "paid");
    assert_eq!(stack.await_invoice(&buyer.bearer, &buyer.order_id).await.status, 200);
}

#[tokio::test]
async fn an_unpaid_order_past_its_window_expires_and_its_stock_can_be_bought_again() {
    let stack = Stack::connect().await;
    let buyer = buyer_with_order(&stack, 2, 2).await;
    let sold_out = stack.check_out(&buyer.bearer, &checkout_body(&buyer.product, 1, natural_buyer())).await;
    assert_eq!(sold_out.body["code"], "out-of-stock", "the unpaid order holds the stock");

    let_window_pass(&stack, &buyer.order_id).await;
    let late = stack.start_payment(&buyer.bearer, &buyer.order_id).await.err().expect("refused");
    assert_eq!((late.status, late.body["code"].as_str()), (409, Some("order-expired")));
    sweep(&stack).await;
    assert_eq!(order_status(&stack, &buyer).await, "expired");
    assert_eq!(kept_events(&stack, &buyer.order_id, "OrderExpired").await, 1);
    // Verification, confirmation, and the notice.
    let emails = stack.await_emails(&buyer.customer.email, 3).await;
    assert!(emails.iter().any(|(subject, _)| subject.ends_with("لغو شد")), "the customer is told: {emails:?}");

    let again = stack.check_out(&buyer.bearer, &checkout_body(&buyer.product, 2, natural_buyer())).await;
    assert_eq!(again.status, 201, "the stock is back: {}", again.body);
    sweep(&stack).await;
    assert_eq!(kept_events(&stack, &buyer.order_id, "OrderExpired").await, 1, "expired once");
}

#[tokio::test]
async fn a_payment_after_expiry_revives_the_order_while_stock_lasts_and_is_returned_when_it_does_not() {
    let stack = Stack::connect().await;

    // Stock left: the late payment takes it again and the order is paid.
    let lucky = buyer_with_order(&stack, 3, 1).await;
    let started = stack.start_payment(&lucky.bearer, &lucky.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    let_window_pass(&stack, &lucky.order_id).await;
    sweep(&stack).await;
    assert_eq!(order_status(&stack, &lucky).await, "expired");
    let callback = stack.gateway_act(&started.authority, "pay").await.expect("a callback");
    assert_eq!(outcome(&stack.follow(&callback).await), "paid");
    assert_eq!(order_status(&stack, &lucky).await, "paid");
    let product = mizan::kernel::ids::ProductId::parse(&lucky.product).unwrap();
    assert_eq!(stack.stock_of(&product).await, 2, "its stock is taken again");

    // Sold out meanwhile: the payment is reversed and the customer told.
    let unlucky = buyer_with_order(&stack, 1, 1).await;
    let started =
        stack.start_payment(&unlucky.bearer, &unlucky.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    let_window_pass(&stack, &unlucky.order_id).await;
    sweep(&stack).await;
    let (_, other) = stack.signed_in_customer().await;
    let bought = stack.check_out(&other, &checkout_body(&unlucky.product, 1, natural_buyer())).await;
    assert_eq!(bought.status, 201, "someone else buys the last one: {}", bought.body);
    let callback = stack.gateway_act(&started.authority, "pay").await.expect("a callback");
    assert_eq!(outcome(&stack.follow(&callback).await), "returned");
    assert_eq!(order_status(&stack, &unlucky).await, "expired");
    assert_eq!(stack.gateway_payment(&started.authority).await["status"], "reversed");
    // Verification, confirmation, the expiry notice, and the money's return.
    let emails = stack.await_emails(&unlucky.customer.email, 4).await;
    assert!(emails.iter().any(|(subject, _)| subject.starts_with("بازگشت مبلغ")), "{emails:?}");
}

#[tokio::test]
async fn bad_returns_and_payments_get_problems_and_change_nothing() {
    let stack = Stack::connect().await;
    let buyer = buyer_with_order(&stack, 5, 1).await;
    let started = stack.start_payment(&buyer.bearer, &buyer.order_id).await.unwrap_or_else(|a| panic!("{}", a.body));
    let base = format!("/payments/zarinpal/callback/{}", started.payment_id);
    // The path, the status it answers, and the field and code a validation problem names.
    type Case = (String, u16, Option<(&'static str, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            format!("/payments/zarinpal/callback/{}?Authority={}&Status=OK", uuid::Uuid::new_v4(), started.authority),
            404,
            None,
        ),
        (format!("/payments/zarinpal/callback/not-a-uuid?Authority={}&Status=OK", started.authority), 404, None),
        (format!("{base}?Authority=A'%3B--&Status=OK"), 400, Some(("Authority", "gateway-authority-invalid"))),
        (
            format!("{base}?Authority={}&Status=maybe", started.authority),
            400,
            Some(("Status", "gateway-status-invalid")),
        ),
        (format!("{base}?Status=OK"), 400, Some(("Authority", "required"))),
        (format!("{base}?Authority={}", "A".repeat(5000)), 400, Some(("Authority", "gateway-authority-invalid"))),
    ];
    for (path, status, field) in cases {
        let answer = stack.get(&path, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        let content_type = answer.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("application/problem+json"), "{path}: {content_type}");
        if let Some((field, code)) = field {
            assert!(answer.field_codes().contains(&(field.to_owned(), code.to_owned())), "{path}: {}", answer.body);
        }
    }
    for order in ["not-a-uuid", &uuid::Uuid::new_v4().to_string()] {
        let answer = stack.post_as(&format!("/orders/{order}/payments"), &buyer.bearer, None, &Value::Null).await;
        assert_eq!(answer.status, 404, "{}", answer.body);
    }
    let anonymous = stack.post(&format!("/orders/{}/payments", buyer.order_id), &json!({})).await;
    assert_eq!(anonymous.status, 401);
    let (_, stranger) = stack.signed_in_customer().await;
    let foreign = stack.post_as(&format!("/orders/{}/payments", buyer.order_id), &stranger, None, &json!({})).await;
    assert_eq!(foreign.status, 404, "another's order is not found");
    assert_eq!(order_status(&stack, &buyer).await, "awaiting_payment");
}
