//! Marketing end to end (P6, P7, P9): a campaign reaches verified contacts that consent, by
//! email with the RFC 8058 headers and a visible link; one click stops the next one; a
//! redelivered campaign or campaign page sends nobody a second copy. Campaigns go out page by
//! page through the campaign-pages queue (the local relay plays Lambda's SQS trigger); a test
//! waits for the record of the campaign's last page before it reads anyone's mail.
//!
//! A campaign goes to every consenting account in the table: cargo runs test binaries one at a
//! time, this binary's tests take turns, and each reads only its own customers' mail.

use aws_sdk_dynamodb::types::AttributeValue;
use mizan::accounts::ports::AccountStore;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_e2e::{Customer, Stack, link_token, sms_code};

/// A campaign reaches every consenting customer, this binary's other test's too: one at a time.
static ONE_CAMPAIGN_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
use serde_json::{Value, json};

fn campaign(subject: &str) -> (String, Value) {
    let event_id = uuid::Uuid::new_v4().to_string();
    let message = json!({
        "event_id": event_id, "occurred_at": "2026-11-25T09:00:00Z", "type": "CampaignPublished",
        "campaign_id": uuid::Uuid::new_v4(), "subject": subject, "text": "دانه‌های تازهٔ اتیوپی رسید."
    });
    let event = mizan_e2e::sns_event(&message);
    (event_id, event)
}

/// A customer with the given marketing choices; verified or not.
async fn customer(stack: &Stack, email_marketing: bool, verified: bool) -> Customer {
    with_phone(stack, Customer::fresh(), email_marketing, false, verified).await
}

