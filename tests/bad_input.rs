//! Bad input answers a clear problem, changes nothing, and never panics or answers 500.

use mizan_e2e::{Customer, Stack};
use serde_json::{Value, json};

fn without(body: &Value, field: &str) -> Value {
    let mut body = body.clone();
    body.as_object_mut().expect("an object").remove(field);
    body
}

fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[field] = value;
    body
}

#[tokio::test]
async fn invalid_signups_get_field_errors_in_persian_and_write_nothing() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let valid = customer.signup_body();
    let cases: Vec<(Value, &str)> = vec![
        (without(&valid, "email"), "email"),
        (without(&valid, "phone"), "phone"),
        (without(&valid, "password"), "password"),
        (without(&valid, "full_name"), "full_name"),
        (without(&valid, "accept_terms"), "accept_terms"),
        (without(&valid, "terms_version"), "terms_version"),
        (with(&valid, "email", json!("not-an-email")), "email"),
        (with(&valid, "email", json!(42)), "email"),
        (with(&valid, "phone", json!("0812345678")), "phone"),
        (with(&valid, "phone", json!(9121234567u64)), "phone"),
        (with(&valid, "password", json!("short")), "password"),
        (with(&valid, "password", json!(customer.email)), "password"),
        (with(&valid, "password", json!("1234567890")), "password"),
        (with(&valid, "accept_terms", json!(false)), "accept_terms"),
        (with(&valid, "accept_terms", json!("yes")), "accept_terms"),
        (with(&valid, "marketing", json!({ "email": "yes" })), "marketing.email"),
        (with(&valid, "marketing", json!([true])), "marketing"),
        (with(&valid, "full_name", json!("\u{0000}\u{0007}")), "full_name"),
    ];
    for (body, field) in cases {
        let answer = stack.post("/signup", &body).await;
        assert_eq!(answer.status, 400, "{field}: {}", answer.body);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        assert_eq!(answer.body["code"], "validation-failed");
        let codes = answer.field_codes();
        assert!(codes.iter().any(|(f, _)| f == field), "{field} is named in {codes:?}");
        let messages: Vec<&str> =
            answer.body["errors"].as_array().unwrap().iter().filter_map(|e| e["message"].as_str()).collect();
        assert!(
            messages.iter().all(|m| m.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))),
            "Persian messages: {messages:?}"
        );
    }
    // Every mistake is reported at once.
    let all_wrong = json!({ "email": "x", "phone": "1", "password": "p", "full_name": "", "accept_terms": false, "terms_version": "" });
    let answer = stack.post("/signup", &all_wrong).await;
    assert_eq!(answer.field_codes().len(), 6, "{}", answer.body);

    assert!(stack.accounts_items_where("email", &customer.email).await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_refused() {
    let stack = Stack::connect().await;
    for (content_type, body) in [
        ("application/json", "{not json"),
        ("application/json", "[1, 2, 3]"),
        ("application/json", ""),
        ("application/json", "\"a string\""),
        ("application/json", "\u{FEFF}{}"),
    ] {
        let answer = stack.post_raw("/signup", content_type, body.to_owned()).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (400, Some("malformed-body")), "{body:?}");
    }
    let answer = stack.post_raw("/signup", "text/plain", "{}".to_owned()).await;
    assert_eq!(answer.status, 415);
}

#[tokio::test]
async fn p5_a_body_that_names_a_field_twice_means_nothing_and_writes_nothing() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let text = customer.signup_body().to_string();
    // Refusing the terms, then accepting them: which one a reader keeps is not ours to guess.
    let twice = text.replacen('{', r#"{"accept_terms": false, "#, 1);
    let answer = stack.post_raw("/signup", "application/json", twice).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (400, Some("malformed-body")), "{}", answer.body);
    assert!(stack.accounts_items_where("email", &customer.email).await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let stack = Stack::connect().await;
    let huge = json!({ "email": "a@example.com", "full_name": "ن".repeat(100_000) });
    let answer = stack.post("/signup", &huge).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (413, Some("payload-too-large")));
}

