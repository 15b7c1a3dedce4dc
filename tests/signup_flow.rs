//! Signup, verification and sessions, end to end: over HTTP through cargo-lambda's router,
//! messages through SNS, the relay, the notification function and moto's SES and SNS.

use mizan_e2e::{Customer, Stack, link_token, sms_code};
use serde_json::json;

/// Signs a fresh customer up and returns the email token and SMS code they received.
async fn sign_up(stack: &Stack, customer: &Customer) -> (String, String) {
    let answer = stack.post("/signup", &customer.signup_body()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let emails = stack.await_emails(&customer.email, 1).await;
    let sms = stack.await_sms(&customer.phone_e164, 1).await;
    (link_token(&emails[0].1), sms_code(&sms[0]))
}

async fn log_in(stack: &Stack, email: &str, password: &str) -> mizan_e2e::Answer {
    stack.post("/sessions", &json!({ "email": email, "password": password })).await
}

#[tokio::test]
async fn p2_p4_p9_a_customer_signs_up_verifies_both_contacts_and_logs_in() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();

    let (token, code) = sign_up(&stack, &customer).await;
    let emails = stack.emails_to(&customer.email).await;
    assert!(emails[0].1.contains("dir=\\\"rtl\\\"") || emails[0].1.contains("dir=\"rtl\""), "a Persian RTL email");
    assert!(!emails[0].1.contains(&customer.full_name), "the verification email prints nothing the signup typed");

    let verified = stack.post("/verify/email", &json!({ "token": token })).await;
    assert_eq!((verified.status, &verified.body), (200, &json!({ "email_verified": true })));
    let verified = stack.post("/verify/phone", &json!({ "email": customer.email, "code": code })).await;
    assert_eq!((verified.status, &verified.body), (200, &json!({ "phone_verified": true })));

    let session = log_in(&stack, &customer.email, &customer.password).await;
    assert_eq!(session.status, 201, "{}", session.body);
    assert_eq!(session.body["token_type"], "Bearer");
    let bearer = session.body["token"].as_str().expect("a token").to_owned();

    let me = stack.get("/me", Some(&bearer)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["email"], json!({ "address": customer.email, "verified": true, "pending": null }));
    assert_eq!(me.body["phone"], json!({ "number": customer.phone_e164, "verified": true, "pending": null }));
    assert_eq!(me.body["full_name"], customer.full_name);
    assert_eq!(me.body["marketing"], json!({ "email": true, "sms": false }));

    let wrong = log_in(&stack, &customer.email, "not-the-password-at-all").await;
    assert_eq!((wrong.status, wrong.body["code"].as_str()), (401, Some("invalid-credentials")));

    stack.assert_not_logged(&[
        &customer.email,
        &customer.phone_e164,
        &customer.password,
        &token,
        &code,
        &bearer,
        "مریم",
    ]);
}

#[tokio::test]
async fn a_name_carrying_a_link_or_an_address_is_refused_and_nothing_is_sent() {
    let stack = Stack::connect().await;
    let customer = Customer { full_name: "برنده شدید! example.com".to_owned(), ..Customer::fresh() };
    let refused = stack.post("/signup", &customer.signup_body()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(
        (refused.body["errors"][0]["field"].as_str(), refused.body["errors"][0]["code"].as_str()),
        (Some("full_name"), Some("full-name-link"))
    );
    assert!(stack.accounts_items_where("email", &customer.email).await.is_empty());
}

#[tokio::test]
async fn a_verification_link_works_once() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let (token, _) = sign_up(&stack, &customer).await;
    assert_eq!(stack.post("/verify/email", &json!({ "token": token })).await.status, 200);
    let again = stack.post("/verify/email", &json!({ "token": token })).await;
    assert_eq!((again.status, again.body["code"].as_str()), (400, Some("verification-failed")));
}

