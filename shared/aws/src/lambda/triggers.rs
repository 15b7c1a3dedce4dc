//! The one dispatcher: what woke a function — an API Gateway request, domain events from the
//! events topic (SNS), campaign pages from their queue (SQS), or its schedule (EventBridge) —
//! read once, here, for every function that has more than one trigger.

use std::future::Future;

use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent};
use lambda_http::{Body, Request, Response, service_fn};
use mizan::kernel::events::Envelope;
use mizan::messaging::campaign::CampaignPage;
use serde_json::Value;

use crate::lambda::http::{HttpResult, problem_response};

/// Messages from a topic or a queue, decoded.
pub enum Messages {
    Events(Vec<Envelope>),
    Pages(Vec<CampaignPage>),
}

/// An invocation none of our triggers sends: named by its message id, never by its contents.
#[derive(Debug, thiserror::Error)]
#[error("{0} could not be read")]
pub struct Unreadable(String);

impl From<Unreadable> for Diagnostic {
    fn from(error: Unreadable) -> Self {
        Self { error_type: "UnreadableEvent".to_owned(), error_message: error.to_string() }
    }
}

/// Events or a tick a function could not handle: the invocation fails, so Lambda (or SNS)
/// delivers it again and, past its retries, dead-letters it. Named in the runtime's report by
/// the error's own type.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Failed<E: std::error::Error + 'static>(#[from] pub E);

impl<E: std::error::Error + 'static> From<Failed<E>> for Diagnostic {
    fn from(failed: Failed<E>) -> Self {
        let kind = std::any::type_name::<E>().rsplit("::").next().unwrap_or("Error");
        Self { error_type: kind.to_owned(), error_message: failed.0.to_string() }
    }
}

enum Trigger {
    Http(Box<Request>),
    Messages(Messages),
    /// An EventBridge schedule's tick: nothing in it but the time.
    Schedule,
}

fn read(payload: Value) -> Result<Trigger, Unreadable> {
    let source = payload.pointer("/Records/0/EventSource").or_else(|| payload.pointer("/Records/0/eventSource"));
    match source.and_then(Value::as_str) {
        Some("aws:sns") => {
            let event: SnsEvent = serde_json::from_value(payload).map_err(|_| Unreadable("an SNS event".into()))?;
            let envelopes = event.records.into_iter().map(|record| {
                serde_json::from_str(&record.sns.message)
                    .map_err(|_| Unreadable(format!("SNS message {}", record.sns.message_id)))
            });
            Ok(Trigger::Messages(Messages::Events(envelopes.collect::<Result<_, _>>()?)))
        }
        Some("aws:sqs") => {
            let event: SqsEvent = serde_json::from_value(payload).map_err(|_| Unreadable("an SQS event".into()))?;
            let pages = event.records.into_iter().map(|record| {
                let id = record.message_id.unwrap_or_default();
                record
                    .body
                    .as_deref()
                    .and_then(|body| serde_json::from_str(body).ok())
                    .ok_or_else(|| Unreadable(format!("SQS message {id}")))
            });
            Ok(Trigger::Messages(Messages::Pages(pages.collect::<Result<_, _>>()?)))
        }
        _ if payload.get("Records").is_some() => Err(Unreadable("an invocation from neither SNS nor SQS".into())),
        _ if payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") => Ok(Trigger::Schedule),
        _ => serde_json::from_value::<lambda_http::request::LambdaRequest>(payload)
            .map(|request| Trigger::Http(Box::new(Request::from(request))))
            .map_err(|_| Unreadable("an invocation from neither SNS nor HTTP".into())),
    }
}

/// Runs a function whose one trigger is its schedule.
pub async fn serve_schedule<S, SF, E>(on_schedule: S) -> Result<(), lambda_runtime::Error>
where
    S: Fn() -> SF,
    SF: Future<Output = Result<(), E>> + Send,
    E: Into<Diagnostic>,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handled = match read(event.payload) {
            Ok(Trigger::Schedule) => Ok(on_schedule()),
            Ok(_) => Err(Unreadable("an invocation other than its schedule's tick".into())),
            Err(unreadable) => Err(unreadable),
        };
        async move {
            match handled {
                Ok(handled) => handled.await.map(|()| Value::Null).map_err(Into::into),
                Err(unreadable) => Err(Diagnostic::from(unreadable)),
            }
        }
    }))
    .await
}

