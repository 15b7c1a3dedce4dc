//! Reviews end to end: posting with the verified-buyer mark, the public listing without
//! personal data (P13), staff moderation with history (P10), authors kept (P11), limits.

use mizan::reviewing::ports::ReviewStore;
use std::collections::HashSet;

use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::ReviewId;
use mizan::reviewing::review::{Change, Rating, Review, ReviewText, Version, Visibility};
use mizan_aws::dynamodb::reviews::ReviewsTable;
use mizan_e2e::{Stack, checkout_body, natural_buyer};
use serde_json::{Value, json};

fn reviews_path(product: &str) -> String {
    format!("/products/{product}/reviews")
}

async fn patch_as(stack: &Stack, bearer: Option<&str>, path: &str, body: &Value) -> mizan_e2e::Answer {
    stack.patch_as(path, bearer, body).await
}

/// A signed-in staff member, made so with the operator command the README documents.
async fn staff(stack: &Stack) -> (String, String) {
    stack.staff_member("staff").await
}

#[tokio::test]
async fn p10_p11_p13_buyers_and_others_post_the_public_sees_display_names_and_staff_moderate_with_history() {
    let stack = Stack::connect().await;
    let product = stack.add_product(6_000_000, 10).await;
    let (buyer, buyer_token) = stack.signed_in_customer().await;
    let (other, other_token) = stack.signed_in_customer().await;
    let placed = stack.check_out(&buyer_token, &checkout_body(product.as_str(), 1, natural_buyer())).await;
    assert_eq!(placed.status, 201, "{}", placed.body);

    let path = reviews_path(product.as_str());
    let mine = stack
        .post_as(&path, &buyer_token, None, &json!({ "rating": 5, "text": "بهترین قهوه‌ای که تا حالا خریده‌ام." }))
        .await;
    assert_eq!(mine.status, 201, "{}", mine.body);
    let theirs =
        stack.post_as(&path, &other_token, None, &json!({ "rating": 2, "text": "برای من کمی تلخ بود." })).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);

    let listing = stack.get(&path, None).await;
    assert_eq!(listing.status, 200, "{}", listing.body);
    assert_eq!(listing.body["review_count"], 2);
    assert_eq!(listing.body["average_rating"], 3.5);
    let reviews = listing.body["reviews"].as_array().unwrap();
    let by_text = |t: &str| reviews.iter().find(|r| r["text"] == t).cloned().expect("listed");
    assert_eq!(by_text("بهترین قهوه‌ای که تا حالا خریده‌ام.")["verified_buyer"], true);
    assert_eq!(by_text("برای من کمی تلخ بود.")["verified_buyer"], false);
    assert!(reviews.iter().all(|r| r["display_name"] == "مریم ک."));
    let buyer_id = stack.get("/me", Some(&buyer_token)).await.body["account_id"].as_str().unwrap().to_owned();
    let other_id = stack.get("/me", Some(&other_token)).await.body["account_id"].as_str().unwrap().to_owned();
    let public = listing.body.to_string();
    let secrets: [&str; 8] = [
        &buyer.email,
        &other.email,
        &buyer.phone_e164,
        &other.phone_e164,
        "مریم کاظمی",
        "0076229645",
        &buyer_id,
        &other_id,
    ];
    for secret in secrets {
        assert!(!public.contains(secret), "the listing reveals {secret}");
    }

    let (staff_token, staff_id) = staff(&stack).await;
    let mine_id = mine.body["review_id"].as_str().unwrap().to_owned();
    let edited = patch_as(
        &stack,
        Some(&staff_token),
        &format!("/admin/reviews/{mine_id}"),
        &json!({ "action": "edit", "text": "بهترین قهوه‌ای که تا حالا خریده‌ام.", "reason": "حذف پیوند تبلیغاتی" }),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let history = edited.body["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "the original and the edit");
    assert_eq!((history[0]["changed_by"].as_str(), history[1]["changed_by"].as_str()), (Some("author"), Some("staff")));
    assert_eq!(history[1]["staff_id"], staff_id);
    assert_eq!(history[1]["reason"], "حذف پیوند تبلیغاتی");

    let theirs_id = theirs.body["review_id"].as_str().unwrap().to_owned();
    let hidden = patch_as(
        &stack,
        Some(&staff_token),
        &format!("/admin/reviews/{theirs_id}"),
        &json!({ "action": "hide", "reason": "توهین" }),
    )
    .await;
    assert_eq!(hidden.status, 200, "{}", hidden.body);
    assert_eq!(hidden.body["review"]["visibility"], "hidden");
    assert_eq!(hidden.body["review"]["author_account_id"], other_id, "a hidden review stays linked to its author");
    assert_eq!(hidden.body["history"][0]["text"], "برای من کمی تلخ بود.");

    // The authors cannot undo the store's moderation by posting again (P10).
    let repost = stack.post_as(&path, &buyer_token, None, &json!({ "rating": 5, "text": "متن اصلی دوباره" })).await;
    assert_eq!((repost.status, repost.body["code"].as_str()), (409, Some("review-moderated")));
    let repost = stack.post_as(&path, &other_token, None, &json!({ "rating": 2, "text": "دوباره همان" })).await;
    assert_eq!(repost.status, 409);

    let after = stack.get(&path, None).await;
    let reviews = after.body["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0]["edited_by_store"], true);
    assert_eq!((after.body["review_count"].as_u64(), after.body["average_rating"].as_f64()), (Some(1), Some(5.0)));
}

#[tokio::test]
async fn admin_routes_need_staff_and_bad_reviews_change_nothing() {
    let stack = Stack::connect().await;
    let product = stack.add_product(1_000_000, 1).await;
    let (_, token) = stack.signed_in_customer().await;
    let path = reviews_path(product.as_str());
    let review = stack.post_as(&path, &token, None, &json!({ "rating": 4, "text": "خوب بود." })).await;
    let admin = format!("/admin/reviews/{}", review.body["review_id"].as_str().unwrap());
    let hide = json!({ "action": "hide", "reason": "آزمون" });
    assert_eq!(patch_as(&stack, Some(&token), &admin, &hide).await.status, 403);
    assert_eq!(patch_as(&stack, None, &admin, &hide).await.status, 401);

    let empty = stack.add_product(1_000_000, 1).await;
    let empty_path = reviews_path(empty.as_str());
    for (body, field) in [
        (json!({ "rating": 0, "text": "خوب بود." }), "rating"),
        (json!({ "rating": 6, "text": "خوب بود." }), "rating"),
        (json!({ "rating": "5", "text": "خوب بود." }), "rating"),
        (json!({ "rating": 5, "text": "   " }), "text"),
        (json!({ "rating": 5, "text": "ق".repeat(2001) }), "text"),
        // A right-to-left override would make «100» read «001» to everyone else.
        (json!({ "rating": 5, "text": "قیمتش \u{202E}100 هزار بود." }), "text"),
        (json!({ "rating": 5 }), "text"),
    ] {
        let answer = stack.post_as(&empty_path, &token, None, &body).await;
        assert_eq!(answer.status, 400, "{field}: {}", answer.body);
        assert!(answer.field_codes().iter().any(|(f, _)| f == field), "{field}: {:?}", answer.field_codes());
    }
    let unknown =
        stack.post_as(&reviews_path("no-such-coffee"), &token, None, &json!({ "rating": 5, "text": "خوب بود." })).await;
    assert_eq!(unknown.status, 404);
    let listing = stack.get(&empty_path, None).await;
    assert_eq!(
        (listing.body["review_count"].as_u64(), listing.body["reviews"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    assert_eq!(stack.get(&format!("{empty_path}?cursor=not-a-cursor"), None).await.status, 400);
    // A cursor of the right shape with values this listing never wrote: refused, not a 500.
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({ "listed_at": "", "listed_product": empty.as_str(), "pk": "", "sk": "" }).to_string());
    assert_eq!(stack.get(&format!("{empty_path}?cursor={forged}"), None).await.status, 400);
}

#[tokio::test]
async fn posting_again_replaces_ones_own_review_and_the_hourly_limit_holds() {
    let stack = Stack::connect().await;
    let (_, token) = stack.signed_in_customer().await;
    let mut products = Vec::new();
    for _ in 0..6 {
        products.push(stack.add_product(1_000_000, 1).await);
    }
    let first = reviews_path(products[0].as_str());
    assert_eq!(stack.post_as(&first, &token, None, &json!({ "rating": 3, "text": "متوسط بود." })).await.status, 201);
    assert_eq!(
        stack.post_as(&first, &token, None, &json!({ "rating": 4, "text": "بار دوم بهتر بود." })).await.status,
        201
    );
    let listing = stack.get(&first, None).await;
    assert_eq!(listing.body["reviews"].as_array().unwrap().len(), 1, "one review per customer and product");
    assert_eq!(listing.body["reviews"][0]["text"], "بار دوم بهتر بود.");
    for product in &products[1..4] {
        let path = reviews_path(product.as_str());
        assert_eq!(stack.post_as(&path, &token, None, &json!({ "rating": 5, "text": "عالی بود." })).await.status, 201);
    }
    let limited = stack
        .post_as(&reviews_path(products[5].as_str()), &token, None, &json!({ "rating": 5, "text": "عالی بود." }))
        .await;
    assert_eq!((limited.status, limited.body["code"].as_str()), (429, Some("too-many-reviews")));
    assert!(limited.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn p13_two_first_posts_at_once_make_one_review_under_a_random_id() {
    let stack = Stack::connect().await;
    let product = stack.add_product(1_000_000, 1).await;
    let (_, token) = stack.signed_in_customer().await;
    let path = reviews_path(product.as_str());
    let (first, second) =
        (json!({ "rating": 2, "text": "یکی از دو." }), json!({ "rating": 4, "text": "دیگری از دو." }));
    let (one, other) =
        tokio::join!(stack.post_as(&path, &token, None, &first), stack.post_as(&path, &token, None, &second));
    assert_eq!((one.status, other.status), (201, 201), "{} {}", one.body, other.body);
    assert_eq!(one.body["review_id"], other.body["review_id"], "both land on the customer's one review");
    let id = one.body["review_id"].as_str().unwrap();
    assert_eq!(id.chars().nth(14), Some('4'), "a random (version 4) uuid, not one derived from author and product");
    let listing = stack.get(&path, None).await;
    assert_eq!(listing.body["reviews"].as_array().unwrap().len(), 1, "{}", listing.body);
}

#[tokio::test]
async fn pagination_returns_every_review_exactly_once() {
    let stack = Stack::connect().await;
    let product = stack.add_product(1_000_000, 1).await;
    let reviews = ReviewsTable::new(stack.dynamodb().clone(), std::env::var("REVIEWS_TABLE").unwrap());
    let base = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let mut written = HashSet::new();
    for i in 0..23 {
        let author = AccountId::new();
        let text = ReviewText::parse(&format!("دیدگاه شماره {i}")).unwrap();
        let review = Review {
            id: ReviewId::new(),
            product: product.clone(),
            author,
            display_name: "مریم ک.".into(),
            rating: Rating::new(4).unwrap(),
            text: text.clone(),
            verified_buyer: false,
            edited_by_store: false,
            visibility: Visibility::Published,
            // Some share a second, so ties are broken by id.
            posted_at: base - time::Duration::seconds(i / 3),
            version: 1,
        };
        let version = Version {
            number: 1,
            rating: review.rating,
            text,
            visibility: Visibility::Published,
            at: base,
            change: Change::ByAuthor { source_ip: None },
        };
        assert!(reviews.save(&review, None, &version, &[]).await.unwrap());
        written.insert(review.id.to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("{}?limit=5&cursor={cursor}", reviews_path(product.as_str())),
            None => format!("{}?limit=5", reviews_path(product.as_str())),
        };
        let page = stack.get(&path, None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["reviews"].as_array().unwrap();
        assert!(items.len() <= 5);
        seen.extend(
            items
                .iter()
                .map(|r| (r["review_id"].as_str().unwrap().to_owned(), r["posted_at"].as_str().unwrap().to_owned())),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let ids: Vec<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 23, "every review once");
    assert_eq!(ids.iter().map(|id| id.to_string()).collect::<HashSet<_>>(), written);
    assert!(seen.windows(2).all(|w| w[0].1 >= w[1].1), "newest first");
}