#[tokio::test]
async fn a_second_signup_with_the_same_email_answers_the_same_and_changes_nothing() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let first = stack.post("/signup", &customer.signup_body()).await;
    let (token, _) = (link_token(&stack.await_emails(&customer.email, 1).await[0].1), ());
    assert_eq!(stack.post("/verify/email", &json!({ "token": token })).await.status, 200);

    let intruder = Customer { email: customer.email.clone(), ..Customer::fresh() };
    let second = stack.post("/signup", &intruder.signup_body()).await;
    assert_eq!((second.status, &second.body), (first.status, &first.body), "the same answer");

    // The owner's password still works, the intruder's does not.
    assert_eq!(log_in(&stack, &customer.email, &customer.password).await.status, 201);
    assert_eq!(log_in(&stack, &customer.email, &intruder.password).await.status, 401);
    // Nothing was created: one account holds the email, and the intruder's phone got no SMS.
    assert_eq!(stack.accounts_items_where("email", &customer.email).await.len(), 1);
    // The owner (whose email is verified) is told, without any token in the notice.
    let emails = stack.await_emails(&customer.email, 2).await;
    assert!(!emails[1].1.contains("token="), "the notice carries no verification link");
    assert!(stack.sms_to(&intruder.phone_e164).await.is_empty());
}

#[tokio::test]
async fn p9_whoever_signs_up_first_with_someone_elses_email_ends_up_holding_nothing() {
    let stack = Stack::connect().await;
    let owner = Customer::fresh();
    let squatter = Customer { email: owner.email.clone(), ..Customer::fresh() };

    // The squatter signs up first with the owner's address: the link goes to the owner's inbox,
    // and the squatter's password opens nothing while the email is unverified.
    let first = stack.post("/signup", &squatter.signup_body()).await;
    let squatters_link = link_token(&stack.await_emails(&owner.email, 1).await[0].1);
    let refused = log_in(&stack, &owner.email, &squatter.password).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (403, Some("email-not-verified")));

    // The owner signs up: the same answer, a fresh link and code of the owner's own.
    let second = stack.post("/signup", &owner.signup_body()).await;
    assert_eq!((second.status, &second.body), (first.status, &first.body), "the same answer");
    let owners_link = link_token(&stack.await_emails(&owner.email, 2).await[1].1);
    let code = sms_code(&stack.await_sms(&owner.phone_e164, 1).await[0]);
    let stale = stack.post("/verify/email", &json!({ "token": squatters_link })).await;
    assert_eq!(
        (stale.status, stale.body["code"].as_str()),
        (400, Some("verification-failed")),
        "the first link is dead"
    );
    assert_eq!(stack.post("/verify/email", &json!({ "token": owners_link })).await.status, 200);
    let phone = stack.post("/verify/phone", &json!({ "email": owner.email, "code": code })).await;
    assert_eq!(phone.status, 200, "{}", phone.body);

    assert_eq!(log_in(&stack, &owner.email, &owner.password).await.status, 201, "the owner holds the account");
    assert_eq!(log_in(&stack, &owner.email, &squatter.password).await.status, 401, "the squatter holds nothing");
    let accounts = stack.accounts_items_where("email", &owner.email).await;
    assert_eq!(accounts.len(), 1);
    // Verified, the account and its email's guard are kept for good: neither expires any more.
    let id = accounts[0]["account_id"].as_s().expect("an account id").clone();
    let kept = stack.accounts_items_where("account_id", &id).await;
    assert_eq!(kept.len(), 2, "the account and its email's guard");
    assert!(kept.iter().all(|item| !item.contains_key("expires_at")), "{kept:?}");
}

#[tokio::test]
async fn p3_only_an_account_whose_owner_verified_the_email_and_reset_the_password_is_made_staff() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let (token, _) = sign_up(&stack, &customer).await;
    let refused = stack.grant_staff(&customer.email, "legal");
    assert!(!refused.status.success(), "granted an unverified account");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not verified its email"));
    assert_eq!(stack.post("/verify/email", &json!({ "token": token })).await.status, 200);
    // Verified, its password may still be the one a squatter chose before the owner clicked.
    assert!(!stack.grant_staff(&customer.email, "legal").status.success(), "granted before a reset");
    stack.reset_password(&customer).await;
    assert!(stack.grant_staff(&customer.email, "legal").status.success(), "granted once reset by the owner");
}

