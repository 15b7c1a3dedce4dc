//! The payment function's routes: decode, ask the domain, encode.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Request, RequestExt};
use mizan::kernel::clock::now;
use mizan::kernel::ids::{OrderId, PaymentId};
use mizan::kernel::problem::{FieldError, Problem, Rejection};
use mizan::payments::paying::{self, ReturnStatus};
use mizan::payments::payment::Authority;
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::json;

use crate::Deps;
use crate::page;

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    let path = path.trim_end_matches('/');
    let method = req.method().as_str();
    if path.starts_with("/orders/") && path.ends_with("/payments") {
        return match method {
            "POST" => start(deps, &req).await,
            _ => Err(Problem::method_not_allowed()),
        };
    }
    if path.starts_with("/payments/zarinpal/callback/") {
        return match method {
            "GET" => gateway_return(deps, &req).await,
            _ => Err(Problem::method_not_allowed()),
        };
    }
    Err(Problem::not_found())
}

fn path_parameter<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.path_parameters_ref().and_then(|params| params.first(name))
}

/// `POST /orders/{order_id}/payments`: opens a payment of the caller's order; the storefront
/// sends the customer to `redirect_url`.
async fn start(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let order = path_parameter(req, "order_id").and_then(OrderId::parse).ok_or_else(Problem::not_found)?;
    let started = paying::start_payment(&deps.till, &deps.gateway, session.sub, order, now()).await?;
    let mut response = http::json(
        StatusCode::CREATED,
        &json!({ "payment_id": started.payment, "order_id": order, "redirect_url": started.redirect_url }),
    )?;
    if let Ok(location) = HeaderValue::from_str(&started.redirect_url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /payments/zarinpal/callback/{payment_id}?Authority=…&Status=OK|NOK`: the customer's
/// browser back from the gateway. No session: the payment id and its authority must match.
async fn gateway_return(deps: &Deps, req: &Request) -> HttpResult {
    let payment = path_parameter(req, "payment_id").and_then(PaymentId::parse).ok_or_else(Problem::not_found)?;
    let query = req.query_string_parameters_ref();
    let first = |name| query.and_then(|params| params.first(name));
    let mut errors = Vec::new();
    let authority = match first("Authority").map(Authority::parse) {
        Some(Ok(authority)) => Some(authority),
        Some(Err(rejection)) => {
            errors.push(rejection.at("Authority"));
            None
        }
        None => {
            errors.push(FieldError::missing("Authority"));
            None
        }
    };
    let status = match first("Status") {
        Some("OK") => Some(ReturnStatus::Ok),
        Some("NOK") => Some(ReturnStatus::NotOk),
        Some(_) => {
            errors.push(FieldError::new(
                "Status",
                "gateway-status-invalid",
                "وضعیت بازگشت از درگاه باید OK یا NOK باشد.",
            ));
            None
        }
        None => {
            errors.push(FieldError::missing("Status"));
            None
        }
    };
    let (Some(authority), Some(status)) = (authority, status) else { return Err(Problem::invalid(errors)) };
    let outcome = paying::return_from_gateway(&deps.till, &deps.gateway, payment, &authority, status, now()).await?;
    Ok(page::render(&outcome, &deps.storefront_url))
}
