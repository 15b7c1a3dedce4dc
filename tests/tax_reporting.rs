//! Invoices reach the tax system, end to end against the local stack and its tax system emulator
//! (infra/local/moadian.py, which opens every JWE, verifies every JWS against its certificate and
//! validates the invoice as the real system would): a paid order's invoice is accepted, a
//! cancelled sale's return invoice follows its original, a rejected invoice shows failed with the
//! system's errors and is corrected, an accepted one is corrected by a corrective invoice, and an
//! outage loses nothing and doubles nothing.
//!
//! The tax function runs every minute on the stack (its schedule); the tests tick it themselves
//! too, which is harmless: a run takes each queued invoice for itself before sending it.

use std::time::Duration;

use futures::{StreamExt, stream};
use mizan_e2e::{Stack, checkout_body, natural_buyer};
use serde_json::{Value, json};

/// A paid order of a fresh product, its invoice issued: the customer's bearer, the order id and
/// the invoice (JSON).
async fn invoiced(stack: &Stack) -> (String, String, Value) {
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(1_500_000, 10).await.as_str().to_owned();
    let placed = stack.check_out(&bearer, &checkout_body(&product, 2, natural_buyer())).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();
    stack.pay(&bearer, &order_id).await;
    let invoice = stack.await_invoice(&bearer, &order_id).await;
    assert_eq!(invoice.status, 200, "{}", invoice.body);
    (bearer, order_id, invoice.body)
}

/// Ticks the tax function until the tax system holds a submission of `taxid` that satisfies
/// `done` (the first inquiry waits ten seconds after sending); that submission.
async fn report_until(stack: &Stack, taxid: &str, done: impl Fn(&Value) -> bool, what: &str) -> Value {
    // Other tests here may take the system down a moment: room for its backoff.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        stack.tick("tax").await;
        let submissions = stack.tax_submissions().await;
        if let Some(found) = submissions.iter().find(|s| s["taxid"] == taxid && done(s)) {
            return found.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {taxid} not reported in time: {submissions:?}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn submissions_of(all: &[Value], taxid: &str) -> usize {
    all.iter().filter(|s| s["taxid"] == taxid).count()
}

#[tokio::test]
async fn p5_p8_a_paid_orders_invoice_is_accepted_carrying_only_what_tax_law_requires() {
    let stack = Stack::connect().await;
    let (bearer, order_id, invoice) = invoiced(&stack).await;
    // Queued when issued; other tests tick the tax function too, so it may be sent already.
    let standing = invoice["tax_system"]["status"].as_str();
    assert!(matches!(standing, Some("queued" | "sent")), "on its way when issued: {invoice}");
    let taxid = invoice["tax_id"].as_str().expect("a tax id");
    let accepted = report_until(&stack, taxid, |s| s["status"] == "SUCCESS", "acceptance").await;
    assert_eq!(submissions_of(&stack.tax_submissions().await, taxid), 1, "sent once");

    // The customer's invoice shows it, once this store has heard the verdict.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mine = loop {
        let mine = stack.get(&format!("/orders/{order_id}/invoice"), Some(&bearer)).await.body;
        if mine["tax_system"]["status"] == "accepted" {
            break mine;
        }
        assert!(tokio::time::Instant::now() < deadline, "the acceptance was not recorded: {mine}");
        stack.tick("tax").await;
    };
    assert_eq!(mine["tax_system"]["reference"], accepted["referenceNumber"]);

    let sent = &accepted["invoice"];
    assert_eq!(sent["header"]["ins"], 1);
    assert_eq!(sent["header"]["tbill"], invoice["totals"]["total"]);
    assert_eq!(sent["header"]["bid"], invoice["buyer"]["national_code"]);
    assert_eq!(sent["payments"][0]["trn"], invoice["payment"]["tracking_number"]);
    // P5, P8: the buyer's national code goes (tax law), nothing else about the customer.
    let text = sent.to_string();
    assert!(!text.contains(invoice["buyer"]["full_name"].as_str().expect("a name")), "no name: {text}");
    let header: Vec<&str> = sent["header"].as_object().expect("a header").keys().map(String::as_str).collect();
    let allowed = [
        "taxid", "indatim", "inty", "inno", "inp", "ins", "tins", "tob", "bid", "tprdis", "tdis", "tadis", "tvam",
        "todam", "tbill", "setm", "cap", "insp",
    ];
    assert!(header.iter().all(|field| allowed.contains(field)), "{header:?}");
}

#[tokio::test]
async fn a_cancelled_sales_return_invoice_is_accepted_after_its_original() {
    let stack = Stack::connect().await;
    let (bearer, order_id, invoice) = invoiced(&stack).await;
    let cancelled = stack.post_as(&format!("/orders/{order_id}/cancel"), &bearer, None, &json!({})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let returned = stack.await_return_invoice(&bearer, &order_id).await;
    let return_taxid = returned.body["tax_id"].as_str().expect("a tax id");
    let accepted = report_until(&stack, return_taxid, |s| s["status"] == "SUCCESS", "return").await;
    assert_eq!(accepted["invoice"]["header"]["ins"], 4);
    assert_eq!(accepted["invoice"]["header"]["irtaxid"], invoice["tax_id"]);
}

#[tokio::test]
async fn a_rejected_invoice_is_failed_listed_for_finance_corrected_and_then_accepted() {
    let stack = Stack::connect().await;
    let (bearer, _, invoice) = invoiced(&stack).await;
    let taxid = invoice["tax_id"].as_str().expect("a tax id");
    stack.tax_system("reject", &json!({ "taxid": taxid, "code": "BUYER", "message": "the buyer is unknown" })).await;
    let rejected = report_until(&stack, taxid, |s| s["status"] == "FAILED", "rejection").await;
    assert_eq!(rejected["errors"][0]["code"], "BUYER");
    for _ in 0..3 {
        stack.tick("tax").await;
    }
    assert_eq!(submissions_of(&stack.tax_submissions().await, taxid), 1, "a rejected invoice is not resent");

    // Finance sees it, with the system's error; nobody else finds the list.
    let (finance, _) = stack.staff_member("finance").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let page = stack.get("/admin/invoices?tax_status=failed&limit=100", Some(&finance)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let invoices = page.body["invoices"].as_array().cloned().unwrap_or_default();
        if let Some(listed) = invoices.into_iter().find(|i| i["tax_id"] == taxid) {
            break listed;
        }
        assert!(tokio::time::Instant::now() < deadline, "the rejection was not recorded: {}", page.body);
        stack.tick("tax").await;
    };
    assert_eq!((listed["kind"].as_str(), listed["errors"][0]["code"].as_str()), (Some("sale"), Some("BUYER")));
    assert_eq!(listed["reference"], rejected["referenceNumber"]);
    assert_eq!(stack.get("/admin/invoices?tax_status=failed", Some(&bearer)).await.status, 404);
    let (fulfilment, _) = stack.staff_member("fulfilment").await;
    assert_eq!(stack.get("/admin/invoices?tax_status=failed", Some(&fulfilment)).await.status, 404);
    let wrong = stack.get("/admin/invoices?tax_status=accepted", Some(&finance)).await;
    assert_eq!((wrong.status, wrong.body["errors"][0]["code"].as_str()), (400, Some("tax-status-invalid")));

    // Finance corrects the buyer; the invoice goes again, under its own tax id, and is accepted.
    let order_id = listed["order_id"].as_str().expect("an order id");
    let correction =
        json!({ "buyer": { "type": "natural", "full_name": "مریم کاظمی", "national_code": "0499370899" } });
    let path = format!("/admin/invoices/{order_id}/corrections");
    assert_eq!(stack.post_as(&path, &bearer, None, &correction).await.status, 404, "customers do not correct");
    let corrected = stack.post_as(&path, &finance, None, &correction).await;
    assert_eq!(corrected.status, 200, "{}", corrected.body);
    assert_eq!(
        (corrected.body["tax_id"].as_str(), corrected.body["tax_system"]["status"].as_str()),
        (Some(taxid), Some("queued"))
    );
    let again = stack.post_as(&path, &finance, None, &correction).await;
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("invoice-awaiting-verdict")));
    let accepted = report_until(&stack, taxid, |s| s["status"] == "SUCCESS", "the corrected invoice").await;
    assert_eq!(accepted["invoice"]["header"]["bid"], "0499370899");
    let mine = stack.get(&format!("/orders/{order_id}/invoice"), Some(&bearer)).await;
    assert_eq!(mine.body["buyer"]["national_code"], "0499370899", "the customer's invoice is the corrected one");
}