#[tokio::test]
async fn after_five_wrong_sms_codes_the_right_one_is_refused() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let (_, code) = sign_up(&stack, &customer).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let answer = stack.post("/verify/phone", &json!({ "email": customer.email, "code": wrong })).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (400, Some("verification-failed")));
    }
    let answer = stack.post("/verify/phone", &json!({ "email": customer.email, "code": code })).await;
    assert_eq!(answer.status, 400, "the code is dead");
}

#[tokio::test]
async fn p2_a_customer_who_missed_the_link_and_spent_the_code_asks_again_and_only_the_new_ones_work() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    let (old_link, old_code) = sign_up(&stack, &customer).await;
    let wrong = if old_code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        stack.post("/verify/phone", &json!({ "email": customer.email, "code": wrong })).await;
    }
    let email = json!({ "email": customer.email });
    for path in ["/verify/email/resend", "/verify/phone/resend"] {
        let again = stack.post(path, &email).await;
        assert_eq!((again.status, &again.body), (202, &json!({ "status": "verification_pending" })), "{path}");
    }
    let link = link_token(&stack.await_emails(&customer.email, 2).await[1].1);
    let code = sms_code(&stack.await_sms(&customer.phone_e164, 2).await[1]);
    assert_eq!(stack.post("/verify/email", &json!({ "token": old_link })).await.status, 400, "the old link");
    assert_eq!(stack.post("/verify/email", &json!({ "token": link })).await.status, 200);
    let phone = stack.post("/verify/phone", &json!({ "email": customer.email, "code": code })).await;
    assert_eq!(phone.status, 200, "a resent code counts its attempts afresh: {}", phone.body);
    assert_eq!(log_in(&stack, &customer.email, &customer.password).await.status, 201);
}

#[tokio::test]
async fn asking_again_answers_alike_for_unknown_and_verified_emails_and_sends_them_nothing() {
    let stack = Stack::connect().await;
    let (verified, _) = stack.signed_in_customer().await;
    let unknown = Customer::fresh();
    for customer in [&verified, &unknown] {
        for path in ["/verify/email/resend", "/verify/phone/resend"] {
            let again = stack.post(path, &json!({ "email": customer.email })).await;
            assert_eq!((again.status, &again.body), (202, &json!({ "status": "verification_pending" })));
        }
    }
    let malformed = stack.post("/verify/email/resend", &json!({ "email": "not an email" })).await;
    assert_eq!((malformed.status, malformed.body["errors"][0]["field"].as_str()), (400, Some("email")));
    // A message asked for later reaches its inbox through the same pipeline: by then these would have.
    let witness = Customer::fresh();
    sign_up(&stack, &witness).await;
    assert_eq!(stack.post("/verify/email/resend", &json!({ "email": witness.email })).await.status, 202);
    stack.await_emails(&witness.email, 2).await;
    assert_eq!(stack.emails_to(&verified.email).await.len(), 1, "only the first verification email");
    assert_eq!(stack.sms_to(&verified.phone_e164).await.len(), 1, "only the first code");
    assert!(stack.emails_to(&unknown.email).await.is_empty());
}

#[tokio::test]
async fn p12_logging_out_ends_this_session_and_logging_out_everywhere_ends_them_all() {
    let stack = Stack::connect().await;
    let (customer, phone) = stack.signed_in_customer().await;
    let session = || async {
        let answer = log_in(&stack, &customer.email, &customer.password).await;
        answer.body["token"].as_str().expect("a token").to_owned()
    };
    let (laptop, tablet) = (session().await, session().await);

    let out = stack.delete_as("/sessions/current", &phone).await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert_eq!(stack.get("/me", Some(&phone)).await.status, 401, "this session ended");
    assert_eq!(stack.get("/me", Some(&laptop)).await.status, 200, "the others go on");
    assert_eq!(stack.get("/me/orders", Some(&phone)).await.status, 401, "on every function");

    assert_eq!(stack.delete_as("/sessions", &laptop).await.status, 204);
    for ended in [&laptop, &tablet] {
        assert_eq!(stack.get("/me", Some(ended)).await.status, 401);
        assert_eq!(stack.get("/me/preferences", Some(ended)).await.status, 401);
    }
    assert_eq!(stack.delete_as("/sessions", &laptop).await.status, 401, "an ended session ends nothing");
    let fresh = session().await;
    assert_eq!(stack.get("/me", Some(&fresh)).await.status, 200, "a new login holds");
}

