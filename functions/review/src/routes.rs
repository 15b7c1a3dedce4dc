//! The review function's routes: decode, ask the domain, encode.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use mizan::accounts::account::Role;
use mizan::kernel::clock::now;
use mizan::kernel::ids::ProductId;
use mizan::kernel::ids::ReviewId;
use mizan::kernel::paging::PageRequest;
use mizan::kernel::problem::{FieldError, Problem};
use mizan::privacy::ports::ReviewHistory;
use mizan::reviewing::moderation;
use mizan::reviewing::posting::{self, PostOutcome, Stores};
use mizan::reviewing::review::ReviewError;
use mizan::reviewing::review::{self, Change, Moderation, REVIEW_PAGES, Rating, Review, ReviewText, Visibility};
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::{Value, json};

use crate::Deps;

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    let path = path.trim_end_matches('/');
    match (req.method().as_str(), path) {
        ("GET", _) if path.ends_with("/reviews") && path.starts_with("/products/") => listing(deps, &req).await,
        ("POST", _) if path.ends_with("/reviews") && path.starts_with("/products/") => post(deps, &req).await,
        ("PATCH", _) if path.starts_with("/admin/reviews/") => moderate(deps, &req).await,
        _ => Err(Problem::not_found()),
    }
}

fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref().and_then(|params| params.first(name)).map(str::to_owned)
}

async fn listing(deps: &Deps, req: &Request) -> HttpResult {
    let product =
        path_param(req, "product_id").and_then(|id| ProductId::parse(&id).ok()).ok_or_else(Problem::not_found)?;
    let query = req.query_string_parameters_ref();
    let asked =
        PageRequest::parse(query.and_then(|q| q.first("limit")), query.and_then(|q| q.first("cursor")), REVIEW_PAGES)?;
    let page = deps.reviews.list(&product, asked).await?;
    let (sum, count) = deps.reviews.totals(&product).await?;
    http::json(
        StatusCode::OK,
        &json!({
            "product_id": product.as_str(),
            "review_count": count,
            "average_rating": review::average_hundredths(sum, count).map(|h| h as f64 / 100.0),
            "reviews": page.items.iter().map(public_view).collect::<Vec<_>>(),
            "next_cursor": page.next,
        }),
    )
}

async fn post(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let product =
        path_param(req, "product_id").and_then(|id| ProductId::parse(&id).ok()).ok_or_else(Problem::not_found)?;
    let body = http::json_object(req)?;
    let mut errors = Vec::new();
    let rating = body.required_integer("rating", 1..=5, &mut errors).and_then(Rating::new);
    let text = body.parsed("text", ReviewText::parse, &mut errors);
    let (Some(rating), Some(text)) = (rating, text) else { return Err(Problem::invalid(errors)) };
    let stores =
        Stores { reviews: &deps.reviews, products: &deps.products, accounts: &deps.accounts, orders: &deps.orders };
    match posting::post(&stores, session.sub, product, rating, text, http::source_ip(req), now()).await {
        Ok(PostOutcome::Posted(review)) => http::json(StatusCode::CREATED, &public_view(&review)),
        Ok(PostOutcome::UnknownProduct) => Err(Problem::not_found()),
        Ok(PostOutcome::EmailNotVerified) => Err(Problem::email_not_verified()),
        Ok(PostOutcome::TooMany) => Err(Problem::too_many_reviews()),
        Ok(PostOutcome::Moderated) => Err(Problem::review_moderated()),
        Err(error) => Err(review_failed(error)),
    }
}

async fn moderate(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    if session.role != Role::Staff {
        return Err(Problem::forbidden());
    }
    let id = path_param(req, "review_id").and_then(|id| ReviewId::parse(&id)).ok_or_else(Problem::not_found)?;
    let body = http::json_object(req)?;
    let mut errors = Vec::new();
    let reason = body.parsed("reason", ReviewText::parse, &mut errors);
    let moderation = match body.required_str("action", &mut errors) {
        Some("edit") => body
            .parsed("text", ReviewText::parse, &mut errors)
            .zip(reason)
            .map(|(text, reason)| Moderation::Edit { text, reason }),
        Some("hide") => reason.map(|reason| Moderation::Hide { reason }),
        Some(_) => {
            errors.push(FieldError::new(
                "action",
                "action-invalid",
                "کار باید «edit» (ویرایش) یا «hide» (پنهان کردن) باشد.",
            ));
            None
        }
        None => None,
    };
    let Some(moderation) = moderation.filter(|_| errors.is_empty()) else { return Err(Problem::invalid(errors)) };
    let review = moderation::moderate(&deps.reviews, id, session.sub, moderation, now())
        .await
        .map_err(review_failed)?
        .ok_or_else(Problem::not_found)?;
    let history = deps.reviews.history(id).await?;
    http::json(
        StatusCode::OK,
        &json!({ "review": staff_view(&review), "history": history.iter().map(|version| {
        let (changed_by, staff_id, reason) = match &version.change {
            Change::ByAuthor { .. } => ("author", None, None),
            Change::ByStaff { staff, reason } => ("staff", Some(staff.to_string()), Some(reason.as_str())),
        };
        json!({
            "version": version.number,
            "rating": version.rating,
            "text": version.text.as_str(),
            "visibility": visibility(version.visibility),
            "at": mizan::kernel::clock::timestamp(version.at),
            "changed_by": changed_by,
            "staff_id": staff_id,
            "reason": reason,
        })
    }).collect::<Vec<_>>() }),
    )
}

/// What anyone may see of a review: a display name, never who wrote it (P13).
fn public_view(review: &Review) -> Value {
    json!({
        "review_id": review.id,
        "display_name": review.display_name,
        "rating": review.rating,
        "text": review.text.as_str(),
        "posted_at": mizan::kernel::clock::timestamp(review.posted_at),
        "verified_buyer": review.verified_buyer,
        "edited_by_store": review.edited_by_store,
    })
}

/// What staff see: the review as published, where it stands, and whom it belongs to (P11).
fn staff_view(review: &Review) -> Value {
    let mut view = public_view(review);
    view["product_id"] = json!(review.product.as_str());
    view["author_account_id"] = json!(review.author);
    view["visibility"] = json!(visibility(review.visibility));
    view
}

fn visibility(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Published => "published",
        Visibility::Hidden => "hidden",
    }
}

fn review_failed(error: ReviewError) -> Problem {
    match error {
        ReviewError::Store(error) => error.into(),
        ReviewError::Contended => Problem::unavailable(),
    }
}
