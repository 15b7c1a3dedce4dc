//! Zarinpal's payment gateway, API v4 (shared/design/payments-and-tax.md): `request.json` opens a
//! payment, the customer pays on `StartPay/<authority>`, `verify.json` is the only proof of it,
//! `unVerified.json` lists payments made but never verified, `reverse.json` gives one back.
//!
//! Every base URL is configuration (live, sandbox, or the local emulator). The gateway hears the
//! amount, a description and our order id, never a contact of the customer (P13).

use std::sync::Arc;
use std::time::Duration;

use mizan::kernel::money::Rial;
use mizan::payments::payment::{Authority, MaskedPan, RefId};
use mizan::payments::ports::{GatewayError, PaymentGateway, PaymentRequest, Redirect, Verification};
use serde_json::{Value, json};

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
    /// Our public API: the gateway sends the customer back to
    /// `<callback_url>/payments/zarinpal/callback/<payment id>`.
    pub callback_url: String,
}

#[derive(Debug, Clone)]
pub struct Zarinpal {
    http: reqwest::Client,
    settings: ZarinpalSettings,
}

#[derive(Debug, thiserror::Error)]
#[error("the HTTP client for the payment gateway could not be built: {0}")]
pub struct ClientSetupError(String);

impl Zarinpal {
    pub fn new(settings: ZarinpalSettings) -> Result<Self, ClientSetupError> {
        // The crypto library the AWS SDK's TLS already links (aws-lc), and the system's roots.
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(certificate);
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| ClientSetupError(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|error| ClientSetupError(error.to_string()))?;
        let trim = |url: String| url.trim_end_matches('/').to_owned();
        let settings = ZarinpalSettings {
            payment_url: trim(settings.payment_url),
            api_url: trim(settings.api_url),
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
}

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
}
