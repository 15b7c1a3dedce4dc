//! Marketing end to end (P6, P7, P9): a campaign reaches verified contacts that consent, by
//! email with the RFC 8058 headers and a visible link; one click stops the next one; a
//! redelivered campaign sends nobody a second copy.
//!
//! A campaign goes to every consenting account in the table, so this binary's tests run one
//! after another (cargo runs test binaries one at a time) and read only their own customers' mail.

use mizan_e2e::{Customer, Stack, link_token, sms_code};
use serde_json::{Value, json};

fn campaign(subject: &str) -> (String, Value) {
    let event_id = uuid::Uuid::new_v4().to_string();
    let message = json!({
        "event_id": event_id, "occurred_at": "2026-11-25T09:00:00Z", "type": "CampaignPublished",
        "campaign_id": uuid::Uuid::new_v4(), "subject": subject, "text": "دانه‌های تازهٔ اتیوپی رسید."
    });
    let event = json!({ "Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:EventsTopic:campaign",
        "Sns": {
            "Type": "Notification", "MessageId": uuid::Uuid::new_v4(), "TopicArn": "arn:aws:sns:us-east-1:123456789012:EventsTopic",
            "Subject": null, "Message": message.to_string(), "Timestamp": "2026-11-25T09:00:00.000Z",
            "SignatureVersion": "1", "Signature": "", "SigningCertUrl": "", "UnsubscribeUrl": "",
            "MessageAttributes": { "type": { "Type": "String", "Value": "CampaignPublished" } }
        }
    }]});
    (event_id, event)
}

/// A customer with the given marketing choices; verified or not.
async fn customer(stack: &Stack, email_marketing: bool, verified: bool) -> Customer {
    let customer = Customer::fresh();
    let mut body = customer.signup_body();
    body["marketing"] = json!({ "email": email_marketing, "sms": false });
    assert_eq!(stack.post("/signup", &body).await.status, 202);
    if verified {
        let token = link_token(&stack.await_emails(&customer.email, 1).await[0].1);
        let code = sms_code(&stack.await_sms(&customer.phone_e164, 1).await[0]);
        assert_eq!(stack.post("/verify/email", &json!({ "token": token })).await.status, 200);
        assert_eq!(stack.post("/verify/phone", &json!({ "email": customer.email, "code": code })).await.status, 200);
    }
    customer
}

#[tokio::test]
async fn p6_p7_p9_a_campaign_reaches_consenting_verified_customers_once_and_one_click_stops_it() {
    let stack = Stack::connect().await;
    let willing = customer(&stack, true, true).await;
    let unwilling = customer(&stack, false, true).await;
    let unverified = customer(&stack, true, false).await;

    let subject = format!("قهوهٔ تازه {}", uuid::Uuid::new_v4().simple());
    let (_, event) = campaign(&subject);
    for _ in 0..2 {
        // Delivered twice, as SNS may: the second delivery sends nobody anything.
        let answer = stack.invoke("notification", &event).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let received = stack.raw_emails_to(&willing.email).await;
    assert_eq!(received.len(), 1, "one copy, however often the campaign is delivered");
    let raw = &received[0];
    let (headers, body) = raw.split_once("\r\n\r\n").expect("a MIME message");
    let link = headers
        .lines()
        .find_map(|line| line.strip_prefix("List-Unsubscribe: <")?.strip_suffix('>'))
        .expect("a List-Unsubscribe header")
        .to_owned();
    assert!(link.starts_with("https://"), "{link}");
    assert!(headers.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(!body.is_empty());
    assert!(stack.raw_emails_to(&unwilling.email).await.is_empty(), "no consent, no marketing");
    assert!(stack.raw_emails_to(&unverified.email).await.is_empty(), "an unverified contact gets no marketing");

    // The mail client's one-click POST, to the local API at the link's path and query.
    let path = &link[link.find("/unsubscribe").expect("the unsubscribe path")..];
    let clicked =
        stack.post_raw(path, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click".to_owned()).await;
    assert_eq!(clicked.status, 200);

    let (_, next) = campaign(&format!("{subject} ۲"));
    assert_eq!(stack.invoke("notification", &next).await.status, 200);
    assert_eq!(stack.raw_emails_to(&willing.email).await.len(), 1, "the next campaign reaches nobody who left");
}
