//! The unsubscribe function's routes: decode, ask the domain, encode.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use mizan::accounts::account::MarketingConsent;
use mizan::accounts::consent::Channel;
use mizan::accounts::consent::Source;
use mizan::accounts::ports::ConsentStore;
use mizan::accounts::preferences::{self, Unsubscribed};
use mizan::kernel::clock::now;
use mizan::kernel::problem::Problem;
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::json;

use crate::Deps;
use crate::page::{self, Page};

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    match (req.method().as_str(), path.trim_end_matches('/')) {
        ("GET", "/me/preferences") => preferences(deps, &req).await,
        ("PUT", "/me/preferences") => change_preferences(deps, &req).await,
        ("GET", "/unsubscribe") => Ok(confirm(deps, &req)),
        ("POST", "/unsubscribe") => unsubscribe(deps, &req).await,
        (_, "/me/preferences" | "/unsubscribe") => Err(Problem::method_not_allowed()),
        _ => Err(Problem::not_found()),
    }
}

fn consent_view(consent: MarketingConsent) -> serde_json::Value {
    json!({ "marketing": { "email": consent.email, "sms": consent.sms } })
}

async fn preferences(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let consent = deps.accounts.marketing(session.sub).await?.ok_or_else(Problem::unauthorized)?;
    http::json(StatusCode::OK, &consent_view(consent))
}

/// Settings change only what the body names: `{"marketing": {"email": false}}` leaves SMS as it is.
async fn change_preferences(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let body = http::json_object(req)?;
    let mut errors = Vec::new();
    let wanted = body.required_object("marketing", &mut errors).map(|marketing| {
        [
            (Channel::Email, marketing.optional_bool("email", &mut errors)),
            (Channel::Sms, marketing.optional_bool("sms", &mut errors)),
        ]
    });
    let Some(wanted) = wanted.filter(|_| errors.is_empty()) else { return Err(Problem::invalid(errors)) };
    let consent = preferences::change(&deps.accounts, session.sub, wanted, now()).await?;
    http::json(StatusCode::OK, &consent_view(consent.ok_or_else(Problem::unauthorized)?))
}

fn token(req: &Request) -> Option<String> {
    req.query_string_parameters_ref().and_then(|query| query.first("token")).map(str::to_owned)
}

/// GET never unsubscribes: link scanners fetch every URL in a message.
fn confirm(deps: &Deps, req: &Request) -> lambda_http::Response<lambda_http::Body> {
    let Some(token) = token(req) else { return page::render(Page::InvalidLink) };
    let Some(grant) = deps.keys.verify(&token) else { return page::render(Page::InvalidLink) };
    let action = format!("/unsubscribe?token={token}&source=page");
    page::render(Page::Confirm { channel: grant.channel.as_str(), action: &action })
}

/// RFC 8058 one-click (or the page's button): no cookies, no login; the token is the authority.
/// Answers 200 without redirecting; repeating it is harmless.
async fn unsubscribe(deps: &Deps, req: &Request) -> HttpResult {
    let Some(token) = token(req) else { return Ok(page::render(Page::InvalidLink)) };
    let from_page = req.query_string_parameters_ref().and_then(|query| query.first("source")) == Some("page");
    let source = if from_page { Source::Link } else { Source::OneClick };
    match preferences::unsubscribe(&deps.accounts, &deps.keys, &token, source, now()).await? {
        Unsubscribed::Stopped(channel) => Ok(page::render(Page::Done { channel: channel.as_str() })),
        Unsubscribed::OptedInSince(channel) => Ok(page::render(Page::OptedInSince { channel: channel.as_str() })),
        Unsubscribed::InvalidLink => Ok(page::render(Page::InvalidLink)),
    }
}
