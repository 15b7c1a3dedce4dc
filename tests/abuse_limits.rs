//! Abuse limits end to end (P4): one client address cannot make the store send SMS and emails
//! without end, nor lock many customers out by guessing their passwords. The local router reports
//! every caller as 127.0.0.1, which the local stack exempts; these tests invoke the signup
//! function directly as API Gateway would, from addresses of their own.

use std::net::{IpAddr, Ipv4Addr};

use futures::{StreamExt, stream};
use mizan::accounts::abuse_limits::AbuseLimits;
use mizan_e2e::{Answer, Customer, Stack};
use serde_json::json;

/// The limits the stack runs with (the template's defaults).
fn limits() -> AbuseLimits {
    let json = std::env::var("ABUSE_LIMITS").expect("run through infra/test");
    AbuseLimits::parse(&json, "").expect("the stack's limits")
}

/// An address of the benchmarking range (198.18.0.0/15) no other test uses.
fn fresh_address() -> IpAddr {
    let [a, b, ..] = uuid::Uuid::new_v4().into_bytes();
    IpAddr::V4(Ipv4Addr::new(198, 18 + (a & 1), b, a | 1))
}

fn retry_after(answer: &Answer) -> Option<u64> {
    answer.headers.get("retry-after")?.to_str().ok()?.parse().ok()
}

#[tokio::test]
async fn p4_a_hundred_signups_from_one_address_get_the_configured_number_and_no_sms_beyond_it() {
    let stack = Stack::connect().await;
    let allowed = usize::try_from(limits().signups_per_address.max).expect("a small number");
    let address = fresh_address();
    let customers: Vec<Customer> = (0..100).map(|_| Customer::fresh()).collect();
    let mut answers = Vec::new();
    for customer in &customers {
        answers.push(stack.post_from("signup", "/signup", &customer.signup_body(), address).await);
    }
    let accepted: Vec<&Customer> =
        customers.iter().zip(&answers).filter(|(_, answer)| answer.status == 202).map(|(c, _)| c).collect();
    assert_eq!(accepted.len(), allowed, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    for refused in answers.iter().filter(|answer| answer.status != 202) {
        assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("too-many-requests")));
        assert!(retry_after(refused).is_some_and(|seconds| (1..=3600).contains(&seconds)), "{:?}", refused.headers);
    }
    // The accepted signups' SMS arrive; by then a refused one's would have too: there is none.
    for customer in &accepted {
        stack.await_sms(&customer.phone_e164, 1).await;
    }
    for customer in customers.iter().filter(|c| !accepted.iter().any(|a| a.email == c.email)) {
        assert!(stack.sms_to(&customer.phone_e164).await.is_empty(), "an SMS beyond the limit");
        assert!(stack.emails_to(&customer.email).await.is_empty(), "an email beyond the limit");
    }
}

#[tokio::test]
async fn p12_one_address_guessing_passwords_is_stopped_before_it_locks_anyone_out() {
    let stack = Stack::connect().await;
    let allowed = usize::try_from(limits().failed_logins_per_address.max).expect("a small number");
    let customers: Vec<Customer> =
        stream::iter(0..20).map(|_| stack.signed_in_customer()).buffer_unordered(5).map(|(c, _)| c).collect().await;
    let address = fresh_address();
    let mut statuses = Vec::new();
    // Round after round over the twenty emails, five wrong passwords each: a hundred guesses.
    for _ in 0..5 {
        for customer in &customers {
            let guess = json!({ "email": customer.email, "password": "not-the-password-1" });
            let answer = stack.post_from("signup", "/sessions", &guess, address).await;
            if answer.status == 429 {
                assert!(retry_after(&answer).is_some(), "{:?}", answer.headers);
            }
            statuses.push(answer.status);
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), allowed.min(100), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 100 - allowed.min(100));
    // Each email took at most a few of those guesses: its owner logs in.
    for customer in &customers {
        let login = stack.post("/sessions", &json!({ "email": customer.email, "password": customer.password })).await;
        assert_eq!(login.status, 201, "{}", login.body);
    }
}