#[tokio::test]
async fn p12_a_forgotten_password_is_reset_once_by_a_link_to_the_verified_email_and_old_sessions_end() {
    let stack = Stack::connect().await;
    let (customer, old_session) = stack.signed_in_customer().await;
    let asked = stack.post("/password/reset", &json!({ "email": customer.email })).await;
    assert_eq!((asked.status, &asked.body), (202, &json!({ "status": "reset_requested" })));
    let unknown = stack.post("/password/reset", &json!({ "email": Customer::fresh().email })).await;
    assert_eq!((unknown.status, &unknown.body), (asked.status, &asked.body), "the same answer for an unknown email");
    let mail = stack.await_emails(&customer.email, 2).await;
    assert!(mail[1].1.contains("/password/reset?token="), "the link: {}", mail[1].1);
    let token = link_token(&mail[1].1);

    let weak = stack.post("/password/reset/confirm", &json!({ "token": token, "password": "short" })).await;
    assert_eq!((weak.status, weak.body["errors"][0]["field"].as_str()), (400, Some("password")));
    let new_password = format!("{}-renewed", customer.password);
    let done = stack.post("/password/reset/confirm", &json!({ "token": token, "password": new_password })).await;
    assert_eq!((done.status, &done.body), (200, &json!({ "status": "password_changed" })));
    let again =
        stack.post("/password/reset/confirm", &json!({ "token": token, "password": "another-one-entirely" })).await;
    assert_eq!((again.status, again.body["code"].as_str()), (400, Some("verification-failed")), "single use");

    assert_eq!(stack.get("/me", Some(&old_session)).await.status, 401, "an old session ends at the reset");
    assert_eq!(log_in(&stack, &customer.email, &customer.password).await.status, 401, "the old password");
    assert_eq!(log_in(&stack, &customer.email, &new_password).await.status, 201);
    stack.assert_not_logged(&[&token, &new_password]);
}

#[tokio::test]
async fn p12_a_customer_changes_the_password_and_every_other_session_ends() {
    let stack = Stack::connect().await;
    let (customer, this_device) = stack.signed_in_customer().await;
    let other_device =
        log_in(&stack, &customer.email, &customer.password).await.body["token"].as_str().expect("a token").to_owned();
    let new_password = format!("{}-changed", customer.password);
    let wrong = json!({ "current_password": "not-the-password-1", "new_password": new_password });
    let refused = stack.post_as("/me/password", &this_device, None, &wrong).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (403, Some("wrong-password")));
    let weak = json!({ "current_password": customer.password, "new_password": "short" });
    let refused = stack.post_as("/me/password", &this_device, None, &weak).await;
    assert_eq!((refused.status, refused.body["errors"][0]["field"].as_str()), (400, Some("new_password")));
    assert_eq!(stack.get("/me", Some(&other_device)).await.status, 200, "nothing changed yet");

    let change = json!({ "current_password": customer.password, "new_password": new_password });
    let changed = stack.post_as("/me/password", &this_device, None, &change).await;
    assert_eq!(changed.status, 201, "{}", changed.body);
    let fresh = changed.body["token"].as_str().expect("a fresh token");
    assert_eq!(stack.get("/me", Some(fresh)).await.status, 200, "this device goes on, with its fresh token");
    assert_eq!(stack.get("/me", Some(&other_device)).await.status, 401, "every other session ended");
    assert_eq!(stack.get("/me", Some(&this_device)).await.status, 401, "the old token too");
    assert_eq!(log_in(&stack, &customer.email, &customer.password).await.status, 401);
    assert_eq!(log_in(&stack, &customer.email, &new_password).await.status, 201);
    let notice = stack.await_email_about(&customer.email, "گذرواژهٔ حساب شما در قهوه میزان تغییر کرد").await;
    assert!(notice[0].1.contains("/password/reset"), "the notice says how to take the account back: {}", notice[0].1);
}

