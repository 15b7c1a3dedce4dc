//! Closing an account end to end: the password re-entered; then sessions end, login fails,
//! marketing and every other message stop, profile and contacts are gone from the table, the
//! email is free again; orders stay (tax law). And a session whose role changed ends too.

use aws_sdk_dynamodb::types::AttributeValue;
use mizan_e2e::{Stack, checkout_body, natural_buyer};
use serde_json::json;

async fn account_item(stack: &Stack, key: String) -> Option<std::collections::HashMap<String, AttributeValue>> {
    stack
        .dynamodb()
        .get_item()
        .table_name(&stack.accounts_table)
        .key("pk", AttributeValue::S(key))
        .consistent_read(true)
        .send()
        .await
        .expect("DynamoDB Local answers")
        .item
}

#[tokio::test]
async fn p7_p12_a_closed_account_ends_its_sessions_and_erases_profile_and_contacts_but_orders_stay() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().expect("an id").to_owned();
    let product = stack.add_product(1_000_000, 5).await;
    let placed = stack.check_out(&bearer, &checkout_body(product.as_str(), 1, natural_buyer())).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();

    // The password is asked again, and a wrong one changes nothing.
    let missing = stack.post_as("/me/closure", &bearer, None, &json!({})).await;
    assert_eq!((missing.status, missing.body["code"].as_str()), (400, Some("validation-failed")));
    let wrong = stack.post_as("/me/closure", &bearer, None, &json!({ "password": "not-the-password-1" })).await;
    assert_eq!((wrong.status, wrong.body["code"].as_str()), (403, Some("wrong-password")), "{}", wrong.body);
    assert_eq!(stack.get("/me", Some(&bearer)).await.status, 200, "still open");

    let closed = stack.post_as("/me/closure", &bearer, None, &json!({ "password": customer.password })).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.body["status"], "closed");

    // Every session of the account ends, on every function.
    assert_eq!(stack.get("/me", Some(&bearer)).await.status, 401);
    assert_eq!(stack.get(&format!("/orders/{order_id}"), Some(&bearer)).await.status, 401);
    assert_eq!(stack.get("/me/preferences", Some(&bearer)).await.status, 401);
    let again = stack.post_as("/me/closure", &bearer, None, &json!({ "password": customer.password })).await;
    assert_eq!(again.status, 401, "closing twice: the session ended with the account");
    let login = stack.post("/sessions", &json!({ "email": customer.email, "password": customer.password })).await;
    assert_eq!(login.status, 401, "{}", login.body);

    // Profile and contacts are erased; what remains of the account says when, and keeps the
    // keyed hashes of its last contacts for legal requests (P3), never the contacts.
    assert!(account_item(&stack, format!("ACCOUNT#{account}")).await.is_none());
    assert!(account_item(&stack, format!("EMAIL#{}", customer.email)).await.is_none());
    let record = account_item(&stack, format!("CLOSED#{account}")).await.expect("the closure is recorded");
    let mut kept: Vec<&str> = record.keys().map(String::as_str).collect();
    kept.sort_unstable();
    assert_eq!(kept, ["account_id", "closed_at", "email_lookup", "phone_lookup", "pk"]);
    assert_eq!(stack.items_containing(&stack.accounts_table, "email", &customer.email).await, 0);

    // The order stays, as tax law requires.
    let orders = stack
        .dynamodb()
        .get_item()
        .table_name(&stack.orders_table)
        .key("pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .send()
        .await
        .expect("DynamoDB Local answers");
    assert!(orders.item.is_some(), "orders are kept");

    // No message reaches the closed account's contacts, whatever is published about it.
    let emails_before = stack.emails_to(&customer.email).await.len();
    let sms_before = stack.sms_to(&customer.phone_e164).await.len();
    let late = mizan_e2e::sns_event(&json!({
        "event_id": uuid::Uuid::new_v4(), "occurred_at": "2026-11-25T09:00:00Z", "type": "OrderPlaced",
        "order_id": order_id, "account_id": account, "total": 1_100_000
    }));
    assert_eq!(stack.invoke("notification", &late).await.status, 200);
    assert_eq!(stack.emails_to(&customer.email).await.len(), emails_before);
    assert_eq!(stack.sms_to(&customer.phone_e164).await.len(), sms_before);

    // The email is free to sign up afresh.
    let signup = stack.post("/signup", &customer.signup_body()).await;
    assert_eq!(signup.status, 202, "{}", signup.body);
    let emails = stack.await_emails(&customer.email, emails_before + 1).await;
    assert!(emails.last().is_some_and(|(subject, _)| !subject.is_empty()), "a verification email, for the new account");
}

/// Sessions carry the role they were issued with; a change of role ends them, so withdrawing
/// staff rights takes effect at once rather than when the token expires.
#[tokio::test]
async fn a_session_ends_when_its_accounts_role_changes() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().expect("an id").to_owned();
    stack
        .dynamodb()
        .update_item()
        .table_name(&stack.accounts_table)
        .key("pk", AttributeValue::S(format!("ACCOUNT#{account}")))
        .update_expression("SET #role = :staff")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":staff", AttributeValue::S("staff".to_owned()))
        .send()
        .await
        .expect("DynamoDB Local answers");
    assert_eq!(stack.get("/me", Some(&bearer)).await.status, 401, "a customer's session of a staff account");
    assert_eq!(stack.get("/me/preferences", Some(&bearer)).await.status, 401);
}
