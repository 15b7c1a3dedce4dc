//! The edge between API Gateway and the domain: decoding requests, encoding answers.
//!
//! Handlers return `Result<Response, Problem>`; `serve` turns every `Problem` into an RFC 9457
//! answer, so no handler can answer a bare 500 or leak an internal error message.

use std::future::Future;
use std::net::IpAddr;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::Serialize;
use serde_json::Value;

use mizan::accounts::ports::AccountStore;
use mizan::accounts::session::{Claims, SessionKeys};
pub use mizan::kernel::form::JsonObject;
use mizan::kernel::problem::Problem;

/// Larger bodies are refused before parsing: no form of ours comes near it.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub type HttpResult = Result<Response<Body>, Problem>;

/// Runs an HTTP function: every `Problem` becomes a problem+json answer.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = HttpResult> + Send,
{
    lambda_http::run(service_fn(|req: Request| {
        let answer = handler(req);
        async move { Ok::<_, std::convert::Infallible>(answer.await.unwrap_or_else(problem_response)) }
    }))
    .await
}

pub fn problem_response(problem: Problem) -> Response<Body> {
    let body = serde_json::to_string(&problem).unwrap_or_default();
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(seconds) = problem.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A JSON answer. Every answer of this API is private to its caller, so none is cached.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> HttpResult {
    let body = serde_json::to_string(value).map_err(|error| {
        tracing::error!(%error, "could not encode a response");
        Problem::internal()
    })?;
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// An answer without a body (204): the step is done and there is nothing to show.
pub fn no_content() -> HttpResult {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A self-contained HTML page: nothing external may load into a page of personal data, so the
/// policy allows inline styles (and whatever `extra_policy` adds) and nothing else.
pub fn html(status: StatusCode, page: String, extra_policy: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::Text(page));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let policy = format!("default-src 'none'; style-src 'unsafe-inline'{extra_policy}");
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The request body as a JSON object, or the problem that explains why it is not one.
pub fn json_object(req: &Request) -> Result<JsonObject, Problem> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::payload_too_large());
    }
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let media_type = content_type.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case("application/json") {
            return Err(Problem::unsupported_media_type());
        }
    }
    match serde_json::from_slice(bytes) {
        Ok(Strict(Value::Object(map))) => Ok(JsonObject::new(map)),
        _ => Err(Problem::malformed_body()),
    }
}

/// A JSON value read as serde_json reads one, except that an object naming a key twice is
/// refused: of `{"accept_terms": false, "accept_terms": true}` one reader keeps the first and
/// another the last, and a body must mean one thing to every reader.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value whose objects name each key once")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(Strict(value)) = items.next_element()? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut map = serde_json::Map::new();
        while let Some((key, Strict(value))) = entries.next_entry::<String, Strict>()? {
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom("a key is named twice"));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// The caller's address as API Gateway saw it (P14 records it where it matters).
pub fn source_ip(req: &Request) -> Option<IpAddr> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

/// The session of an authenticated request, or 401.
pub async fn authenticate(
    req: &Request,
    sessions: &SessionKeys,
    accounts: &impl AccountStore,
    now: time::OffsetDateTime,
) -> Result<Claims, Problem> {
    let token = bearer_token(req).ok_or_else(Problem::unauthorized)?;
    let claims = sessions.verify(token, now).map_err(|_| Problem::unauthorized())?;
    let standing = accounts.session_standing(claims.sub).await?;
    if claims.holds_for(standing.as_ref()) { Ok(claims) } else { Err(Problem::unauthorized()) }
}

#[cfg(test)]
mod tests {
    use lambda_http::http::header::AUTHORIZATION;
    use mizan::accounts::account::{MarketingConsent, NewAccount, Role, TermsAcceptance, TermsVersion};
    use mizan::accounts::contact::{Email, IranMobile};
    use mizan::accounts::password::PasswordHash;
    use mizan::accounts::person::FullName;
    use mizan::accounts::testing::InMemoryAccounts;
    use mizan::accounts::verification::Challenge;
    use mizan::kernel::events::{DomainEvent, Envelope};
    use mizan::kernel::ids::AccountId;
    use time::{Duration, OffsetDateTime};

    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn with_token(token: &str) -> Request {
        let mut req = Request::new(Body::Empty);
        req.headers_mut().insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        req
    }

    #[test]
    fn a_body_naming_a_key_twice_is_refused_at_any_depth_and_others_read_as_serde_json_reads_them() {
        let body = |text: &str| {
            let mut req = Request::new(Body::Text(text.to_owned()));
            req.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            json_object(&req).map(|object| object.to_value())
        };
        for twice in [
            r#"{"accept_terms": false, "accept_terms": true}"#,
            r#"{"marketing": {"email": true, "email": false}}"#,
            r#"{"items": [{"quantity": 1, "quantity": 9}]}"#,
        ] {
            assert_eq!(body(twice).unwrap_err().code, "malformed-body", "{twice}");
        }
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": "د"}"#;
        assert_eq!(body(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
    }

    #[tokio::test]
    async fn p4_a_session_lasts_while_its_account_keeps_the_role_it_was_issued_with() {
        let signer = mizan::accounts::testing::fixtures::session_signer();
        let (accounts, sessions) = (InMemoryAccounts::default(), signer.verifying_keys());
        let email = Email::parse("m@example.com").unwrap();
        let id = AccountId::new();
        let challenge = Challenge::new(String::new(), now(), Duration::HOUR);
        let account = NewAccount {
            id,
            email: email.clone(),
            phone: IranMobile::parse("09123456789").unwrap(),
            full_name: FullName::parse("مریم کاظمی").unwrap(),
            password_hash: PasswordHash::from_phc(String::new()),
            terms: TermsAcceptance {
                version: TermsVersion::parse("1404-01").unwrap(),
                accepted_at: now(),
                source_ip: None,
            },
            marketing: MarketingConsent::default(),
            email_challenge: challenge.clone(),
            phone_challenge: challenge,
            created_at: now(),
            unverified_until: now() + mizan::accounts::account::UNVERIFIED_ACCOUNT_LIFETIME,
        };
        accounts.register(&account, &[]).await.unwrap();
        let token = signer.issue(id, Role::Customer, 0, now()).token;
        let claims = authenticate(&with_token(&token), &sessions, &accounts, now()).await.unwrap();
        assert_eq!(claims.sub, id);
        assert!(authenticate(&with_token("v1.forged.token"), &sessions, &accounts, now()).await.is_err());
        assert!(authenticate(&Request::new(Body::Empty), &sessions, &accounts, now()).await.is_err());

        accounts.grant(id, Role::Staff);
        assert!(authenticate(&with_token(&token), &sessions, &accounts, now()).await.is_err());
        let staff = signer.issue(id, Role::Staff, 0, now()).token;
        assert!(authenticate(&with_token(&staff), &sessions, &accounts, now()).await.is_ok());

        let closed = Envelope::new(DomainEvent::AccountClosed { account_id: id }, now());
        accounts.close(id, &email, now(), &closed).await.unwrap();
        assert!(authenticate(&with_token(&staff), &sessions, &accounts, now()).await.is_err());
    }
}
