//! Zarinpal's payment gateway, API v4 (shared/design/payments-and-tax.md): `request.json` opens a
//! payment, the customer pays on `StartPay/<authority>`, `verify.json` is the only proof of it,
//! `unVerified.json` lists payments made but never verified, `reverse.json` gives one back within
//! 30 minutes; later refunds go through the GraphQL API (`Session` finds the payment by its
//! reference, `AddRefund` refunds it), with an access token.
//!
//! Every base URL is configuration (live, sandbox, or the local emulator). The gateway hears the
//! amount, a description and our order id, never a contact of the customer (P13).

use std::time::Duration;

use mizan::kernel::money::Rial;
use mizan::payments::payment::{Authority, MaskedPan, RefId, RefundReference};
use mizan::payments::ports::{GatewayError, PaymentGateway, PaymentRequest, Redirect, RefundAnswer, Verification};
use serde_json::{Value, json};

use crate::https::ClientSetupError;

/// A call to the gateway must end in time for the function to answer the customer (10 s) — or,
/// for a verification, to tell them it is not confirmed yet; the sweep verifies it later.
const CALL_TIMEOUT: Duration = Duration::from_secs(6);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the gateway lives and who we are to it.
#[derive(Debug, Clone)]
pub struct ZarinpalSettings {
    /// The merchant id (a UUID): a secret, from Secrets Manager.
    pub merchant_id: String,
    /// `request`, `verify`, `reverse` and `StartPay` (https://payment.zarinpal.com).
    pub payment_url: String,
    /// `unVerified` (documented on https://api.zarinpal.com).
    pub api_url: String,
    /// The GraphQL API of refunds (https://next.zarinpal.com/api/v4/graphql/).
    pub graphql_url: String,
    /// The access token of the GraphQL API: a secret, from Secrets Manager.
    pub access_token: String,
    /// The terminal (Zarinpal's id of our gateway account) whose sessions are refunded.
    pub terminal_id: String,
    /// Our public API: the gateway sends the customer back to
    /// `<callback_url>/payments/zarinpal/callback/<payment id>`.
    pub callback_url: String,
}

#[derive(Debug, Clone)]
pub struct Zarinpal {
    http: reqwest::Client,
    settings: ZarinpalSettings,
}

impl Zarinpal {
    pub fn new(settings: ZarinpalSettings) -> Result<Self, ClientSetupError> {
        let http = crate::https::client(CALL_TIMEOUT, CONNECT_TIMEOUT)?;
        let trim = |url: String| url.trim_end_matches('/').to_owned();
        let settings = ZarinpalSettings {
            payment_url: trim(settings.payment_url),
            api_url: trim(settings.api_url),
            graphql_url: settings.graphql_url.trim().to_owned(),
            callback_url: trim(settings.callback_url),
            ..settings
        };
        Ok(Self { http, settings })
    }

    /// Posts to one of the gateway's endpoints: its `data` when it succeeded, its error code when
    /// it refused. Anything else — no answer, or one that is not the gateway's — is `Unavailable`.
    async fn call(&self, base: &str, endpoint: &str, mut body: Value) -> Result<Value, GatewayError> {
        body["merchant_id"] = json!(self.settings.merchant_id);
        let url = format!("{base}/pg/v4/payment/{endpoint}");
        let answer = self.http.post(&url).json(&body).send().await.map_err(|error| {
            let reason = if error.is_timeout() { "timeout" } else { "unreachable" };
            GatewayError::Unavailable(format!("{endpoint}: {reason}"))
        })?;
        let status = answer.status();
        let answer: Value = answer.json().await.map_err(|_| {
            GatewayError::Unavailable(format!("{endpoint}: HTTP {} without a JSON body", status.as_u16()))
        })?;
        if let Some(code) = answer.pointer("/errors/code").and_then(Value::as_i64) {
            return Err(GatewayError::Refused(i32::try_from(code).unwrap_or(i32::MIN)));
        }
        match answer.get("data") {
            Some(data) if data.is_object() => Ok(data.clone()),
            _ => Err(GatewayError::Unavailable(format!("{endpoint}: HTTP {} without data", status.as_u16()))),
        }
    }

    /// Asks the GraphQL API: its `data` when it answered without errors, the first error's
    /// message when it refused.
    async fn graphql(
        &self,
        operation: &str,
        query: &str,
        variables: Value,
    ) -> Result<Result<Value, String>, GatewayError> {
        let body = json!({ "operationName": operation, "query": query, "variables": variables });
        let answer = self
            .http
            .post(&self.settings.graphql_url)
            .bearer_auth(&self.settings.access_token)
            .json(&body)
            .send()
            .await
            .map_err(|error| {
                let reason = if error.is_timeout() { "timeout" } else { "unreachable" };
                GatewayError::Unavailable(format!("{operation}: {reason}"))
            })?;
        let status = answer.status();
        if status.is_server_error() {
            return Err(GatewayError::Unavailable(format!("{operation}: HTTP {}", status.as_u16())));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(Err(format!("HTTP {}: the access token was not accepted", status.as_u16())));
        }
        let answer: Value = answer.json().await.map_err(|_| {
            GatewayError::Unavailable(format!("{operation}: HTTP {} without a JSON body", status.as_u16()))
        })?;
        if let Some(error) = answer.pointer("/errors/0") {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("error");
            return Ok(Err(message.chars().take(200).collect()));
        }
        match answer.get("data") {
            Some(data) if data.is_object() => Ok(Ok(data.clone())),
            _ => Err(GatewayError::Unavailable(format!("{operation}: HTTP {} without data", status.as_u16()))),
        }
    }
}