#[tokio::test]
async fn persian_and_arabic_indic_digits_are_accepted_and_normalised() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let arabic_indic: String = customer
        .phone_e164
        .trim_start_matches("+98")
        .chars()
        .map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap()).unwrap())
        .collect();
    let body = with(&customer.signup_body(), "phone", json!(format!("٠{arabic_indic}")));
    assert_eq!(stack.post("/signup", &body).await.status, 202);
    let account = &stack.accounts_items_where("email", &customer.email).await[0];
    assert_eq!(account["phone"].as_s().unwrap(), &customer.phone_e164);
}

#[tokio::test]
async fn fuzzed_bodies_never_answer_500() {
    let stack = Stack::connect().await;
    let samples = [
        json!(null),
        json!({}),
        json!({ "email": null, "phone": [], "password": {}, "full_name": 1.5, "accept_terms": null }),
        json!({ "email": "\u{202E}@\u{0000}.com", "phone": "+98۹۱۲", "password": "\u{FFFF}".repeat(200), "full_name": "\u{200C}\u{200C}", "accept_terms": true, "terms_version": "../../etc" }),
        json!({ "token": 12 }),
        json!({ "token": "a.b.c" }),
        json!({ "email": "x@y.z", "code": "۱۲۳۴۵۶۷" }),
        json!({ "email": "🙂", "password": "🙂" }),
    ];
    for path in ["/signup", "/verify/email", "/verify/phone", "/sessions"] {
        for body in &samples {
            let answer = stack.post(path, body).await;
            assert!((400..500).contains(&answer.status), "{path} {body}: {} {}", answer.status, answer.body);
        }
    }
}

/// A body that is not UTF-8 cannot pass through the local router (`cargo lambda watch` refuses it
/// before any function sees it), but API Gateway hands such a body over base64-encoded: every
/// function that reads a body is invoked with one, exactly so, for every sample route.
#[tokio::test]
async fn a_body_that_is_not_utf8_is_refused_by_every_function_that_reads_one() {
    use base64::Engine;
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let not_utf8 = base64::engine::general_purpose::STANDARD.encode(b"{\"email\":\"\xff\xfe\xfd\"}");
    let mut tried = 0;
    for entry in std::fs::read_dir(mizan_e2e::repo_root().join("events")).expect("the sample events") {
        let folder = entry.expect("a sample folder").path();
        let Some(function) = folder.file_name().and_then(|name| name.to_str()).map(str::to_owned) else { continue };
        if !folder.is_dir() {
            continue;
        }
        for sample in std::fs::read_dir(&folder).expect("a folder of samples") {
            let path = sample.expect("a sample").path();
            let text = std::fs::read_to_string(&path).expect("a readable sample");
            let Ok(mut event) = serde_json::from_str::<Value>(&text) else { continue };
            let route = event["routeKey"].as_str().unwrap_or_default().to_owned();
            if event["body"].as_str().is_none_or(str::is_empty) || route.is_empty() {
                continue;
            }
            event["body"] = json!(not_utf8);
            event["isBase64Encoded"] = json!(true);
            event["headers"]["authorization"] = json!(format!("Bearer {bearer}"));
            let invoked = stack.invoke(&function, &event).await;
            assert_eq!(invoked.status, 200, "{function} was invoked: {}", invoked.body);
            let status = invoked.body["statusCode"].as_u64().unwrap_or_default();
            // A staff route refuses a customer before it reads anything (403, or 404 where it
            // hides itself from those it is not for), and a route about an order or a product
            // that is not the caller's may say so first.
            let expected: &[u64] = match (route.contains(" /admin/"), route.contains('{')) {
                (true, _) => &[403, 404],
                (false, true) => &[400, 404],
                (false, false) => &[400],
            };
            assert!(expected.contains(&status), "{route} ({}): {status} {}", path.display(), invoked.body["body"]);
            tried += 1;
        }
    }
    assert!(tried >= 15, "the samples with bodies were found: {tried}");
}
