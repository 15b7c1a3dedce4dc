//! Privacy settings and one-click unsubscribe (P7): consent changes are recorded with their
//! source, a GET never unsubscribes, and only a genuine token changes anything.

use mizan::accounts::consent::Channel;
use mizan::accounts::consent::{Unsubscribe, UnsubscribeKeys};
use mizan::kernel::ids::AccountId;
use mizan_e2e::Stack;
use serde_json::json;

fn keys() -> UnsubscribeKeys {
    let secret = mizan_e2e::dev_secret("UnsubscribeKeySecret");
    UnsubscribeKeys::parse(&mizan_aws::lambda::secrets::unsubscribe_keys(&secret).unwrap()).unwrap()
}

fn grant(account: &str, channel: Channel) -> Unsubscribe {
    Unsubscribe { account: AccountId::parse(account).unwrap(), channel, issued_at: time::OffsetDateTime::now_utc() }
}

async fn history(stack: &Stack, account: &str) -> Vec<(String, bool, bool, String)> {
    let item = stack
        .dynamodb()
        .get_item()
        .table_name(&stack.accounts_table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ACCOUNT#{account}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let Some(changes) = item.get("consent_history") else { return Vec::new() };
    changes
        .as_l()
        .unwrap()
        .iter()
        .map(|change| {
            let change = change.as_m().unwrap();
            (
                change["channel"].as_s().unwrap().clone(),
                *change["old"].as_bool().unwrap(),
                *change["new"].as_bool().unwrap(),
                change["source"].as_s().unwrap().clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn p7_privacy_settings_change_consent_and_record_it() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let before = stack.get("/me/preferences", Some(&bearer)).await;
    assert_eq!(before.body, json!({ "marketing": { "email": true, "sms": false } }));

    let changed = stack.put_as("/me/preferences", &bearer, &json!({ "marketing": { "sms": true } })).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body, json!({ "marketing": { "email": true, "sms": true } }));
    assert_eq!(history(&stack, &account).await, [("sms".to_owned(), false, true, "settings".to_owned())]);

    assert_eq!(stack.get("/me/preferences", None).await.status, 401);
    let bad = stack.put_as("/me/preferences", &bearer, &json!({ "marketing": { "email": "no" } })).await;
    assert_eq!(bad.status, 400);
    assert_eq!(history(&stack, &account).await.len(), 1, "a refused change records nothing");
}

#[tokio::test]
async fn p7_one_click_unsubscribes_at_once_without_login_and_a_get_changes_nothing() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let token = keys().issue(grant(&account, Channel::Email));

    let page = stack.get(&format!("/unsubscribe?token={token}"), None).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().expect("an HTML page");
    assert!(html.contains(r#"dir="rtl""#) && html.contains("<form method=\"post\""));
    assert_eq!(
        stack.get("/me/preferences", Some(&bearer)).await.body["marketing"]["email"],
        true,
        "a GET changes nothing"
    );

    for _ in 0..2 {
        let clicked = stack
            .post_raw(
                &format!("/unsubscribe?token={token}"),
                "application/x-www-form-urlencoded",
                "List-Unsubscribe=One-Click".to_owned(),
            )
            .await;
        assert_eq!(clicked.status, 200, "{}", clicked.body);
        assert!(!clicked.headers.contains_key("location"), "never a redirect");
    }
    assert_eq!(stack.get("/me/preferences", Some(&bearer)).await.body["marketing"]["email"], false);
    assert_eq!(
        history(&stack, &account).await,
        [("email".to_owned(), true, false, "one-click".to_owned())],
        "repeating is harmless"
    );
}

#[tokio::test]
async fn p7_tampered_truncated_empty_random_and_retired_tokens_change_nothing() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let token = keys().issue(grant(&account, Channel::Email));
    // One character of the sealed account id changed.
    let parts: Vec<&str> = token.split('.').collect();
    let mut sealed: Vec<char> = parts[2].chars().collect();
    sealed[20] = if sealed[20] == 'x' { 'y' } else { 'x' };
    let tampered = format!("{}.{}.{}", parts[0], parts[1], sealed.into_iter().collect::<String>());
    assert_ne!(tampered, token);
    let retired = UnsubscribeKeys::parse("k0:a-retired-key-that-is-long-enough-32b")
        .unwrap()
        .issue(grant(&account, Channel::Email));
    for bad in [tampered.as_str(), &token[..token.len() - 4], "", "bm90LWEtdG9rZW4", &retired] {
        for answer in [
            stack.get(&format!("/unsubscribe?token={bad}"), None).await,
            stack
                .post_raw(
                    &format!("/unsubscribe?token={bad}"),
                    "application/x-www-form-urlencoded",
                    "List-Unsubscribe=One-Click".to_owned(),
                )
                .await,
        ] {
            assert_eq!(answer.status, 400, "{bad}");
            assert!(
                answer.body.as_str().is_some_and(|html| html.contains("پیوند نامعتبر است")),
                "a clear Persian page"
            );
        }
    }
    let no_token = stack
        .post_raw("/unsubscribe", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click".to_owned())
        .await;
    assert_eq!(no_token.status, 400);
    assert_eq!(stack.get("/me/preferences", Some(&bearer)).await.body["marketing"]["email"], true);
    assert!(history(&stack, &account).await.is_empty());
}

async fn one_click(stack: &Stack, token: &str) -> mizan_e2e::Answer {
    stack
        .post_raw(
            &format!("/unsubscribe?token={token}"),
            "application/x-www-form-urlencoded",
            "List-Unsubscribe=One-Click".to_owned(),
        )
        .await
}

#[tokio::test]
async fn p7_an_old_link_cannot_undo_a_later_opt_in_and_the_record_keeps_the_newest_changes() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let account = stack.get("/me", Some(&bearer)).await.body["account_id"].as_str().unwrap().to_owned();
    let old = keys().issue(Unsubscribe {
        issued_at: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        ..grant(&account, Channel::Email)
    });
    assert_eq!(one_click(&stack, &old).await.status, 200);
    let back_on = stack.put_as("/me/preferences", &bearer, &json!({ "marketing": { "email": true } })).await;
    assert_eq!(back_on.body["marketing"]["email"], true);

    let replayed = one_click(&stack, &old).await;
    assert_eq!(replayed.status, 200);
    assert!(replayed.body.as_str().is_some_and(|html| html.contains("این پیوند قدیمی است")), "{}", replayed.body);
    assert_eq!(stack.get("/me/preferences", Some(&bearer)).await.body["marketing"]["email"], true, "the opt-in stands");
    assert_eq!(one_click(&stack, &keys().issue(grant(&account, Channel::Email))).await.status, 200);
    assert_eq!(
        stack.get("/me/preferences", Some(&bearer)).await.body["marketing"]["email"],
        false,
        "a newer link works"
    );

    // Every change is recorded; the account keeps the newest of them, so it cannot outgrow an item.
    let kept = mizan::accounts::consent::HISTORY_KEPT;
    for on in (0..kept).map(|turn| turn % 2 == 0) {
        let answer = stack.put_as("/me/preferences", &bearer, &json!({ "marketing": { "sms": on } })).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let history = history(&stack, &account).await;
    assert_eq!(history.len(), kept);
    assert_eq!(history.last().unwrap(), &("sms".to_owned(), true, false, "settings".to_owned()));
    assert!(history.iter().all(|(channel, ..)| channel == "sms"), "the three oldest email changes gave way");
}
