//! Legal requests end to end (P3): the legal role exports everything the store holds about a
//! person — profile, consent and its changes, orders with their recipients (P15), invoices,
//! reviews hidden or not with their history (P11), recorded IPs (P14) — and every disclosure,
//! and every refused attempt, is in an append-only audit trail first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use mizan_e2e::{Answer, Stack};
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

const EXPORTS: &str = "/admin/legal-exports";
const NATIONAL_CODE: &str = "0076229645";

/// A signed-in account with `role`, made so with the operator command the README documents;
/// its token and account id.
async fn with_role(stack: &Stack, role: &str) -> (String, String) {
    let (_, bearer, id) = person_with_role(stack, role).await;
    (bearer, id)
}

async fn person_with_role(stack: &Stack, role: &str) -> (mizan_e2e::Customer, String, String) {
    let (mut customer, _) = stack.signed_in_customer().await;
    customer.password = stack.reset_password(&customer).await;
    let granted = stack.grant_staff(&customer.email, role);
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    let session = stack.post("/sessions", &json!({ "email": customer.email, "password": customer.password })).await;
    let bearer = session.body["token"].as_str().expect("a token").to_owned();
    let id = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().expect("an id").to_owned();
    (customer, bearer, id)
}

fn request(kind: &str, value: &str) -> Value {
    json!({
        "authority": "دادسرای عمومی و انقلاب ناحیه ۲ تهران",
        "reference": "۱۴۰۵/۱۲۳۴۵/ب",
        "date": "۱۴۰۵/۰۹/۰۱",
        "subject": { "kind": kind, "value": value },
    })
}

async fn export(stack: &Stack, bearer: &str, body: &Value) -> Answer {
    stack.post_as(EXPORTS, bearer, None, body).await
}