/// The payment (a "session") the gateway knows by our reference: its id and status.
const SESSION_BY_REFERENCE: &str = "query Sessions($terminal_id: ID!, $reference_id: String) { \
Session(terminal_id: $terminal_id, reference_id: $reference_id) { id, status, amount } }";

const ADD_REFUND: &str = "mutation AddRefund($session_id: ID!, $amount: BigInteger!, $description: String, \
$method: InstantPayoutActionTypeEnum, $reason: RefundReasonEnum) { resource: AddRefund(session_id: $session_id, \
amount: $amount, description: $description, method: $method, reason: $reason) { terminal_id, id, amount, \
timeline { refund_amount, refund_time, refund_status } } }";

/// Session statuses of a payment whose money went back already.
const GIVEN_BACK: [&str; 2] = ["REFUNDED", "REVERSED"];

/// The code of a successful answer's `data`.
fn code(data: &Value) -> i64 {
    data.get("code").and_then(Value::as_i64).unwrap_or(0)
}

/// `ref_id` is a number in Zarinpal's answers; kept as the text the customer reads.
fn ref_id(data: &Value) -> Option<RefId> {
    match data.get("ref_id")? {
        Value::Number(number) => RefId::parse(&number.to_string()),
        Value::String(text) => RefId::parse(text),
        _ => None,
    }
}

impl PaymentGateway for Zarinpal {
    async fn request(&self, request: &PaymentRequest) -> Result<Redirect, GatewayError> {
        let body = json!({
            "amount": request.amount.value(),
            "currency": "IRR",
            "description": request.description,
            "callback_url": format!("{}/payments/zarinpal/callback/{}", self.settings.callback_url, request.payment),
            "metadata": { "order_id": request.order.to_string() },
        });
        let data = self.call(&self.settings.payment_url, "request.json", body).await?;
        let authority = data.get("authority").and_then(Value::as_str).and_then(|text| Authority::parse(text).ok());
        match (code(&data), authority) {
            (100, Some(authority)) => {
                let url = format!("{}/pg/StartPay/{}", self.settings.payment_url, authority.as_str());
                Ok(Redirect { authority, url })
            }
            (code, _) => Err(GatewayError::Refused(i32::try_from(code).unwrap_or(0))),
        }
    }

    async fn verify(&self, authority: &Authority, amount: Rial) -> Result<Verification, GatewayError> {
        let body = json!({ "authority": authority.as_str(), "amount": amount.value() });
        let data = match self.call(&self.settings.payment_url, "verify.json", body).await {
            Ok(data) => data,
            Err(GatewayError::Refused(-51)) => return Ok(Verification::NotPaid),
            Err(GatewayError::Refused(code)) => return Ok(Verification::Refused(code)),
            Err(unavailable) => return Err(unavailable),
        };
        match code(&data) {
            100 | 101 => Ok(Verification::Paid {
                ref_id: ref_id(&data),
                card_pan: data.get("card_pan").and_then(Value::as_str).and_then(MaskedPan::parse),
            }),
            code => Ok(Verification::Refused(i32::try_from(code).unwrap_or(0))),
        }
    }

    async fn unverified(&self) -> Result<Vec<Authority>, GatewayError> {
        let data = self.call(&self.settings.api_url, "unVerified.json", json!({})).await?;
        let listed = data.get("authorities").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(listed
            .iter()
            .filter_map(|entry| entry.get("authority").and_then(Value::as_str))
            .filter_map(|text| Authority::parse(text).ok())
            .collect())
    }

    async fn reverse(&self, authority: &Authority) -> Result<bool, GatewayError> {
        let body = json!({ "authority": authority.as_str() });
        match self.call(&self.settings.payment_url, "reverse.json", body).await {
            Ok(data) => Ok(code(&data) == 100),
            Err(GatewayError::Refused(code)) => {
                tracing::warn!(code, "the gateway refused a reversal");
                Ok(false)
            }
            Err(unavailable) => Err(unavailable),
        }
    }

    async fn refund(&self, ref_id: &RefId, amount: Rial, description: &str) -> Result<RefundAnswer, GatewayError> {
        let variables = json!({ "terminal_id": self.settings.terminal_id, "reference_id": ref_id.as_str() });
        let sessions = match self.graphql("Sessions", SESSION_BY_REFERENCE, variables).await? {
            Ok(data) => data,
            Err(refused) => return Ok(RefundAnswer::Refused(refused)),
        };
        let Some(session) = sessions.pointer("/Session/0") else {
            return Ok(RefundAnswer::Refused("no session has this reference".into()));
        };
        if session.get("status").and_then(Value::as_str).is_some_and(|status| GIVEN_BACK.contains(&status)) {
            return Ok(RefundAnswer::AlreadyRefunded);
        }
        let session_id = match session.get("id") {
            Some(Value::String(id)) => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => return Err(GatewayError::Unavailable("Sessions: a session without an id".into())),
        };
        let variables = json!({
            "session_id": session_id,
            "amount": amount.value(),
            "description": description,
            // Instant, to the card that paid: the customer cancelled and waits for it.
            "method": "CARD",
            "reason": "CUSTOMER_REQUEST",
        });
        Ok(match self.graphql("AddRefund", ADD_REFUND, variables).await? {
            Ok(data) => {
                let reference = match data.pointer("/resource/id") {
                    Some(Value::String(id)) => RefundReference::parse(id),
                    Some(Value::Number(id)) => RefundReference::parse(&id.to_string()),
                    _ => None,
                };
                RefundAnswer::Accepted { reference }
            }
            Err(refused) => RefundAnswer::Refused(refused),
        })
    }
}