#[tokio::test]
async fn p8_an_accepted_invoice_is_corrected_by_a_corrective_invoice_which_a_return_then_names() {
    let stack = Stack::connect().await;
    let (bearer, order_id, invoice) = invoiced(&stack).await;
    let taxid = invoice["tax_id"].as_str().expect("a tax id");
    let path = format!("/admin/invoices/{order_id}/corrections");
    let company = json!({ "buyer": {
        "type": "legal", "company_name": "شرکت قهوه‌پردازان پارس", "economic_code": "10380284790",
        "national_id": "10380284790", "postal_code": "1435734561"
    } });
    let (finance, _) = stack.staff_member("finance").await;
    let early = stack.post_as(&path, &finance, None, &company).await;
    assert_eq!((early.status, early.body["code"].as_str()), (409, Some("invoice-awaiting-verdict")), "{}", early.body);
    report_until(&stack, taxid, |s| s["status"] == "SUCCESS", "acceptance").await;

    // The customer asked for the invoice in their company's name after it was accepted.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let corrective = loop {
        let answer = stack.post_as(&path, &finance, None, &company).await;
        if answer.status != 409 {
            break answer;
        }
        assert!(tokio::time::Instant::now() < deadline, "the acceptance was not recorded: {}", answer.body);
        stack.tick("tax").await;
    };
    assert_eq!(corrective.status, 201, "{}", corrective.body);
    let corrective = corrective.body;
    assert_eq!((corrective["invoice_subject"].as_i64(), corrective["corrects"].as_str()), (Some(2), Some(taxid)));
    assert!(corrective["serial"].as_u64() > invoice["serial"].as_u64(), "the next serial: {corrective}");
    assert_eq!(
        (corrective["totals"].clone(), corrective["buyer"]["tob"].as_i64()),
        (invoice["totals"].clone(), Some(2))
    );
    let corrective_taxid = corrective["tax_id"].as_str().expect("a tax id");
    assert_ne!(corrective_taxid, taxid);
    let again = stack.post_as(&path, &finance, None, &company).await;
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("invoice-already-corrected")));

    let accepted = report_until(&stack, corrective_taxid, |s| s["status"] == "SUCCESS", "the corrective").await;
    let header = &accepted["invoice"]["header"];
    assert_eq!((header["ins"].as_i64(), header["irtaxid"].as_str()), (Some(2), Some(taxid)));
    assert_eq!((header["tob"].as_i64(), header["tinb"].as_str()), (Some(2), Some("10380284790")));
    assert_eq!(submissions_of(&stack.tax_submissions().await, taxid), 1, "the accepted one is not resent");
    let mine = stack.get(&format!("/orders/{order_id}/invoice"), Some(&bearer)).await;
    assert_eq!(mine.body["tax_id"].as_str(), Some(corrective_taxid), "the customer's invoice is the corrective one");
    assert_eq!(mine.body["buyer"]["company_name"], "شرکت قهوه‌پردازان پارس");

    // Cancelled afterwards: the return names the invoice as it stands.
    let cancelled = stack.post_as(&format!("/orders/{order_id}/cancel"), &bearer, None, &json!({})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let returned = stack.await_return_invoice(&bearer, &order_id).await;
    assert_eq!(returned.body["returns"].as_str(), Some(corrective_taxid));
    let return_taxid = returned.body["tax_id"].as_str().expect("a tax id");
    let accepted = report_until(&stack, return_taxid, |s| s["status"] == "SUCCESS", "the return").await;
    assert_eq!(accepted["invoice"]["header"]["irtaxid"].as_str(), Some(corrective_taxid));
}