#[tokio::test]
async fn p9_a_new_email_becomes_the_accounts_only_once_proven_and_the_old_one_is_told() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let new_email = Customer::fresh().email;
    let wrong = json!({ "new_email": new_email, "password": "not-the-password-1" });
    let refused = stack.post_as("/me/email", &bearer, None, &wrong).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (403, Some("wrong-password")));
    let same = json!({ "new_email": customer.email.to_uppercase(), "password": customer.password });
    let refused = stack.post_as("/me/email", &bearer, None, &same).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (409, Some("contact-unchanged")));

    let change = json!({ "new_email": new_email, "password": customer.password });
    let asked = stack.post_as("/me/email", &bearer, None, &change).await;
    assert_eq!((asked.status, &asked.body), (202, &json!({ "status": "verification_pending" })));
    let told = stack.await_email_about(&customer.email, "درخواست تغییر ایمیل").await;
    assert!(!told[0].1.contains(&new_email), "the notice does not print the new address");
    let proof = stack.await_emails(&new_email, 1).await;
    assert!(!proof[0].1.contains(&customer.full_name), "the new address, unproven, is sent no name");
    assert!(proof[0].1.contains("/email/change?token="), "{}", proof[0].1);
    let token = link_token(&proof[0].1);
    let me = stack.get("/me", Some(&bearer)).await;
    assert_eq!(me.body["email"], json!({ "address": customer.email, "verified": true, "pending": new_email }));
    assert_eq!(log_in(&stack, &new_email, &customer.password).await.status, 401, "not the account's yet");

    let done = stack.post("/verify/new-email", &json!({ "token": token })).await;
    assert_eq!((done.status, &done.body), (200, &json!({ "email_verified": true })));
    let again = stack.post("/verify/new-email", &json!({ "token": token })).await;
    assert_eq!((again.status, again.body["code"].as_str()), (400, Some("verification-failed")), "once");
    let me = stack.get("/me", Some(&bearer)).await;
    assert_eq!(me.body["email"], json!({ "address": new_email, "verified": true, "pending": null }));
    assert_eq!(log_in(&stack, &new_email, &customer.password).await.status, 201);
    assert_eq!(log_in(&stack, &customer.email, &customer.password).await.status, 401, "the old email opens nothing");
    stack.assert_not_logged(&[&new_email, &token]);
}

#[tokio::test]
async fn p9_p12_an_email_change_stops_at_a_reset_and_never_takes_another_accounts_proven_email() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let (owner, _) = stack.signed_in_customer().await;
    let toward_owner = json!({ "new_email": owner.email, "password": customer.password });
    assert_eq!(stack.post_as("/me/email", &bearer, None, &toward_owner).await.status, 202, "nothing said here");
    let proof = stack.await_email_about(&owner.email, "تأیید ایمیل تازه").await;
    let taken = stack.post("/verify/new-email", &json!({ "token": link_token(&proof[0].1) })).await;
    assert_eq!((taken.status, taken.body["code"].as_str()), (409, Some("email-taken")));
    assert_eq!(log_in(&stack, &owner.email, &owner.password).await.status, 201, "the owner's account is whole");

    // Someone holding the session asks to move the account; its owner resets the password.
    let elsewhere = Customer::fresh().email;
    let change = json!({ "new_email": elsewhere, "password": customer.password });
    assert_eq!(stack.post_as("/me/email", &bearer, None, &change).await.status, 202);
    let token = link_token(&stack.await_emails(&elsewhere, 1).await[0].1);
    stack.reset_password(&customer).await;
    let late = stack.post("/verify/new-email", &json!({ "token": token })).await;
    assert_eq!((late.status, late.body["code"].as_str()), (400, Some("verification-failed")), "the reset dropped it");
}