/// Every audit record written by `actor`, read from the table itself (not through the route
/// under test).
async fn audit_records_of(stack: &Stack, actor: &str) -> Vec<HashMap<String, AttributeValue>> {
    let table = std::env::var("AUDIT_TABLE").expect("AUDIT_TABLE: run with infra/test");
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = stack
            .dynamodb()
            .scan()
            .table_name(&table)
            .filter_expression("actor_id = :actor")
            .expression_attribute_values(":actor", AttributeValue::S(actor.to_owned()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("DynamoDB Local answers");
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// A customer with an order (recipient and invoice), a review that staff then hid, another
/// still published, two consent changes, and a change of email it has not proven yet.
struct History {
    customer: mizan_e2e::Customer,
    pending_email: String,
    account_id: String,
    order_id: String,
    recipient_phone: String,
    hidden_review: String,
    published_review: String,
}

async fn customer_with_history(stack: &Stack) -> History {
    let (customer, bearer) = stack.signed_in_customer().await;
    let account_id = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let product = stack.add_product(4_500_000, 5).await;
    let other_product = stack.add_product(2_000_000, 5).await;
    let digits: String = uuid::Uuid::new_v4().as_u128().to_string().chars().take(7).collect();
    let placed = stack
        .check_out(
            &bearer,
            &json!({
                "items": [{ "product_id": product.as_str(), "quantity": 1 }],
                "buyer": { "type": "natural", "full_name": "مریم کاظمی", "national_code": NATIONAL_CODE },
                "shipping": { "recipient_name": "رضا احمدی", "recipient_phone": format!("0935{digits}"),
                              "address": "شیراز، خیابان زند، پلاک ۷", "postal_code": "7134567890" }
            }),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["order_id"].as_str().unwrap().to_owned();

    let hidden = stack
        .post_as(
            &format!("/products/{}/reviews", product.as_str()),
            &bearer,
            None,
            &json!({ "rating": 1, "text": "متنی که فروشگاه پنهانش خواهد کرد." }),
        )
        .await;
    assert_eq!(hidden.status, 201, "{}", hidden.body);
    let hidden_review = hidden.body["review_id"].as_str().unwrap().to_owned();
    let published = stack
        .post_as(
            &format!("/products/{}/reviews", other_product.as_str()),
            &bearer,
            None,
            &json!({ "rating": 5, "text": "عالی بود." }),
        )
        .await;
    assert_eq!(published.status, 201, "{}", published.body);
    let (staff, _) = with_role(stack, "staff").await;
    let moderated = stack
        .patch_as(
            &format!("/admin/reviews/{hidden_review}"),
            Some(&staff),
            &json!({ "action": "hide", "reason": "توهین" }),
        )
        .await;
    assert_eq!(moderated.status, 200, "{}", moderated.body);

    for marketing in [json!({ "email": false }), json!({ "sms": true })] {
        let changed = stack.put_as("/me/preferences", &bearer, &json!({ "marketing": marketing })).await;
        assert_eq!(changed.status, 200, "{}", changed.body);
    }
    stack.pay(&bearer, &order_id).await;
    let invoice = stack.await_invoice(&bearer, &order_id).await;
    assert_eq!(invoice.status, 200, "{}", invoice.body);
    let pending_email = mizan_e2e::Customer::fresh().email;
    let change = json!({ "new_email": pending_email, "password": customer.password });
    assert_eq!(stack.post_as("/me/email", &bearer, None, &change).await.status, 202);
    History {
        customer,
        pending_email,
        account_id,
        order_id,
        recipient_phone: format!("+98935{digits}"),
        hidden_review,
        published_review: published.body["review_id"].as_str().unwrap().to_owned(),
    }
}

/// What the document of an account-subject export must hold about `history`.
fn assert_holds_everything(document: &Value, history: &History) {
    let accounts = document["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 1, "{document}");
    let account = &accounts[0];
    assert_eq!(account["account_id"], history.account_id);
    assert_eq!(account["profile"]["email"], history.customer.email);
    assert_eq!(account["profile"]["phone"], history.customer.phone_e164);
    assert_eq!(account["profile"]["full_name"], history.customer.full_name);
    assert_eq!(account["profile"]["pending_email"], history.pending_email, "a change waiting is held, so disclosed");
    assert_eq!(account["terms"]["version"], "1404-01");
    assert!(account["terms"]["source_ip"].is_string(), "the terms acceptance IP (P14): {account}");
    assert_eq!(account["consent"], json!({ "email": false, "sms": true }));
    let changes: Vec<(&str, bool, bool)> = account["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["channel"].as_str().unwrap(), c["old"].as_bool().unwrap(), c["new"].as_bool().unwrap()))
        .collect();
    assert_eq!(changes, [("email", true, false), ("sms", false, true)]);

    let orders = account["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order["order_id"], history.order_id);
    assert_eq!(order["buyer"]["national_code"], NATIONAL_CODE);
    assert_eq!(order["recipient"]["phone"], history.recipient_phone, "the recipient while kept (P15)");
    assert!(order["invoice"]["tax_id"].is_string(), "the invoice: {order}");

    let reviews = account["reviews"].as_array().unwrap();
    let review = |id: &str| reviews.iter().find(|r| r["review_id"] == id).cloned().expect("the review is exported");
    let hidden = review(&history.hidden_review);
    assert_eq!(hidden["visibility"], "hidden", "hidden reviews too (P11)");
    let versions = hidden["history"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (versions[0]["changed_by"].as_str(), versions[1]["changed_by"].as_str()),
        (Some("author"), Some("staff"))
    );
    assert!(versions[0]["source_ip"].is_string(), "the author's IP (P11, P14)");
    assert_eq!(versions[1]["reason"], "توهین");
    assert_eq!(review(&history.published_review)["visibility"], "published");

    let recorded_with: Vec<&str> =
        document["ip_addresses"].as_array().unwrap().iter().map(|ip| ip["recorded_with"].as_str().unwrap()).collect();
    assert_eq!(recorded_with.iter().filter(|w| **w == "terms-acceptance").count(), 1);
    assert_eq!(recorded_with.iter().filter(|w| **w == "review-version").count(), 2);
    assert_eq!(recorded_with.iter().filter(|w| **w == "login").count(), 1);
    assert_eq!(recorded_with.iter().filter(|w| **w == "checkout").count(), 1);
    assert_eq!(
        document["categories"],
        json!({ "profile": 1, "consent_changes": 2, "orders": 1, "recipients": 1, "invoices": 1,
                "reviews": 2, "review_versions": 3, "ip_addresses": 5 })
    );
}

#[tokio::test]
async fn p3_p11_p14_a_legal_export_by_customer_id_and_by_email_holds_everything_and_is_audited_first() {
    let stack = Stack::connect().await;
    let history = customer_with_history(&stack).await;
    let (legal, legal_id) = with_role(&stack, "legal").await;

    let by_id = export(&stack, &legal, &request("customer_id", &history.account_id)).await;
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    assert_holds_everything(&by_id.body, &history);
    let by_email = export(&stack, &legal, &request("email", &history.customer.email.to_uppercase())).await;
    assert_eq!(by_email.status, 200, "{}", by_email.body);
    assert_holds_everything(&by_email.body, &history);
    let by_phone = export(&stack, &legal, &request("phone", &history.customer.phone_typed)).await;
    assert_eq!(by_phone.status, 200, "{}", by_phone.body);
    assert_holds_everything(&by_phone.body, &history);
    assert_eq!(by_email.body["request"]["subject"]["value"], history.customer.email);
    assert_eq!(by_email.body["request"]["date"], "1405/09/01");
    assert_eq!(by_email.body["request"]["date_gregorian"], "2026-11-22");

    // The audit trail has one record per disclosure, written before the answer, naming who
    // asked, the request, whose data (never in clear) and what went out.
    let records = audit_records_of(&stack, &legal_id).await;
    assert_eq!(records.len(), 3);
    for answer in [&by_id, &by_email, &by_phone] {
        let id = answer.body["audit_id"].as_str().unwrap();
        let record = records.iter().find(|r| text(r, "audit_id") == id).expect("the disclosure is audited");
        assert_eq!(text(record, "outcome"), "disclosed");
        assert_eq!(text(record, "actor_role"), "legal");
        assert_eq!(text(record, "reference"), "1405/12345/ب");
        assert_eq!(text(record, "authority"), "دادسرای عمومی و انقلاب ناحیه ۲ تهران");
        assert_eq!(record["accounts"].as_l().unwrap(), &[AttributeValue::S(history.account_id.clone())]);
        let categories = record["categories"].as_m().unwrap();
        assert_eq!(categories["orders"].as_n().unwrap(), "1");
        assert_eq!(categories["reviews"].as_n().unwrap(), "2");
        let stored = format!("{record:?}");
        for secret in [&history.customer.email, &history.customer.phone_e164, &history.customer.full_name] {
            assert!(!stored.contains(secret.as_str()), "the audit record holds {secret} in clear");
        }
    }
    let fingerprints: Vec<String> = records.iter().map(|r| text(r, "subject_fingerprint")).collect();
    assert!(fingerprints.iter().all(|f| f.len() == 43), "keyed hashes: {fingerprints:?}");

    // The listing shows them, newest first, to the legal role.
    let listing = stack.get(&format!("{EXPORTS}?limit=100"), Some(&legal)).await;
    assert_eq!(listing.status, 200, "{}", listing.body);
    let listed = listing.body["records"].as_array().unwrap();
    let mine: Vec<&Value> = listed.iter().filter(|r| r["actor_account_id"] == legal_id).collect();
    assert_eq!(mine.len(), 3);
    assert_eq!(mine[0]["audit_id"], by_phone.body["audit_id"], "newest first");
    assert_eq!(mine[0]["subject"]["kind"], "phone");
    assert_eq!(mine[1]["subject"]["masked"], format!("{}***@***.com", &history.customer.email[..1]));
    assert_eq!(mine[2]["categories"]["invoices"], 1);
    let times: Vec<&str> = listed.iter().map(|r| r["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {times:?}");

    stack.assert_not_logged(&[&history.customer.email, &history.customer.phone_e164, &history.recipient_phone]);
}

/// A closed account (P3, P11): its profile and contacts are gone, its reviews show the anonymous
/// name, and the legal export by customer id still holds its orders, invoice, reviews with
/// their history, and recorded IPs.
#[tokio::test]
async fn p3_p11_a_closed_account_stays_answerable_to_a_legal_request_with_its_reviews_anonymous() {
    let stack = Stack::connect().await;
    let history = customer_with_history(&stack).await;
    let session = stack
        .post("/sessions", &json!({ "email": history.customer.email, "password": history.customer.password }))
        .await;
    let bearer = session.body["token"].as_str().expect("a token").to_owned();
    let closed = stack.post_as("/me/closure", &bearer, None, &json!({ "password": history.customer.password })).await;
    assert_eq!(closed.status, 200, "{}", closed.body);

    // The review function hears of the closure and renames the reviews, keeping them.
    let table = std::env::var("REVIEWS_TABLE").expect("REVIEWS_TABLE: run with infra/test");
    let started = Instant::now();
    for review in [&history.published_review, &history.hidden_review] {
        loop {
            let item = stack
                .dynamodb()
                .get_item()
                .table_name(&table)
                .key("pk", AttributeValue::S(format!("REVIEW#{review}")))
                .key("sk", AttributeValue::S("CURRENT".to_owned()))
                .consistent_read(true)
                .send()
                .await
                .expect("DynamoDB Local answers")
                .item
                .expect("the review stays");
            assert_eq!(text(&item, "author_id"), history.account_id, "still linked to the account (P11)");
            if text(&item, "display_name") == mizan::accounts::closure::ANONYMOUS_DISPLAY_NAME {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the review kept its author's name");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    let (legal, _) = with_role(&stack, "legal").await;
    // The contacts are erased, but their keyed hashes still lead to the account.
    for (kind, value) in [("email", &history.customer.email), ("phone", &history.customer.phone_e164)] {
        let found = export(&stack, &legal, &request(kind, value)).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(found.body["accounts"].as_array().map(Vec::len), Some(1), "{kind}: {}", found.body);
        assert_eq!(found.body["accounts"][0]["account_id"], history.account_id.as_str(), "{kind}");
    }
    let accounts_table = std::env::var("ACCOUNTS_TABLE").expect("ACCOUNTS_TABLE: run with infra/test");
    let record = stack
        .dynamodb()
        .get_item()
        .table_name(&accounts_table)
        .key("pk", AttributeValue::S(format!("CLOSED#{}", history.account_id)))
        .send()
        .await
        .expect("DynamoDB Local answers")
        .item
        .expect("the closed account's record");
    let kept = format!("{record:?}");
    assert!(!kept.contains(&history.customer.email) && !kept.contains(&history.customer.phone_e164[3..]), "{kept}");
    let by_id = export(&stack, &legal, &request("customer_id", &history.account_id)).await;
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    let account = &by_id.body["accounts"][0];
    assert!(account["closed_at"].is_string(), "{account}");
    assert_eq!(account["profile"]["email"], Value::Null, "contacts are erased");
    assert_eq!(account["orders"][0]["order_id"], history.order_id);
    assert!(account["orders"][0]["invoice"]["tax_id"].is_string(), "the invoice is kept (tax law)");
    assert_eq!(account["reviews"].as_array().map(Vec::len), Some(2));
    assert!(account["reviews"].as_array().unwrap().iter().all(|r| r["display_name"] == "کاربر پیشین"));
    assert_eq!(by_id.body["categories"]["profile"], 0);
    let recorded_with: Vec<&str> =
        by_id.body["ip_addresses"].as_array().unwrap().iter().filter_map(|ip| ip["recorded_with"].as_str()).collect();
    assert!(recorded_with.contains(&"login") && recorded_with.contains(&"review-version"), "{recorded_with:?}");
}

#[tokio::test]
async fn p3_the_audit_listing_pages_with_an_opaque_cursor() {
    let stack = Stack::connect().await;
    let (legal, _) = with_role(&stack, "legal").await;
    for _ in 0..3 {
        let answer = export(&stack, &legal, &request("customer_id", &uuid::Uuid::new_v4().to_string())).await;
        assert_eq!(answer.status, 200, "nothing found is an answer too: {}", answer.body);
        assert_eq!(answer.body["accounts"], json!([]));
    }
    let first = stack.get(&format!("{EXPORTS}?limit=2"), Some(&legal)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["records"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("a next page").to_owned();
    let second = stack.get(&format!("{EXPORTS}?limit=2&cursor={cursor}"), Some(&legal)).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let ids = |answer: &Answer| -> Vec<String> {
        answer.body["records"].as_array().unwrap().iter().map(|r| r["audit_id"].as_str().unwrap().to_owned()).collect()
    };
    assert!(ids(&second).iter().all(|id| !ids(&first).contains(id)), "pages do not overlap");
    for (query, field) in [("limit=0", "limit"), ("limit=101", "limit"), ("cursor=bm90LW91cnM", "cursor")] {
        let bad = stack.get(&format!("{EXPORTS}?{query}"), Some(&legal)).await;
        assert_eq!(bad.status, 400, "{query}: {}", bad.body);
        assert_eq!(bad.body["errors"][0]["field"], field);
    }
}

#[tokio::test]
async fn p3_a_national_code_finds_the_orders_that_carry_it() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(1_000_000, 5).await;
    let placed = stack
        .check_out(
            &bearer,
            &json!({
                "items": [{ "product_id": product.as_str(), "quantity": 1 }],
                "buyer": { "type": "natural", "full_name": "مریم کاظمی", "national_code": "۰۰۷۶۲۲۹۶۴۵" },
                "shipping": { "recipient_name": "مریم کاظمی", "recipient_phone": "09121112233",
                              "address": "تهران، خیابان ولیعصر، پلاک ۱۲", "postal_code": "1968913456" }
            }),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let (legal, legal_id) = with_role(&stack, "legal").await;
    let answer = export(&stack, &legal, &request("national_code", "007-622964-5")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["accounts"], json!([]), "the placing account needs a request of its own");
    let orders = answer.body["orders_by_buyer_code"].as_array().unwrap();
    assert!(orders.iter().any(|o| o["order_id"] == placed.body["order_id"]), "{}", answer.body);
    assert!(orders.iter().all(|o| o["buyer"]["national_code"] == NATIONAL_CODE));
    // Every request is audited: one record, or two when the local emulator answered a bare 500
    // of its own after the function had answered and the harness sent the request again.
    let records = audit_records_of(&stack, &legal_id).await;
    assert!((1..=2).contains(&records.len()), "{records:?}");
    for record in &records {
        assert_eq!(text(record, "subject_masked"), "********45");
        assert!(!format!("{record:?}").contains(NATIONAL_CODE), "no national code in clear in the audit");
    }
}

#[tokio::test]
async fn p3_customers_and_plain_staff_are_refused_and_their_attempts_audited() {
    let stack = Stack::connect().await;
    let (customer, customer_token) = stack.signed_in_customer().await;
    let customer_id = stack.get("/me", Some(&customer_token)).await.body["account_id"].as_str().unwrap().to_owned();
    let (staff, staff_id) = with_role(&stack, "staff").await;
    let asked = request("email", &customer.email);
    for (token, id, role) in [(&customer_token, &customer_id, "customer"), (&staff, &staff_id, "staff")] {
        let refused = export(&stack, token, &asked).await;
        assert_eq!((refused.status, refused.body["code"].as_str()), (403, Some("forbidden")), "{role}");
        assert!(refused.body.get("accounts").is_none(), "nothing disclosed");
        let listing = stack.get(EXPORTS, Some(token)).await;
        assert_eq!(listing.status, 403, "{role} lists: {}", listing.body);

        let records = audit_records_of(&stack, id).await;
        assert_eq!(records.len(), 2, "{role}: the export and the listing attempts are audited");
        let export_attempt = records.iter().find(|r| text(r, "action") == "export").expect("the export attempt");
        assert_eq!(text(export_attempt, "outcome"), "refused");
        assert_eq!(text(export_attempt, "actor_role"), role);
        assert_eq!(text(export_attempt, "subject_kind"), "email");
        assert!(
            !export_attempt.contains_key("reference") && !export_attempt.contains_key("authority"),
            "no words of the caller's"
        );
        assert!(!format!("{export_attempt:?}").contains(&customer.email), "no subject in clear");
        assert!(records.iter().all(|r| r["categories"].as_m().unwrap().is_empty()));
    }
    assert_eq!(stack.post(EXPORTS, &asked).await.status, 401);
    assert_eq!(stack.get(EXPORTS, None).await.status, 401);
}

#[tokio::test]
async fn p3_a_caller_refused_again_and_again_is_audited_only_so_many_times_an_hour() {
    let stack = Stack::connect().await;
    let (token, id) = with_role(&stack, "staff").await;
    let limit = mizan::privacy::legal_export::REFUSALS_AUDITED_PER_CALLER.max as usize;
    for _ in 0..=limit {
        assert_eq!(stack.get(EXPORTS, Some(&token)).await.status, 403);
    }
    assert_eq!(audit_records_of(&stack, &id).await.len(), limit, "the attempt past the limit is refused, not recorded");
}

#[tokio::test]
async fn p3_malformed_requests_answer_field_problems_and_disclose_nothing() {
    let stack = Stack::connect().await;
    let (legal, legal_id) = with_role(&stack, "legal").await;
    let cases: [(Value, &[(&str, &str)]); 5] = [
        (
            json!({}),
            &[("authority", "required"), ("reference", "required"), ("date", "required"), ("subject", "required")],
        ),
        (
            json!({ "authority": "Tehran court", "reference": "۱۲/ب", "date": "2026-11-20",
                    "subject": { "kind": "passport", "value": "X123" } }),
            &[
                ("authority", "authority-not-persian"),
                ("date", "request-date-format"),
                ("subject.kind", "subject-kind-invalid"),
            ],
        ),
        (
            json!({ "authority": "دادگاه", "reference": "1<2>", "date": "1499/01/01", "subject": { "kind": "email", "value": "no-at" } }),
            &[("reference", "reference-invalid"), ("date", "request-date-future"), ("subject.value", "email-at-sign")],
        ),
        (request("phone", "12345"), &[("subject.value", "mobile-format")]),
        (request("national_code", "0076229640"), &[("subject.value", "national-code-checksum")]),
    ];
    for (body, expected) in cases {
        let answer = export(&stack, &legal, &body).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (400, Some("validation-failed")), "{body}");
        let expected: Vec<(String, String)> =
            expected.iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect();
        assert_eq!(answer.field_codes(), expected, "{body}");
        assert!(
            answer.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
        );
    }
    let not_json = stack.post_raw(EXPORTS, "application/json", "{not json").await;
    assert_eq!(not_json.status, 401, "no token, no parsing");
    assert!(audit_records_of(&stack, &legal_id).await.is_empty(), "nothing was disclosed, nothing audited");
}

/// Audit first: the domain's export, given an audit table it cannot write to (a table that does
/// not exist), answers the audit failure and no document — the route turns it into a 503.
#[tokio::test]
async fn p3_an_export_whose_audit_write_fails_discloses_nothing() {
    use mizan::privacy::legal_export::{Actor, ExportError, LegalRequest, Stores};
    use mizan_aws::dynamodb::{accounts::AccountsTable, audit::AuditTable, invoices::InvoicesTable};
    use mizan_aws::dynamodb::{ip_records::IpRecordsTable, reviews::ReviewsTable};
    use mizan_aws::kms::sealed_fields::FieldSealer;

    let stack = Stack::connect().await;
    let (customer, _) = stack.signed_in_customer().await;
    let table = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name}: run with infra/test"));
    let client = stack.dynamodb().clone();
    let accounts =
        AccountsTable::new(client.clone(), table("ACCOUNTS_TABLE")).with_contact_lookup(stack.contact_lookup_key());
    let orders = stack.orders_store().await;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let fields = FieldSealer::new(aws_sdk_kms::Client::new(&aws), table("FIELD_KEY_ID"));
    let invoices = InvoicesTable::new(client.clone(), table("INVOICES_TABLE"), fields);
    let reviews = ReviewsTable::new(client.clone(), table("REVIEWS_TABLE"));
    let ip_records = IpRecordsTable::new(client.clone(), table("IP_RECORDS_TABLE"));
    let broken_audit = AuditTable::new(client, format!("NoSuchAuditTable-{}", uuid::Uuid::new_v4().simple()));
    let stores = Stores {
        accounts: &accounts,
        orders: &orders,
        invoices: &invoices,
        reviews: &reviews,
        ip_records: &ip_records,
        audit: &broken_audit,
    };
    let body = match request("email", &customer.email) {
        Value::Object(map) => mizan::kernel::form::JsonObject::new(map),
        _ => unreachable!(),
    };
    let now = time::OffsetDateTime::now_utc();
    let request = LegalRequest::parse(&body, mizan::kernel::solar_hijri::tehran_date(now)).expect("a valid request");
    let key = mizan::privacy::audit::SubjectKey::new(b"a-test-key-of-thirty-two-bytes!!").unwrap();
    let actor = Actor {
        id: mizan::kernel::ids::AccountId::new(),
        role: mizan::accounts::account::Role::Legal,
        source_ip: None,
    };
    let outcome = stores.export(&key, &request, actor, now).await;
    assert!(matches!(outcome, Err(ExportError::Audit(_))), "no audit record, no document");
}

/// The operator command the README documents: signs in (credentials from the environment here,
/// asked for on a terminal otherwise), writes the document to a private file, prints only the
/// audit id and the path.
#[tokio::test]
async fn p3_the_operator_command_writes_the_document_and_prints_only_the_audit_id_and_path() {
    let stack = Stack::connect().await;
    let (subject, bearer) = stack.signed_in_customer().await;
    let subject_id = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let (legal, _, legal_id) = person_with_role(&stack, "legal").await;
    let repo = mizan_e2e::repo_root();
    let out =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("legal-export-{}.json", uuid::Uuid::new_v4()));
    let run = std::process::Command::new(repo.join(".local/venv/bin/python"))
        .arg(repo.join("infra/ops/legal-export"))
        .args(["--authority", "دادسرای عمومی و انقلاب ناحیه ۲ تهران", "--reference", "۱۴۰۵/۹۹/الف"])
        .args(["--date", "۱۴۰۵/۰۹/۰۳", "--subject", "email", "--out"])
        .arg(&out)
        .env("MIZAN_LEGAL_SUBJECT", &subject.email)
        .env("MIZAN_LEGAL_EMAIL", &legal.email)
        .env("MIZAN_LEGAL_PASSWORD", &legal.password)
        .output()
        .expect("the operator command runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let printed = String::from_utf8_lossy(&run.stdout).into_owned();
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("the document")).unwrap();
    let audit_id = document["audit_id"].as_str().unwrap();
    assert_eq!(printed, format!("audit {audit_id}\ndocument {}\n", out.display()));
    assert_eq!(document["accounts"][0]["account_id"], subject_id);
    for secret in [&subject.email, &legal.email, &legal.password] {
        assert!(!printed.contains(secret.as_str()) && !String::from_utf8_lossy(&run.stderr).contains(secret.as_str()));
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600, "the document is private");
    let records = audit_records_of(&stack, &legal_id).await;
    assert_eq!(records.iter().map(|r| text(r, "audit_id")).collect::<Vec<_>>(), [audit_id]);
}

/// No route edits or deletes an audit record: the other methods are not routed (404 from the
/// router, as API Gateway answers) or refused by the function (405).
#[tokio::test]
async fn p3_no_route_edits_or_deletes_audit_records() {
    let stack = Stack::connect().await;
    let (legal, _) = with_role(&stack, "legal").await;
    let client = reqwest::Client::new();
    let record = uuid::Uuid::new_v4();
    for method in [reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE] {
        for path in [EXPORTS.to_owned(), format!("{EXPORTS}/{record}")] {
            let response = client
                .request(method.clone(), format!("{}{path}", stack.api))
                .bearer_auth(&legal)
                .json(&json!({ "outcome": "refused" }))
                .send()
                .await
                .expect("the API answers");
            let status = response.status().as_u16();
            assert!(matches!(status, 404 | 405), "{method} {path} answered {status}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The template (files only)
// ---------------------------------------------------------------------------------------------

fn untag(value: &Yaml) -> &Yaml {
    match value {
        Yaml::Tagged(tagged) => untag(&tagged.value),
        other => other,
    }
}

fn field<'a>(value: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    untag(value).as_mapping()?.get(key).map(untag)
}

fn strings(value: Option<&Yaml>) -> Vec<String> {
    match value.map(untag) {
        Some(Yaml::Sequence(items)) => items.iter().map(|item| format!("{:?}", untag(item))).collect(),
        Some(other) => vec![format!("{other:?}")],
        None => Vec::new(),
    }
}

/// No function may change or delete audit records: no Allow statement that could reach
/// AuditTable (naming it, or any resource) grants anything but PutItem and Query on it, and the
/// privacy function is explicitly denied the rest.
#[test]
fn p3_the_template_lets_no_function_edit_or_delete_audit_records() {
    let path = mizan_e2e::repo_root().join("infra/template.yaml");
    let template: Yaml = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resources = field(&template, "Resources").and_then(Yaml::as_mapping).unwrap();
    assert!(resources.contains_key("AuditTable"), "the template has an AuditTable");
    let audit = field(&template, "Resources").and_then(|r| field(r, "AuditTable")).unwrap();
    assert_eq!(field(audit, "DeletionPolicy").and_then(Yaml::as_str), Some("Retain"));
    let pitr = field(audit, "Properties")
        .and_then(|p| field(p, "PointInTimeRecoverySpecification"))
        .and_then(|p| field(p, "PointInTimeRecoveryEnabled"))
        .and_then(Yaml::as_bool);
    assert_eq!(pitr, Some(true));
    assert!(field(audit, "Properties").and_then(|p| field(p, "TimeToLiveSpecification")).is_none(), "kept");

    let mut problems = Vec::new();
    let mut denied = false;
    for (name, resource) in resources {
        let name = name.as_str().unwrap_or("?");
        let policies = field(resource, "Properties").and_then(|p| field(p, "Policies")).and_then(Yaml::as_sequence);
        for policy in policies.into_iter().flatten() {
            for statement in field(policy, "Statement").and_then(Yaml::as_sequence).into_iter().flatten() {
                let resources = strings(field(statement, "Resource"));
                let reaches_audit = resources.iter().any(|r| r.contains("AuditTable") || r.contains("\"*\""));
                let actions = strings(field(statement, "Action"));
                let effect = field(statement, "Effect").and_then(Yaml::as_str);
                if !reaches_audit {
                    continue;
                }
                if effect == Some("Deny") {
                    denied |= ["UpdateItem", "DeleteItem", "BatchWriteItem"]
                        .iter()
                        .all(|action| actions.iter().any(|a| a.contains(&format!("dynamodb:{action}"))));
                    continue;
                }
                for action in actions.iter().filter(|a| a.contains("dynamodb:")) {
                    if !(action.contains("dynamodb:PutItem") || action.contains("dynamodb:Query")) {
                        problems.push(format!("{name} is allowed {action} on {resources:?}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "audit records must never change:\n  {}", problems.join("\n  "));
    assert!(
        denied,
        "the privacy function is explicitly denied UpdateItem, DeleteItem and BatchWriteItem on AuditTable"
    );
}

/// An account made before phones were hashed for lookups has none: a request by its phone finds
/// nothing until the operator's backfill gives it one.
#[tokio::test]
async fn p3_the_operators_backfill_makes_an_older_account_answerable_by_phone() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let accounts = std::env::var("ACCOUNTS_TABLE").expect("ACCOUNTS_TABLE: run with infra/test");
    let older = stack.dynamodb().update_item().table_name(&accounts);
    older
        .key("pk", AttributeValue::S(format!("ACCOUNT#{account}")))
        .update_expression("REMOVE phone_lookup")
        .send()
        .await
        .expect("DynamoDB Local answers");
    let (legal, _) = with_role(&stack, "legal").await;
    let found = |answer: &mizan_e2e::Answer| answer.body["accounts"].as_array().map(Vec::len);
    let before = export(&stack, &legal, &request("phone", &customer.phone_e164)).await;
    assert_eq!(found(&before), Some(0), "{}", before.body);

    let repo = mizan_e2e::repo_root();
    let backfilled = std::process::Command::new(repo.join(".local/venv/bin/python"))
        .arg(repo.join("infra/ops/backfill-contact-lookups"))
        .output()
        .expect("backfill-contact-lookups runs");
    assert!(backfilled.status.success(), "{}", String::from_utf8_lossy(&backfilled.stderr));
    let printed = String::from_utf8_lossy(&backfilled.stdout);
    assert!(!printed.contains(&customer.phone_e164[3..]), "counts only: {printed}");

    let after = export(&stack, &legal, &request("phone", &customer.phone_e164)).await;
    assert_eq!(found(&after), Some(1), "{}", after.body);
    assert_eq!(after.body["accounts"][0]["account_id"], account.as_str());
}
