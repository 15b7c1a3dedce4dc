//! The invoice function's routes: the invoice (JSON, or a printable Persian page) and the VAT
//! certificate, to the order's owner only.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Request, RequestExt};
use mizan::accounts::account::Role;
use mizan::accounts::session::Claims;
use mizan::invoicing::invoice::{INVOICE_PATTERN, INVOICE_TYPE, Invoice, InvoiceKind, PAYMENT_METHOD_GATEWAY};
use mizan::invoicing::ports::TaxState;
use mizan::invoicing::tax_corrections::{self, Corrected};
use mizan::invoicing::tax_id::TaxId;
use mizan::invoicing::{access, tax_reporting};
use mizan::kernel::clock::now;
use mizan::kernel::ids::{AccountId, OrderId};
use mizan::kernel::paging::{PageRequest, PageSizes};
use mizan::kernel::persian_format::persian_digits;
use mizan::kernel::problem::{FieldError, Problem};
use mizan::ordering::order::Buyer;
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::{Value, json};

use crate::{Deps, page};

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    let path = path.trim_end_matches('/');
    match (req.method().as_str(), path) {
        ("GET", "/admin/invoices") => failed_invoices(deps, &req).await,
        ("POST", _) if path.starts_with("/admin/invoices/") && path.ends_with("/corrections") => {
            correct(deps, &req).await
        }
        ("GET", _) if path.ends_with("/invoice") => invoice(deps, &req).await,
        ("POST", _) if path.ends_with("/vat-certificate") => certificate(deps, &req).await,
        (_, _) if path.ends_with("/invoice") || path.ends_with("/vat-certificate") => {
            Err(Problem::method_not_allowed())
        }
        _ => Err(Problem::not_found()),
    }
}

const FAILED_PAGES: PageSizes =
    PageSizes { max: 100, out_of_range: "تعداد در هر صفحه باید بین ۱ تا ۱۰۰ باشد." };

/// The session of a finance account; anyone else finds no such routes (404, as for a customer
/// who guesses the admin paths).
async fn finance_staff(deps: &Deps, req: &Request) -> Result<Claims, Problem> {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    match session.role {
        Role::Finance => Ok(session),
        _ => Err(Problem::not_found()),
    }
}

/// The invoices the tax system rejected, for a finance account.
async fn failed_invoices(deps: &Deps, req: &Request) -> HttpResult {
    finance_staff(deps, req).await?;
    let query = req.query_string_parameters_ref();
    if query.and_then(|q| q.first("tax_status")) != Some("failed") {
        let error = FieldError::new("tax_status", "tax-status-invalid", "وضعیت مالیاتی باید «failed» (ردشده) باشد.");
        return Err(Problem::invalid(vec![error]));
    }
    let asked =
        PageRequest::parse(query.and_then(|q| q.first("limit")), query.and_then(|q| q.first("cursor")), FAILED_PAGES)?;
    let page = tax_reporting::failed_invoices(&deps.invoices, asked).await?;
    let invoices: Vec<Value> = page
        .items
        .iter()
        .map(|failed| {
            json!({
                "order_id": failed.order,
                "kind": failed.kind.as_str(),
                "serial": failed.serial,
                "tax_id": failed.tax_id,
                "reference": failed.reference.as_ref().map(|r| r.0.as_str()),
                "errors": failed.errors,
            })
        })
        .collect();
    http::json(StatusCode::OK, &json!({ "tax_status": "failed", "invoices": invoices, "next_cursor": page.next }))
}

/// A finance account corrects the buyer of an invoice (`?kind=return` or `?kind=correction` for
/// those): a rejected one in place (200), an accepted sale's by a corrective invoice (201).
async fn correct(deps: &Deps, req: &Request) -> HttpResult {
    let session = finance_staff(deps, req).await?;
    let order = req.path_parameters_ref().and_then(|params| params.first("order_id")).and_then(OrderId::parse);
    let order = order.ok_or_else(Problem::not_found)?;
    let kind = invoice_kind(req)?;
    let body = http::json_object(req)?;
    let mut errors = Vec::new();
    let buyer = body.required_object("buyer", &mut errors).and_then(|buyer| Buyer::from_form(&buyer, &mut errors));
    let buyer = buyer.filter(|_| errors.is_empty()).ok_or_else(|| Problem::invalid(errors))?;
    let corrected =
        tax_corrections::correct(&deps.invoices, &deps.seller, order, kind, buyer, session.sub, now()).await?;
    let (status, invoice) = match &corrected {
        Corrected::InPlace(invoice) => (StatusCode::OK, invoice),
        Corrected::Corrective(invoice) => (StatusCode::CREATED, invoice),
    };
    http::json(status, &invoice_view(invoice, Some(&TaxState::Queued)))
}