#[tokio::test]
async fn p9_a_new_mobile_number_becomes_the_accounts_once_its_code_is_entered() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let new_phone = Customer::fresh();
    let change = json!({ "new_phone": new_phone.phone_typed, "password": customer.password });
    let asked = stack.post_as("/me/phone", &bearer, None, &change).await;
    assert_eq!((asked.status, &asked.body), (202, &json!({ "status": "verification_pending" })));
    stack.await_sms_containing(&customer.phone_e164, "تغییر شماره").await;
    let code = sms_code(&stack.await_sms(&new_phone.phone_e164, 1).await[0]);
    let me = stack.get("/me", Some(&bearer)).await;
    assert_eq!(me.body["phone"]["pending"], new_phone.phone_e164.as_str());

    let signup_route = stack.post("/verify/phone", &json!({ "email": customer.email, "code": code })).await;
    assert_eq!(signup_route.status, 400, "a change's code proves nothing else");
    let wrong = stack.post_as("/verify/new-phone", &bearer, None, &json!({ "code": "000000" })).await;
    assert_eq!((wrong.status, wrong.body["code"].as_str()), (400, Some("verification-failed")));
    let done = stack.post_as("/verify/new-phone", &bearer, None, &json!({ "code": code })).await;
    assert_eq!((done.status, &done.body), (200, &json!({ "phone_verified": true })));
    let me = stack.get("/me", Some(&bearer)).await;
    assert_eq!(me.body["phone"], json!({ "number": new_phone.phone_e164, "verified": true, "pending": null }));
    // The number's lookup hash moved with it: a legal request by the new number finds the account.
    let stored = &stack.accounts_items_where("email", &customer.email).await[0];
    let new_number = mizan::accounts::contact::IranMobile::parse(&new_phone.phone_e164).unwrap();
    assert_eq!(
        stored["phone_lookup"].as_s().ok(),
        Some(&stack.contact_lookup_key().phone(&new_number).as_str().to_owned())
    );
    stack.assert_not_logged(&[&new_phone.phone_e164, &code]);
}

#[tokio::test]
async fn p12_repeated_wrong_passwords_lock_an_email_known_or_not() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    sign_up(&stack, &customer).await;
    let stranger = Customer::fresh().email;
    for email in [&customer.email, &stranger] {
        for _ in 0..5 {
            assert_eq!(log_in(&stack, email, "wrong-password-123").await.status, 401);
        }
    }
    let locked = log_in(&stack, &customer.email, &customer.password).await;
    assert_eq!((locked.status, locked.body["code"].as_str()), (429, Some("too-many-attempts")));
    assert!(locked.headers.contains_key("retry-after"));
    let also_locked = log_in(&stack, &stranger, "wrong-password-123").await;
    assert_eq!(also_locked.status, 429, "an unknown email locks the same way: the lock reveals nothing");
}

#[tokio::test]
async fn p5_p12_p14_the_account_keeps_the_terms_acceptance_and_only_a_password_hash() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    sign_up(&stack, &customer).await;
    let items = stack.accounts_items_where("email", &customer.email).await;
    let account = &items[0];
    assert_eq!(account["terms_version"].as_s().unwrap(), "1404-01");
    assert!(account.contains_key("terms_accepted_at"));
    assert!(account["terms_source_ip"].as_s().is_ok_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()));
    let hash = account["password_hash"].as_s().unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!format!("{account:?}").contains(&customer.password));
}