async fn with_phone(
    stack: &Stack,
    customer: Customer,
    email_marketing: bool,
    sms_marketing: bool,
    verified: bool,
) -> Customer {
    let mut body = customer.signup_body();
    body["marketing"] = json!({ "email": email_marketing, "sms": sms_marketing });
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
    let _alone = ONE_CAMPAIGN_AT_A_TIME.lock().await;
    let stack = Stack::connect().await;
    let willing = customer(&stack, true, true).await;
    let unwilling = customer(&stack, false, true).await;
    let unverified = customer(&stack, true, false).await;
    let texted = with_phone(&stack, Customer::fresh(), false, true, true).await;
    // The local SNS treats numbers ending in 99 as opted out at the carrier.
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .chain(std::iter::repeat('5'))
        .take(5)
        .collect();
    let opted_out = Customer {
        phone_typed: format!("0912{suffix}99"),
        phone_e164: format!("+98912{suffix}99"),
        ..Customer::fresh()
    };
    let opted_out = with_phone(&stack, opted_out, false, true, true).await;

    let subject = format!("قهوهٔ تازه {}", uuid::Uuid::new_v4().simple());
    let (event_id, event) = campaign(&subject);
    for _ in 0..2 {
        // Delivered twice, as SNS may: the second delivery sends nobody anything.
        let answer = stack.invoke("notification", &event).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    stack.await_campaign(&event_id).await;
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
    let accounts = AccountsTable::new(stack.dynamodb().clone(), &stack.accounts_table);
    let email = mizan::accounts::contact::Email::parse(&willing.email).unwrap();
    let account = accounts.account_id_for(&email).await.unwrap().unwrap();
    assert!(
        !mizan_e2e::readable_in(&link, &account.to_string()),
        "P13: the link does not say whose it is, in clear or in base64: {link}"
    );
    assert!(headers.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(!body.is_empty());
    assert!(stack.raw_emails_to(&unwilling.email).await.is_empty(), "no consent, no marketing");
    assert!(stack.raw_emails_to(&unverified.email).await.is_empty(), "an unverified contact gets no marketing");
    let campaign_sms = |texts: Vec<String>| texts.iter().filter(|t| t.contains("دانه‌های تازهٔ اتیوپی رسید")).count();
    assert_eq!(campaign_sms(stack.sms_to(&texted.phone_e164).await), 1, "SMS consent on: one SMS");
    assert_eq!(campaign_sms(stack.sms_to(&opted_out.phone_e164).await), 0, "the carrier's opt-out list is honoured");

    // The mail client's one-click POST, to the local API at the link's path and query.
    let path = &link[link.find("/unsubscribe").expect("the unsubscribe path")..];
    let audience_before = audience_size(&stack).await;
    let clicked =
        stack.post_raw(path, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click".to_owned()).await;
    assert_eq!(clicked.status, 200);
    assert_eq!(audience_size(&stack).await, audience_before - 1, "no consent left: out of the campaign audience");

    let (next_id, next) = campaign(&format!("{subject} ۲"));
    assert_eq!(stack.invoke("notification", &next).await.status, 200);
    stack.await_campaign(&next_id).await;
    assert_eq!(stack.raw_emails_to(&willing.email).await.len(), 1, "the next campaign reaches nobody who left");
}

/// A run that dies midway leaves two kinds of claims: messages it sent (marked `sent`) and the
/// one it was sending (`sending`, gone stale). The retry skips the first and sends the second:
/// at most one copy before the retry, exactly one after it.
#[tokio::test]
async fn a_campaign_retried_after_a_crash_sends_each_customer_exactly_one_copy() {
    let _alone = ONE_CAMPAIGN_AT_A_TIME.lock().await;
    let stack = Stack::connect().await;
    let sent_before = customer(&stack, true, true).await;
    let interrupted = customer(&stack, true, true).await;
    let (event_id, event) = campaign(&format!("ادامهٔ کارزار {}", uuid::Uuid::new_v4().simple()));
    let table = std::env::var("DELIVERIES_TABLE").expect("run through infra/test");
    let stale = (time::OffsetDateTime::now_utc() - time::Duration::minutes(10)).unix_timestamp().to_string();
    for (customer, status) in [(&sent_before, "sent"), (&interrupted, "sending")] {
        let token = stack.post("/sessions", &json!({ "email": customer.email, "password": customer.password })).await;
        let bearer = token.body["token"].as_str().unwrap().to_owned();
        let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
        use aws_sdk_dynamodb::types::AttributeValue::{N, S};
        stack
            .dynamodb()
            .put_item()
            .table_name(&table)
            .item("pk", S(format!("DELIVERY#{event_id}#email#{account}")))
            .item("status", S(status.to_owned()))
            .item("claimed_at", N(stale.clone()))
            .item(
                "expires_at",
                N((time::OffsetDateTime::now_utc() + time::Duration::days(30)).unix_timestamp().to_string()),
            )
            .send()
            .await
            .unwrap();
    }
    assert_eq!(stack.invoke("notification", &event).await.status, 200, "the retry");
    stack.await_campaign(&event_id).await;
    assert!(stack.raw_emails_to(&sent_before.email).await.is_empty(), "sent before the crash: not again");
    assert_eq!(stack.raw_emails_to(&interrupted.email).await.len(), 1, "interrupted: sent by the retry, once");
}

/// A campaign larger than a page goes out page by page through the queue. The first page is
/// delivered twice, as SQS does when a run dies after sending and before the message is deleted:
/// nobody gets a second copy and the next page is handed on once.
#[tokio::test]
async fn p7_a_campaign_of_many_pages_reaches_every_consenting_customer_exactly_once() {
    use mizan::accounts::account::{MarketingConsent, NewAccount, TermsAcceptance, TermsVersion};
    use mizan::accounts::contact::{Email, IranMobile};
    use mizan::accounts::password::PasswordHash;
    use mizan::accounts::person::FullName;
    use mizan::accounts::verification::{Challenge, ContactKind};
    use mizan::kernel::ids::AccountId;

    let _alone = ONE_CAMPAIGN_AT_A_TIME.lock().await;
    let stack = Stack::connect().await;
    // Registered straight into the table, as signup and verification leave them (signing up
    // 150 customers through the API would spend a minute on password hashing).
    let accounts = AccountsTable::new(stack.dynamodb().clone(), &stack.accounts_table)
        .with_contact_lookup(stack.contact_lookup_key());
    let now = time::OffsetDateTime::now_utc();
    let customers: Vec<Customer> = (0..150).map(|_| Customer::fresh()).collect();
    futures::future::join_all(customers.iter().map(|customer| {
        let accounts = &accounts;
        async move {
            let challenge = |secret: &str| Challenge::new(secret.to_owned(), now, time::Duration::hours(1));
            let account = NewAccount {
                id: AccountId::new(),
                email: Email::parse(&customer.email).expect("a fresh email"),
                phone: IranMobile::parse(&customer.phone_e164).expect("a fresh mobile"),
                full_name: FullName::parse(&customer.full_name).expect("a name"),
                password_hash: PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
                terms: TermsAcceptance {
                    version: TermsVersion::parse("1404-01").expect("a version"),
                    accepted_at: now,
                    source_ip: None,
                },
                marketing: MarketingConsent { email: true, sms: false },
                email_challenge: challenge("email"),
                phone_challenge: challenge("phone"),
                created_at: now,
                unverified_until: now + mizan::accounts::account::UNVERIFIED_ACCOUNT_LIFETIME,
            };
            accounts.register(&account, &[]).await.expect("registered");
            assert!(
                accounts.confirm(account.id, ContactKind::Email, &account.email_challenge).await.expect("confirmed")
            );
        }
    }))
    .await;

    let (event_id, event) = campaign(&format!("کارزار چندصفحه‌ای {}", uuid::Uuid::new_v4().simple()));
    let first_page = json!({ "campaign": serde_json::from_str::<Value>(
        event["Records"][0]["Sns"]["Message"].as_str().expect("the SNS message")).expect("JSON"),
        "number": 1, "start": null });
    for _ in 0..2 {
        let answer = stack.invoke("notification", &mizan_e2e::sqs_event(&first_page)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let pages = stack.await_campaign(&event_id).await;
    // Pages follow the audience (the sparse index of consenting accounts), not the table, which
    // also holds every email guard, login counter and account without consent.
    let audience = audience_size(&stack).await;
    assert!(audience >= 150);
    assert_eq!(pages as usize, audience.div_ceil(100), "{audience} consenting accounts, 100 a page");
    let addresses: Vec<&str> = customers.iter().map(|c| c.email.as_str()).collect();
    let received = stack.raw_email_counts(&addresses).await;
    assert!(received.iter().all(|&n| n == 1), "each customer exactly one copy: {received:?}");
}

/// How many accounts the campaign audience index holds.
async fn audience_size(stack: &Stack) -> usize {
    use aws_sdk_dynamodb::types::{AttributeValue, Select};
    let mut count = 0;
    let mut start = None;
    loop {
        let page = stack
            .dynamodb()
            .query()
            .table_name(&stack.accounts_table)
            .index_name("ByCampaignAudience")
            .key_condition_expression("campaign_audience = :audience")
            .expression_attribute_values(":audience", AttributeValue::S("marketing".to_owned()))
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("DynamoDB Local answers");
        count += usize::try_from(page.count).unwrap_or_default();
        start = page.last_evaluated_key;
        if start.is_none() {
            return count;
        }
    }
}

/// The operator's command keeps the campaign in the outbox like any other event; the relay
/// publishes it, and it reaches a consenting customer.
#[tokio::test]
async fn p6_a_campaign_goes_out_only_when_the_operators_command_publishes_it() {
    let _alone = ONE_CAMPAIGN_AT_A_TIME.lock().await;
    let stack = Stack::connect().await;
    let willing = customer(&stack, true, true).await;
    // A campaign kept in the outbox as any function could keep it (under its event id): the
    // relay refuses it, since only an operator's key may carry one.
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let forged = mizan::kernel::events::Envelope::new(
        mizan::kernel::events::DomainEvent::CampaignPublished {
            campaign_id: uuid::Uuid::new_v4(),
            subject: "جعلی".to_owned(),
            text: "این پیام را هیچ گردانندهٔ فروشگاه نفرستاده است.".to_owned(),
        },
        now,
    );
    let outbox = std::env::var("OUTBOX_TABLE").expect("OUTBOX_TABLE: run with infra/test");
    let item = [
        ("event_id", AttributeValue::S(forged.event_id.to_string())),
        ("occurred_at", AttributeValue::N(now.unix_timestamp().to_string())),
        ("envelope", AttributeValue::S(serde_json::to_string(&forged).unwrap())),
        ("expires_at", AttributeValue::N((now.unix_timestamp() + 3600).to_string())),
    ];
    let put = stack.dynamodb().put_item().table_name(&outbox);
    put.set_item(Some(item.map(|(k, v)| (k.to_owned(), v)).into())).send().await.expect("DynamoDB Local answers");
    let repo = mizan_e2e::repo_root();
    let text = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("campaign-{}.txt", uuid::Uuid::new_v4()));
    std::fs::write(&text, "برشته‌کاری تازهٔ کلمبیا رسید.").expect("the campaign text is written");
    let subject = format!("کلمبیا {}", uuid::Uuid::new_v4().simple());
    let published = std::process::Command::new(repo.join(".local/venv/bin/python"))
        .arg(repo.join("infra/ops/publish-campaign"))
        .args([subject.as_str(), text.to_str().expect("a UTF-8 path")])
        .output()
        .expect("publish-campaign runs");
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
    let printed = String::from_utf8_lossy(&published.stdout);
    let event_id = printed.trim().rsplit(' ').next().expect("the event id is printed").to_owned();
    stack.await_campaign(&event_id).await;
    // Marketing mail is the only raw MIME a customer gets.
    assert_eq!(stack.raw_emails_to(&willing.email).await.len(), 1, "the campaign arrived once, the forged one never");
    let deliveries = std::env::var("DELIVERIES_TABLE").expect("DELIVERIES_TABLE: run with infra/test");
    assert_eq!(
        stack.items_containing(&deliveries, "pk", &forged.event_id.to_string()).await,
        0,
        "P6: not a page of it"
    );
}
