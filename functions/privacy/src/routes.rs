//! The privacy function's routes: decode, ask the domain, encode.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use mizan::accounts::account::Role;
use mizan::kernel::clock::now;
use mizan::kernel::paging::PageRequest;
use mizan::kernel::problem::Problem;
use mizan::kernel::solar_hijri::tehran_date;
use mizan::privacy::audit::{self, AUDIT_PAGES, Action};
use mizan::privacy::legal_export::{self, Actor, ExportError, LegalRequest, RequestParts, Stores};
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::json;
use time::OffsetDateTime;

use crate::Deps;

const EXPORTS: &str = "/admin/legal-exports";

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    match (req.method().as_str(), path.trim_end_matches('/')) {
        ("POST", EXPORTS) => export(deps, &req).await,
        ("GET", EXPORTS) => listing(deps, &req).await,
        // The trail is append-only: no method edits or deletes a record.
        (_, EXPORTS) => Err(Problem::method_not_allowed()),
        _ => Err(Problem::not_found()),
    }
}

/// `POST /admin/legal-exports`: the token (401), the legal role (403, audited), the request
/// (400), then the export — audited before it is answered.
async fn export(deps: &Deps, req: &Request) -> HttpResult {
    let now = now();
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now).await?;
    let actor = Actor { id: session.sub, role: session.role, source_ip: http::source_ip(req) };
    let today = tehran_date(now);
    if session.role != Role::Legal {
        // What was asked goes into the record of the refusal, as far as it can be read.
        let asked = http::json_object(req).map(|body| LegalRequest::parts(&body, today)).unwrap_or_default();
        return refuse(deps, actor, Action::Export, asked, now).await;
    }
    let body = http::json_object(req)?;
    let request = LegalRequest::parse(&body, today).map_err(Problem::invalid)?;
    let stores = Stores {
        accounts: &deps.accounts,
        orders: &deps.orders,
        invoices: &deps.invoices,
        reviews: &deps.reviews,
        ip_records: &deps.ip_records,
        audit: &deps.audit,
    };
    match stores.export(&deps.subject_key, &request, actor, now).await {
        Ok(export) => http::json(StatusCode::OK, &export.document),
        Err(ExportError::Store(error)) => Err(error.into()),
        Err(ExportError::Audit(error)) => {
            tracing::error!(%error, actor = %actor.id, "the audit record could not be written: nothing was disclosed");
            Err(Problem::unavailable())
        }
    }
}

/// `GET /admin/legal-exports?limit=&cursor=`: the audit trail, newest first.
async fn listing(deps: &Deps, req: &Request) -> HttpResult {
    let now = now();
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now).await?;
    if session.role != Role::Legal {
        let actor = Actor { id: session.sub, role: session.role, source_ip: http::source_ip(req) };
        return refuse(deps, actor, Action::List, RequestParts::default(), now).await;
    }
    let query = req.query_string_parameters_ref();
    let asked =
        PageRequest::parse(query.and_then(|q| q.first("limit")), query.and_then(|q| q.first("cursor")), AUDIT_PAGES)?;
    let page = deps.audit.list(asked, now).await?;
    http::json(
        StatusCode::OK,
        &json!({
            "records": page.items.iter().map(audit::view).collect::<Vec<_>>(),
            "next_cursor": page.next,
        }),
    )
}

/// A caller without the legal role: the attempt is recorded (within the limits), then refused.
/// The refusal does not depend on the record: if it cannot be written, the error is logged for
/// the operators.
async fn refuse(deps: &Deps, actor: Actor, action: Action, asked: RequestParts, now: OffsetDateTime) -> HttpResult {
    let audited =
        legal_export::audit_refusal(&deps.audit, &deps.accounts, &deps.subject_key, actor, action, asked, now).await;
    if let Err(error) = audited {
        tracing::error!(%error, actor = %actor.id, "a refused legal request could not be audited");
    }
    Err(Problem::forbidden())
}
