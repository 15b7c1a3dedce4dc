//! The fulfilment function's routes: decode, ask the domain, encode.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use mizan::accounts::account::Role;
use mizan::accounts::session::Claims;
use mizan::kernel::clock::{now, timestamp};
use mizan::kernel::ids::OrderId;
use mizan::kernel::paging::{PageRequest, PageSizes};
use mizan::kernel::problem::{FieldError, Problem};
use mizan::ordering::fulfilment;
use mizan::ordering::lifecycle::{Actor, Carrier, OrderProgress, OrderStatus, Reason, Shipment, Step, TrackingCode};
use mizan::ordering::order::Recipient;
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::{Value, json};

use crate::Deps;

/// The packing queue's pages.
const QUEUE_PAGES: PageSizes =
    PageSizes { max: 50, out_of_range: "تعداد در هر صفحه باید بین ۱ تا ۵۰ باشد." };

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["orders", _, "cancel"]) => cancel_own(deps, &req).await,
        ("GET", ["admin", "orders"]) => queue(deps, &req).await,
        ("POST", ["admin", "orders", _, action]) => staff_step(deps, &req, action).await,
        _ => Err(Problem::not_found()),
    }
}

fn order_id(req: &Request) -> Result<OrderId, Problem> {
    req.path_parameters_ref()
        .and_then(|params| params.first("order_id"))
        .and_then(OrderId::parse)
        .ok_or_else(Problem::not_found)
}

/// The session of a fulfilment account; anyone else finds no such routes (404, as for a
/// customer who guesses the admin paths).
async fn fulfilment_staff(deps: &Deps, req: &Request) -> Result<Claims, Problem> {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    match session.role {
        Role::Fulfilment => Ok(session),
        _ => Err(Problem::not_found()),
    }
}

async fn cancel_own(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let id = order_id(req)?;
    let by = Actor::Customer(session.sub);
    let order = fulfilment::advance(&deps.dispatch, id, Step::Cancel(None), by, deps.recipient_kept, now()).await?;
    http::json(StatusCode::OK, &order_view(&order, None))
}

async fn queue(deps: &Deps, req: &Request) -> HttpResult {
    fulfilment_staff(deps, req).await?;
    let query = req.query_string_parameters_ref();
    let status = query.and_then(|q| q.first("status")).unwrap_or("paid");
    let status = OrderStatus::parse(status).filter(|status| status.in_fulfilment()).ok_or_else(|| {
        Problem::invalid(vec![FieldError::new(
            "status",
            "status-invalid",
            "وضعیت باید «paid» (پرداخت‌شده)، «packed» (بسته‌بندی‌شده) یا «shipped» (ارسال‌شده) باشد.",
        )])
    })?;
    let asked =
        PageRequest::parse(query.and_then(|q| q.first("limit")), query.and_then(|q| q.first("cursor")), QUEUE_PAGES)?;
    let page = deps.dispatch.orders.queue(status, asked).await?;
    let orders: Vec<Value> =
        page.items.iter().map(|(order, recipient)| order_view(order, recipient.as_ref())).collect();
    http::json(StatusCode::OK, &json!({ "status": status.as_str(), "orders": orders, "next_cursor": page.next }))
}

async fn staff_step(deps: &Deps, req: &Request, action: &str) -> HttpResult {
    let session = fulfilment_staff(deps, req).await?;
    let id = order_id(req)?;
    let step = match action {
        "pack" => Step::Pack,
        "deliver" => Step::Deliver,
        "ship" => shipment(req)?,
        "cancel" => {
            let body = http::json_object(req)?;
            let mut errors = Vec::new();
            let reason = body.parsed("reason", Reason::parse, &mut errors);
            Step::Cancel(Some(reason.ok_or_else(|| Problem::invalid(errors))?))
        }
        _ => return Err(Problem::not_found()),
    };
    let order =
        fulfilment::advance(&deps.dispatch, id, step, Actor::Staff(session.sub), deps.recipient_kept, now()).await?;
    // The recipient is for the steps that still send the parcel (P15).
    let recipient = match order.status.in_fulfilment() {
        true => deps.dispatch.orders.recipient(order.id).await?,
        false => None,
    };
    http::json(StatusCode::OK, &order_view(&order, recipient.as_ref()))
}

fn shipment(req: &Request) -> Result<Step, Problem> {
    let body = http::json_object(req)?;
    let mut errors = Vec::new();
    let carrier = body.parsed("carrier", Carrier::parse, &mut errors);
    let tracking_code = body.parsed("tracking_code", TrackingCode::parse, &mut errors);
    match (carrier, tracking_code) {
        (Some(carrier), Some(tracking_code)) => Ok(Step::Ship(Shipment { carrier, tracking_code })),
        _ => Err(Problem::invalid(errors)),
    }
}

/// An order as its customer or the staff sending it see it; the recipient only for the staff,
/// while the order is being sent.
fn order_view(order: &OrderProgress, recipient: Option<&Recipient>) -> Value {
    let mut view = order.life_view();
    view["order_id"] = json!(order.id);
    view["placed_at"] = json!(timestamp(order.placed_at));
    view["total"] = json!(order.total);
    view["lines"] = json!(
        order
            .lines
            .iter()
            .map(|line| json!({ "product_id": line.product_id.as_str(), "quantity": line.quantity }))
            .collect::<Vec<_>>()
    );
    if let Some(recipient) = recipient {
        view["recipient"] = json!({
            "name": recipient.name.as_str(),
            "phone": recipient.phone.as_e164(),
            "address": recipient.address.as_str(),
            "postal_code": recipient.postal_code.as_str(),
        });
    }
    view
}
