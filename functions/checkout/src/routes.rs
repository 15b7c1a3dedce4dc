//! The checkout function's routes: decode, ask the domain, encode.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use mizan::kernel::clock::{now, timestamp};
use mizan::kernel::ids::OrderId;
use mizan::kernel::paging::{PageRequest, PageSizes};
use mizan::kernel::problem::{Problem, Rejection};
use mizan::ordering::catalog::CatalogEntry;
use mizan::ordering::checkout::{self, Checkout, CheckoutCall};
use mizan::ordering::customer_orders;
use mizan::ordering::idempotency::{self, IdempotencyKey};
use mizan::ordering::order::{Buyer, StoredOrder};
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::{Value, json};

use crate::Deps;
use crate::forms;

/// The pages of a customer's order history.
const ORDER_PAGES: PageSizes =
    PageSizes { max: 50, out_of_range: "تعداد در هر صفحه باید بین ۱ تا ۵۰ باشد." };

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    let path = path.trim_end_matches('/');
    match (req.method().as_str(), path) {
        ("GET", "/products") => catalog(deps).await,
        ("POST", "/checkout") => check_out(deps, &req).await,
        ("GET", "/me/orders") => my_orders(deps, &req).await,
        ("GET", _) if path.starts_with("/orders/") => order(deps, &req).await,
        (_, "/products" | "/checkout" | "/me/orders") => Err(Problem::method_not_allowed()),
        _ => Err(Problem::not_found()),
    }
}

async fn catalog(deps: &Deps) -> HttpResult {
    let products = deps.shop.products.list().await?;
    let entries: Vec<CatalogEntry> = products.iter().map(CatalogEntry::from).collect();
    http::json(StatusCode::OK, &json!({ "products": entries }))
}

async fn check_out(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let key = idempotency_key(req)?;
    let body = http::json_object(req)?;
    let request = forms::checkout(&body)?;
    let call = CheckoutCall {
        account: session.sub,
        key,
        payload_hash: idempotency::payload_hash_json(&body.to_value()),
        source_ip: http::source_ip(req),
        in_progress_for: remaining_time(req),
    };
    let store = Checkout { shop: &deps.shop, vat: &deps.vat, payment_window: deps.payment_window };
    let placed = checkout::check_out(&store, &deps.idempotency, &deps.ip_records, call, request, now()).await?;
    http::json(StatusCode::CREATED, &order_view(&placed))
}

async fn order(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let id = req.path_parameters_ref().and_then(|params| params.first("order_id")).and_then(OrderId::parse);
    let Some(id) = id else { return Err(Problem::not_found()) };
    // Someone else's order is as absent as one that never existed: 404, not 403.
    let stored = customer_orders::own_order(&deps.shop, session.sub, id).await?.ok_or_else(Problem::not_found)?;
    http::json(StatusCode::OK, &order_view(&stored))
}

/// The customer's own orders, newest first, a page at a time: what each is and where it stands.
async fn my_orders(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let query = req.query_string_parameters_ref();
    let asked =
        PageRequest::parse(query.and_then(|q| q.first("limit")), query.and_then(|q| q.first("cursor")), ORDER_PAGES)?;
    let page = deps.progress.of_customer(session.sub, asked).await?;
    let orders: Vec<Value> = page
        .items
        .iter()
        .map(|order| {
            let mut view = order.life_view();
            view["order_id"] = json!(order.id);
            view["placed_at"] = json!(timestamp(order.placed_at));
            view["total"] = json!(order.total);
            view["item_count"] = json!(order.lines.iter().map(|line| line.quantity).sum::<u32>());
            view
        })
        .collect();
    http::json(StatusCode::OK, &json!({ "orders": orders, "next_cursor": page.next }))
}

fn idempotency_key(req: &Request) -> Result<IdempotencyKey, Problem> {
    let raw = req.headers().get("idempotency-key").map(|value| value.to_str().unwrap_or("\u{0}"));
    IdempotencyKey::parse(raw.unwrap_or_default())
        .map_err(|rejection| Problem::invalid(vec![rejection.at("Idempotency-Key")]))
}

/// What the customer sees of their order: the buyer by name only (the identity codes they
/// typed are kept for the invoice, not echoed back), the recipient while it is kept (P15), and
/// its life: status, history, payment reference, tracking.
fn order_view(stored: &StoredOrder) -> Value {
    let order = &stored.order;
    let buyer = match &order.buyer {
        Buyer::Natural { full_name, .. } => json!({ "type": "natural", "full_name": full_name.as_str() }),
        Buyer::Legal { company_name, .. } => json!({ "type": "legal", "company_name": company_name.as_str() }),
    };
    let mut view = order.progress().life_view();
    let placed = json!({
        "order_id": order.id,
        "placed_at": timestamp(order.placed_at),
        "payment_due": timestamp(order.payment_due),
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
    });
    if let (Some(view), Value::Object(placed)) = (view.as_object_mut(), placed) {
        view.extend(placed);
    }
    view
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