#[tokio::test]
async fn me_refuses_missing_and_forged_tokens() {
    let stack = Stack::connect().await;
    assert_eq!(stack.get("/me", None).await.status, 401);
    let forged = stack.get("/me", Some("v1.eyJzdWIiOiJ4In0.AAAA")).await;
    assert_eq!((forged.status, forged.body["code"].as_str()), (401, Some("unauthorized")));
    assert_eq!(forged.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn p12_a_session_signed_with_any_key_but_the_stores_is_refused_by_every_function() {
    let stack = Stack::connect().await;
    let (_, bearer) = stack.signed_in_customer().await;
    let me = stack.get("/me", Some(&bearer)).await;
    let id = mizan::kernel::ids::AccountId::parse(me.body["account_id"].as_str().expect("an id")).expect("an id");
    // Under the store's own key id, for a real account, with a key of someone else's making.
    let kid = mizan_e2e::dev_secret("SessionPublicKeys").split(':').next().expect("a key id").to_owned();
    let stranger = mizan::accounts::session::SessionSigner::generate(&kid);
    let now = time::OffsetDateTime::now_utc();
    let forged = stranger.issue(id, mizan::accounts::account::Role::Customer, 0, now).token;
    for path in ["/me", "/me/orders", "/me/preferences"] {
        assert_eq!(stack.get(path, Some(&bearer)).await.status, 200, "{path} with the real session");
        assert_eq!(stack.get(path, Some(&forged)).await.status, 401, "{path} with a forged one");
    }
}

/// The operator's key command (README, Operations) stores a key the signup function can sign
/// with, and prints the public entry that checks it, never the private key.
#[tokio::test]
async fn p12_the_operators_session_key_command_stores_a_signing_key_and_prints_its_public_half() {
    let secret = format!("test/session-key-{}", uuid::Uuid::new_v4().simple());
    let repo = mizan_e2e::repo_root();
    let run = std::process::Command::new(repo.join(".local/venv/bin/python"))
        .arg(repo.join("infra/ops/session-keys"))
        .args(["--kid", "s9", "--secret", &secret])
        .output()
        .expect("the operator command runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let printed = String::from_utf8_lossy(&run.stdout).trim().to_owned();
    let aws = mizan_aws::lambda::config::aws().await;
    let stored = aws_sdk_secretsmanager::Client::new(&aws).get_secret_value().secret_id(&secret).send().await;
    let stored = stored.expect("the secret was stored").secret_string().expect("as text").to_owned();
    let signer = mizan::accounts::session::SessionSigner::from_secret(&stored).expect("a key signup can use");
    assert_eq!(printed, signer.public_entry());
    assert!(!printed.contains(&stored) && !stored.contains(&printed), "the private key is not printed");
    let keys = mizan::accounts::session::SessionKeys::parse(&printed).expect("a SessionPublicKeys entry");
    let now = time::OffsetDateTime::now_utc();
    let issued = signer.issue(mizan::kernel::ids::AccountId::new(), mizan::accounts::account::Role::Customer, 0, now);
    assert!(keys.verify(&issued.token, now).is_ok());
}

#[tokio::test]
async fn a_redelivered_event_sends_nothing_twice() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    sign_up(&stack, &customer).await;
    let guard = stack.accounts_items_where("pk", &format!("EMAIL#{}", customer.email)).await;
    let account_id = guard[0]["account_id"].as_s().unwrap().clone();
    let message = json!({
        "event_id": uuid::Uuid::new_v4(),
        "occurred_at": "2026-11-25T09:00:00Z",
        "type": "EmailVerificationRequested",
        "account_id": account_id,
        "token": "not-a-real-token",
    });
    let event = mizan_e2e::sns_event(&message);
    for _ in 0..3 {
        let answer = stack.invoke("notification", &event).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(stack.emails_to(&customer.email).await.len(), 2, "the signup's email and one for the redelivered event");
}

#[tokio::test]
async fn p1_an_account_keeps_only_what_signup_needs() {
    let stack = Stack::connect().await;
    let customer = Customer::fresh();
    sign_up(&stack, &customer).await;
    let items = stack.accounts_items_where("email", &customer.email).await;
    let mut stored: Vec<&str> = items[0].keys().map(String::as_str).collect();
    stored.sort_unstable();
    // Each has a purpose: who (name), how to reach them (P2, P9), proof of the terms (P5, P14),
    // the password's hash (P12), consent (P6, P7) and its place in the campaign audience index,
    // the keyed hash its phone is found by in a legal request (P3),
    // the open verification challenges, and when it goes unless its email is verified.
    let purposeful = [
        "account_id",
        "campaign_audience",
        "created_at",
        "email",
        "email_challenge_attempts",
        "email_challenge_expires_at",
        "email_challenge_hash",
        "email_verified",
        "expires_at",
        "full_name",
        "marketing_email",
        "marketing_sms",
        "password_hash",
        "phone",
        "phone_challenge_attempts",
        "phone_challenge_expires_at",
        "phone_challenge_hash",
        "phone_lookup",
        "phone_verified",
        "pk",
        "role",
        "terms_accepted_at",
        "terms_source_ip",
        "terms_version",
    ];
    assert_eq!(stored, purposeful, "a new attribute needs a purpose before it is collected");
}