/// Runs a function whose triggers are a topic and a queue (no HTTP routes).
pub async fn serve_messages<M, MF, E>(on_messages: M) -> Result<(), lambda_runtime::Error>
where
    M: Fn(Messages) -> MF,
    MF: Future<Output = Result<(), E>> + Send,
    E: Into<Diagnostic>,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handled = match read(event.payload) {
            Ok(Trigger::Messages(messages)) => Ok(on_messages(messages)),
            Ok(Trigger::Http(_)) => Err(Unreadable("an HTTP request to a function without routes".into())),
            Ok(Trigger::Schedule) => Err(Unreadable("a scheduled event to a function without a schedule".into())),
            Err(unreadable) => Err(unreadable),
        };
        async move {
            match handled {
                Ok(handled) => handled.await.map_err(Into::into),
                Err(unreadable) => Err(Diagnostic::from(unreadable)),
            }
        }
    }))
    .await
}

/// Runs a function that has HTTP routes and an SNS subscription both (one function, as the
/// template deploys it): domain events go to `on_events`, requests to `on_request`, answered in
/// the HTTP API's response shape.
pub async fn serve_with_events<H, HF, V, VF, VE>(on_request: H, on_events: V) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> HF,
    HF: Future<Output = HttpResult> + Send,
    V: Fn(Vec<Envelope>) -> VF,
    VF: Future<Output = Result<(), VE>> + Send,
    VE: Into<Diagnostic>,
{
    serve_http_events_schedule(on_request, on_events, no_schedule).await
}

async fn no_schedule() -> Result<(), Unreadable> {
    Err(Unreadable("a scheduled event to a function without a schedule".into()))
}

/// Runs a function that has HTTP routes, an SNS subscription and a schedule: requests to
/// `on_request` (answered in the HTTP API's response shape), domain events to `on_events`, each
/// tick to `on_schedule`.
pub async fn serve_http_events_schedule<H, HF, V, VF, VE, S, SF, SE>(
    on_request: H,
    on_events: V,
    on_schedule: S,
) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> HF,
    HF: Future<Output = HttpResult> + Send,
    V: Fn(Vec<Envelope>) -> VF,
    VF: Future<Output = Result<(), VE>> + Send,
    VE: Into<Diagnostic>,
    S: Fn() -> SF,
    SF: Future<Output = Result<(), SE>> + Send,
    SE: Into<Diagnostic>,
{
    enum Handled<R, E, T> {
        Request(R),
        Events(E),
        Tick(T),
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handled = match read(event.payload) {
            Ok(Trigger::Http(request)) => Ok(Handled::Request(on_request(*request))),
            Ok(Trigger::Messages(Messages::Events(envelopes))) => Ok(Handled::Events(on_events(envelopes))),
            Ok(Trigger::Messages(Messages::Pages(_))) => {
                Err(Unreadable("campaign pages to a function without them".into()))
            }
            Ok(Trigger::Schedule) => Ok(Handled::Tick(on_schedule())),
            Err(unreadable) => Err(unreadable),
        };
        async move {
            match handled? {
                Handled::Events(handled) => handled.await.map(|()| Value::Null).map_err(Into::into),
                Handled::Tick(handled) => handled.await.map(|()| Value::Null).map_err(Into::into),
                Handled::Request(handled) => answer(handled.await),
            }
        }
    }))
    .await
}

/// A handler's answer in the HTTP API's response shape, every problem as problem+json.
fn answer(handled: HttpResult) -> Result<Value, Diagnostic> {
    let response = handled.unwrap_or_else(problem_response);
    serde_json::to_value(http_api_response(response))
        .map_err(|_| Diagnostic { error_type: "Encoding".into(), error_message: "response".into() })
}

fn http_api_response(response: Response<Body>) -> aws_lambda_events::apigw::ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut answer = aws_lambda_events::apigw::ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.body = match body {
        Body::Empty => None,
        other => Some(other),
    };
    answer
}
