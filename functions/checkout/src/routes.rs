//! The checkout function's routes: decode, ask the domain, encode.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use mizan::kernel::clock::now;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::OrderId;
use mizan::kernel::ports::{IpRecorder, RecordedRequest};
use mizan::kernel::problem::{Problem, Rejection};
use mizan::ordering::catalog::CatalogEntry;
use mizan::ordering::idempotency::{self, IdempotencyKey, Outcome, StoredResponse, WaitPolicy};
use mizan::ordering::order::Buyer;
use mizan_aws::dynamodb::orders::StoredOrder;
use mizan_aws::lambda::http::{self, HttpResult};
use mizan_aws::usecases::checkout::{self, Catalogue, CheckoutError, CheckoutOutcome};
use serde_json::{Value, json};

use crate::Deps;
use crate::forms;

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    let path = path.trim_end_matches('/');
    match (req.method().as_str(), path) {
        ("GET", "/products") => catalog(deps).await,
        ("POST", "/checkout") => check_out(deps, &req).await,
        ("GET", _) if path.starts_with("/orders/") => order(deps, &req).await,
        (_, "/products" | "/checkout") => Err(Problem::method_not_allowed()),
        _ => Err(Problem::not_found()),
    }
}

async fn catalog(deps: &Deps) -> HttpResult {
    let products = deps.products.list().await?;
    let entries: Vec<CatalogEntry> = products.iter().map(CatalogEntry::from).collect();
    http::json(StatusCode::OK, &json!({ "products": entries }))
}

async fn check_out(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let key = idempotency_key(req)?;
    let body = http::json_object(req)?;
    let request = forms::checkout(&body)?;
    let payload_hash = idempotency::payload_hash_json(&body.to_value());
    let record_id = format!("checkout#{}#{}", session.sub, key.as_str());
    let store = Catalogue { products: &deps.products, orders: &deps.orders, events: &deps.events, vat: &deps.vat };
    // Only the order's id is kept with the idempotency record: the order itself, with its
    // recipient (P15), stays in the orders table and is read afresh for every answer.
    let work = || async {
        match checkout::place_order(&store, session.sub, key.as_str(), &payload_hash, request, now()).await {
            Ok(CheckoutOutcome::Placed(order)) => {
                // P14. The order stands whatever happens here: a lost record is logged, never
                // turned into a failed checkout that the customer would retry.
                if let Some(ip) = http::source_ip(req)
                    && let Err(error) = deps.ip_records.record(session.sub, RecordedRequest::Checkout, ip, now()).await
                {
                    tracing::error!(order = %order.order.id, %error, "the checkout's IP could not be recorded");
                }
                Ok(StoredResponse { status: 201, body: json!({ "order_id": order.order.id }).to_string() })
            }
            Ok(CheckoutOutcome::UnknownProducts(lines)) => {
                Err(Problem::invalid(lines.into_iter().map(mizan::ordering::order::unknown_product).collect()))
            }
            Ok(CheckoutOutcome::OutOfStock(products)) => {
                tracing::info!(products = products.len(), "checkout refused: not enough stock");
                Err(Problem::out_of_stock())
            }
            Ok(CheckoutOutcome::KeyReused) => Err(Problem::idempotency_key_reused()),
            Err(error) => Err(checkout_failed(error)),
        }
    };
    let outcome = idempotency::run_once(
        &deps.idempotency,
        &record_id,
        &payload_hash,
        now(),
        remaining_time(req),
        WaitPolicy::default(),
        work,
    );
    let placed = match outcome.await? {
        Outcome::Fresh(response) | Outcome::Replayed(response) => response,
        Outcome::Mismatch => return Err(Problem::idempotency_key_reused()),
        Outcome::InProgress { retry_after_seconds } => return Err(Problem::request_in_progress(retry_after_seconds)),
        Outcome::Failed(problem) => return Err(problem),
    };
    let id = serde_json::from_str::<Value>(&placed.body)
        .ok()
        .and_then(|body| body["order_id"].as_str().and_then(OrderId::parse))
        .ok_or(StoreError::Corrupt("order_id"))?;
    match deps.orders.get(id).await? {
        Some(stored) if stored.order.account == session.sub => {
            http::json(StatusCode::from_u16(placed.status).unwrap_or(StatusCode::CREATED), &order_view(&stored))
        }
        _ => Err(StoreError::Corrupt("order").into()),
    }
}

async fn order(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let id = req.path_parameters_ref().and_then(|params| params.first("order_id")).and_then(OrderId::parse);
    let stored = match id {
        Some(id) => deps.orders.get(id).await?,
        None => None,
    };
    // Someone else's order is as absent as one that never existed: 404, not 403.
    match stored {
        Some(stored) if stored.order.account == session.sub => http::json(StatusCode::OK, &order_view(&stored)),
        _ => Err(Problem::not_found()),
    }
}

fn idempotency_key(req: &Request) -> Result<IdempotencyKey, Problem> {
    let raw = req.headers().get("idempotency-key").map(|value| value.to_str().unwrap_or("\u{0}"));
    IdempotencyKey::parse(raw.unwrap_or_default())
        .map_err(|rejection| Problem::invalid(vec![rejection.at("Idempotency-Key")]))
}

/// What the customer sees of their order: the buyer by name only (the identity codes they
/// typed are kept for the invoice, not echoed back), the recipient while it is kept (P15).
fn order_view(stored: &StoredOrder) -> Value {
    let order = &stored.order;
    let buyer = match &order.buyer {
        Buyer::Natural { full_name, .. } => json!({ "type": "natural", "full_name": full_name.as_str() }),
        Buyer::Legal { company_name, .. } => json!({ "type": "legal", "company_name": company_name.as_str() }),
    };
    json!({
        "order_id": order.id,
        "status": order.status.as_str(),
        "placed_at": mizan::kernel::clock::timestamp(order.placed_at),
        "buyer": buyer,
        "lines": order.priced.lines,
        "subtotal": order.priced.subtotal,
        "vat": order.priced.vat,
        "total": order.priced.total,
        "shipping": stored.recipient.as_ref().map(|recipient| json!({
            "recipient_name": recipient.name.as_str(),
            "recipient_phone": recipient.phone.as_e164(),
            "address": recipient.address.as_str(),
            "postal_code": recipient.postal_code.as_str(),
        })),
    })
}

fn checkout_failed(error: CheckoutError) -> Problem {
    match error {
        CheckoutError::Store(error) => error.into(),
        CheckoutError::Publish(error) => {
            tracing::error!(%error, "an order was stored but its event was not published; a retry publishes it");
            Problem::unavailable()
        }
        CheckoutError::Pricing(error) => {
            tracing::error!(%error, "an order could not be priced");
            Problem::internal()
        }
        CheckoutError::Foreign => {
            tracing::error!("an order id collided with another account's order");
            Problem::internal()
        }
    }
}

/// How long this invocation may still run: a checkout lock older than that belongs to a run
/// that died, and a retry may take it over.
fn remaining_time(req: &Request) -> std::time::Duration {
    let deadline_ms = req.lambda_context_ref().map(|context| context.deadline).unwrap_or(0);
    let now_ms = u64::try_from(now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    match deadline_ms.checked_sub(now_ms) {
        Some(left) if left > 0 => std::time::Duration::from_millis(left),
        // No deadline known (never on Lambda): the function's configured timeout.
        _ => std::time::Duration::from_secs(10),
    }
}