/// Which of an order's invoices a request names: `?kind=sale` (the default), `?kind=correction`
/// or `?kind=return`.
fn invoice_kind(req: &Request) -> Result<InvoiceKind, Problem> {
    match req.query_string_parameters_ref().and_then(|query| query.first("kind")) {
        None => Ok(InvoiceKind::Sale),
        Some(kind) => InvoiceKind::parse(kind).ok_or_else(|| {
            let error = FieldError::new(
                "kind",
                "invoice-kind-unknown",
                "نوع صورتحساب «sale» (فروش)، «correction» (اصلاحی) یا «return» (برگشت از فروش) است.",
            );
            Problem::invalid(vec![error])
        }),
    }
}

/// The customer and the order a request names; a malformed order id names no order.
async fn customer_and_order(deps: &Deps, req: &Request) -> Result<(AccountId, OrderId), Problem> {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let id = req.path_parameters_ref().and_then(|params| params.first("order_id")).and_then(OrderId::parse);
    Ok((session.sub, id.ok_or_else(Problem::not_found)?))
}

/// The invoice of the caller's order (`?kind=return`: the return invoice of a cancelled sale).
/// Someone else's order is as absent as none (404); an order whose invoice is still being
/// issued says so, with when to ask again.
async fn invoice(deps: &Deps, req: &Request) -> HttpResult {
    let (customer, order) = customer_and_order(deps, req).await?;
    let kind = invoice_kind(req)?;
    let (invoice, tax) = access::own_invoice_and_tax_state(&deps.invoices, &deps.orders, customer, order, kind).await?;
    if wants_html(req) {
        return printable(page::render(&invoice, tax.as_ref()));
    }
    http::json(StatusCode::OK, &invoice_view(&invoice, tax.as_ref()))
}

/// The VAT certificate of the caller's order, as JSON or, for a browser, as a printable page.
async fn certificate(deps: &Deps, req: &Request) -> HttpResult {
    let (customer, order) = customer_and_order(deps, req).await?;
    let (certificate, invoice) = access::certify(&deps.invoices, &deps.orders, customer, order, now()).await?;
    if wants_html(req) {
        return printable(page::render_certificate(&certificate, &invoice));
    }
    http::json(
        StatusCode::OK,
        &json!({
            "order_id": certificate.order_id,
            "invoice_serial": certificate.invoice_serial,
            "tax_id": certificate.tax_id.as_str(),
            "issued_at": mizan::kernel::clock::timestamp(certificate.issued_at),
            "vat": certificate.vat,
            "total": certificate.total,
        }),
    )
}

fn printable(rendered: Result<String, askama::Error>) -> HttpResult {
    let html = rendered.map_err(|error| {
        tracing::error!(%error, "a printable page could not be rendered");
        Problem::internal()
    })?;
    Ok(http::html(StatusCode::OK, html, "; img-src data:"))
}

fn wants_html(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("text/html")))
}

/// Where the invoice stands with the tax system, as its customer sees it: the status and, once
/// sent, the system's reference (its errors are for the staff who correct it).
fn tax_view(tax: Option<&TaxState>) -> Value {
    match tax {
        None => Value::Null,
        Some(state) => json!({ "status": state.as_str(), "reference": state.reference().map(|r| r.0.as_str()) }),
    }
}

fn invoice_view(invoice: &Invoice, tax: Option<&TaxState>) -> Value {
    let buyer = match &invoice.buyer {
        Buyer::Natural { full_name, national_code } => json!({
            "type": "natural", "tob": invoice.buyer_type(),
            "full_name": full_name.as_str(), "national_code": national_code.as_str(),
        }),
        Buyer::Legal { company_name, economic_code, national_id, postal_code } => json!({
            "type": "legal", "tob": invoice.buyer_type(),
            "company_name": company_name.as_str(), "economic_code": economic_code.as_str(),
            "national_id": national_id.as_str(), "postal_code": postal_code.as_str(),
        }),
    };
    let issued_on = invoice.issued_on();
    json!({
        "order_id": invoice.order_id,
        "serial": invoice.serial,
        "tax_id": invoice.tax_id.as_str(),
        "invoice_type": INVOICE_TYPE,
        "invoice_pattern": INVOICE_PATTERN,
        "invoice_subject": invoice.subject.code(),
        "returns": invoice.subject.returns().map(TaxId::as_str),
        "corrects": invoice.subject.corrects().map(TaxId::as_str),
        "tax_system": tax_view(tax),
        "issued_at": mizan::kernel::clock::timestamp(invoice.issued_at),
        "issued_on": issued_on.to_string(),
        "issued_on_fa": persian_digits(&issued_on.to_string()),
        "seller": {
            "name": invoice.seller_name,
            "economic_code": invoice.seller_economic_code.as_str(),
            "address": invoice.seller_address,
            "postal_code": invoice.seller_postal_code.as_str(),
        },
        "buyer": buyer,
        "lines": invoice.lines,
        "totals": invoice.totals,
        "total_in_words": invoice.total_in_words(),
        // The tax system's payment record: method 5 (an internet payment gateway).
        "payment": {
            "method": PAYMENT_METHOD_GATEWAY,
            "tracking_number": invoice.payment.tracking_number,
            "paid_at": mizan::kernel::clock::timestamp(invoice.payment.paid_at),
            "amount": invoice.payment.amount,
        },
    })
}