#[tokio::test]
async fn an_outage_and_slow_verdicts_lose_nothing_and_send_nothing_twice() {
    let stack = Stack::connect().await;
    let (_, _, first) = invoiced(&stack).await;
    let (_, _, second) = invoiced(&stack).await;
    stack.tax_system("down", &json!({ "down": true, "slow": 1 })).await;
    stack.tick("tax").await;
    stack.tick("tax").await;
    stack.tax_system("down", &json!({ "down": false })).await;
    // The system takes its time: the next verdicts are TIMEOUT, then IN_PROGRESS.
    stack.tax_system("inquiries", &json!({ "status": "TIMEOUT", "times": 1 })).await;
    for invoice in [&first, &second] {
        let taxid = invoice["tax_id"].as_str().expect("a tax id");
        report_until(&stack, taxid, |s| s["status"] == "SUCCESS", "acceptance after the outage").await;
    }
    let all = stack.tax_submissions().await;
    for invoice in [&first, &second] {
        let taxid = invoice["tax_id"].as_str().expect("a tax id");
        assert_eq!(submissions_of(&all, taxid), 1, "{taxid} sent exactly once");
    }
}

#[tokio::test]
async fn p8_two_hundred_invoices_are_all_accepted_in_batches_without_a_duplicate() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(1_000_000, 300).await;
    let body = checkout_body(product.as_str(), 1, natural_buyer());
    // Placed and paid as customers would, a few at a time (the local functions serve one request
    // at a time each); the invoice function then issues them as the payments' events arrive.
    let orders: Vec<String> = stream::iter(0..200)
        .map(|_| async {
            let key = uuid::Uuid::new_v4().to_string();
            let placed = stack.post_as("/checkout", &bearer, Some(&key), &body).await;
            assert_eq!(placed.status, 201, "{}", placed.body);
            let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();
            stack.pay(&bearer, &order_id).await;
            order_id
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let invoices: Vec<_> =
        stream::iter(&orders).map(|id| stack.await_invoice(&bearer, id)).buffer_unordered(16).collect().await;
    let taxids: Vec<String> =
        invoices.iter().map(|invoice| invoice.body["tax_id"].as_str().expect("a tax id").to_owned()).collect();
    let distinct: std::collections::HashSet<&String> = taxids.iter().collect();
    assert_eq!(distinct.len(), 200, "two hundred tax ids");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        stack.tick("tax").await;
        let all = stack.tax_submissions().await;
        let accepted =
            taxids.iter().filter(|t| all.iter().any(|s| s["taxid"] == **t && s["status"] == "SUCCESS")).count();
        if accepted == taxids.len() {
            for taxid in &taxids {
                assert_eq!(submissions_of(&all, taxid), 1, "{taxid} sent once, no duplicate");
            }
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{accepted} of 200 accepted in time");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Six hundred messages follow these orders (confirmation, receipt, invoice): the tests after
    // this one wait for their own messages behind them unless they have gone out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let sent = stack.emails_to(&customer.email).await;
        if sent.iter().filter(|(subject, _)| subject.contains("فاکتور رسمی")).count() >= 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the orders' messages did not go out in time");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
