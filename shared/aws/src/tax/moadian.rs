//! The tax system's API v2 (`{base}/requestsmanager/api/v2/`, shared/design/payments-and-tax.md):
//! a nonce signed into a token for every operation; the organisation's public key from
//! `server-information` (read once per process); invoices sent as JWE-wrapped JWS packets; verdicts
//! by reference, and submissions found again by our trace id.
//!
//! The buyer's codes leave the store here, because tax law requires them (P5, P8); nothing is
//! logged of a packet but its trace id.

use std::time::Duration;

use mizan::invoicing::ports::{Packet, TaxError, TaxReference, TaxSystem, TaxSystemError, Verdict};
use mizan::invoicing::tax_id::MemoryId;
use mizan::kernel::clock::now;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::jose::{OrganisationKey, TaxpayerKey};
use crate::https::ClientSetupError;

/// A run reports up to 100 invoices within its function's minute: each call must end in time.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Seconds a nonce lives: long enough for the one call its token is made for.
const NONCE_SECONDS: u32 = 30;

pub struct Moadian {
    http: reqwest::Client,
    /// `…/requestsmanager/api/v2`, without a trailing slash.
    api: String,
    memory_id: MemoryId,
    key: TaxpayerKey,
    organisation: OnceCell<OrganisationKey>,
}

impl Moadian {
    /// `base_url` is the system's host (https://tp.tax.gov.ir, or the local emulator).
    pub fn new(base_url: &str, memory_id: MemoryId, key: TaxpayerKey) -> Result<Self, ClientSetupError> {
        let api = format!("{}/requestsmanager/api/v2", base_url.trim_end_matches('/'));
        let http = crate::https::client(CALL_TIMEOUT, CONNECT_TIMEOUT)?;
        Ok(Self { http, api, memory_id, key, organisation: OnceCell::new() })
    }

    /// A GET of the API: its JSON, or why not.
    async fn get(&self, path: &str, token: Option<&str>) -> Result<Value, TaxSystemError> {
        let mut request = self.http.get(format!("{}/{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(path, request.send().await).await
    }

    /// A fresh token: the nonce the system gives, signed with the store's key.
    async fn token(&self) -> Result<String, TaxSystemError> {
        let nonce = self.get(&format!("nonce?timeToLive={NONCE_SECONDS}"), None).await?;
        let nonce = nonce.get("nonce").and_then(Value::as_str).ok_or_else(|| unavailable("nonce", "no nonce"))?;
        let claims = json!({ "nonce": nonce, "clientId": self.memory_id.as_str() });
        self.key.sign(claims.to_string().as_bytes(), now()).map_err(|error| TaxSystemError::Refused(error.to_string()))
    }

    async fn organisation(&self, token: &str) -> Result<&OrganisationKey, TaxSystemError> {
        self.organisation
            .get_or_try_init(|| async {
                let information = self.get("server-information", Some(token)).await?;
                let key =
                    information.pointer("/publicKeys/0").ok_or_else(|| unavailable("server-information", "no key"))?;
                let (Some(der), Some(id)) =
                    (key.get("key").and_then(Value::as_str), key.get("id").and_then(Value::as_str))
                else {
                    return Err(unavailable("server-information", "no key or id"));
                };
                OrganisationKey::parse(der, id).map_err(|error| TaxSystemError::Refused(error.to_string()))
            })
            .await
    }
}

fn unavailable(path: &str, why: &str) -> TaxSystemError {
    let endpoint = path.split('?').next().unwrap_or(path);
    TaxSystemError::Unavailable(format!("{endpoint}: {why}"))
}

/// An answer's JSON: no answer, a 5xx or a body that is not JSON is `Unavailable` (try later);
/// a 4xx is `Refused` (the request itself is wrong: a bug or a key the system does not take).
async fn answer(path: &str, sent: Result<reqwest::Response, reqwest::Error>) -> Result<Value, TaxSystemError> {
    let response =
        sent.map_err(|error| unavailable(path, if error.is_timeout() { "timeout" } else { "unreachable" }))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(unavailable(path, &format!("HTTP {}", status.as_u16())));
    }
    let body: Value = response.json().await.map_err(|_| unavailable(path, "an answer that is not JSON"))?;
    if status.is_client_error() {
        let message = body.get("message").and_then(Value::as_str).unwrap_or("refused");
        let endpoint = path.split('?').next().unwrap_or(path);
        return Err(TaxSystemError::Refused(format!("{endpoint}: HTTP {}: {}", status.as_u16(), message)));
    }
    Ok(body)
}

fn reference_of(entry: &Value) -> Option<(uuid::Uuid, TaxReference)> {
    let trace = entry.get("uid").and_then(Value::as_str).and_then(|uid| uuid::Uuid::try_parse(uid).ok())?;
    let reference = entry.get("referenceNumber").and_then(Value::as_str)?;
    Some((trace, TaxReference(reference.to_owned())))
}

fn verdict_of(entry: &Value) -> Verdict {
    match entry.get("status").and_then(Value::as_str).unwrap_or_default() {
        "SUCCESS" => Verdict::Accepted,
        "FAILED" => {
            let listed = entry.pointer("/data/error").and_then(Value::as_array).cloned().unwrap_or_default();
            let errors = listed
                .iter()
                .map(|error| TaxError {
                    code: error
                        .get("code")
                        .map(|code| code.as_str().map_or_else(|| code.to_string(), str::to_owned))
                        .unwrap_or_default(),
                    message: error.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
                })
                .collect();
            Verdict::Rejected(errors)
        }
        "NOT_FOUND" => Verdict::Unknown,
        // IN_PROGRESS, PENDING, TIMEOUT, and anything new: not decided, ask again.
        _ => Verdict::Pending,
    }
}

impl TaxSystem for Moadian {
    async fn send(&self, packets: &[Packet]) -> Result<Vec<(uuid::Uuid, TaxReference)>, TaxSystemError> {
        let token = self.token().await?;
        let organisation = self.organisation(&token).await?;
        let mut body = Vec::with_capacity(packets.len());
        for packet in packets {
            let invoice = serde_json::to_vec(&packet.invoice)
                .map_err(|_| TaxSystemError::Refused("encoding an invoice".into()))?;
            let signed = self.key.sign(&invoice, now()).map_err(|error| TaxSystemError::Refused(error.to_string()))?;
            let sealed =
                organisation.encrypt(signed.as_bytes()).map_err(|error| TaxSystemError::Refused(error.to_string()))?;
            body.push(json!({
                "payload": sealed,
                "header": { "requestTraceId": packet.trace.to_string(), "fiscalId": self.memory_id.as_str() },
            }));
        }
        let sent = self.http.post(format!("{}/invoice", self.api)).bearer_auth(&token).json(&body).send().await;
        let answer = answer("invoice", sent).await?;
        let result =
            answer.get("result").and_then(Value::as_array).ok_or_else(|| unavailable("invoice", "no result"))?;
        Ok(result.iter().filter_map(reference_of).collect())
    }

    async fn inquire(&self, references: &[TaxReference]) -> Result<Vec<(TaxReference, Verdict)>, TaxSystemError> {
        let token = self.token().await?;
        let listed: Vec<&str> = references.iter().map(|reference| reference.0.as_str()).collect();
        let answer =
            self.get(&format!("inquiry-by-reference-id?referenceIds={}", listed.join(",")), Some(&token)).await?;
        let entries = answer.as_array().ok_or_else(|| unavailable("inquiry-by-reference-id", "not a list"))?;
        Ok(entries
            .iter()
            .filter_map(|entry| {
                let reference = entry.get("referenceNumber").and_then(Value::as_str)?;
                Some((TaxReference(reference.to_owned()), verdict_of(entry)))
            })
            .collect())
    }

    async fn find(&self, traces: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, TaxReference)>, TaxSystemError> {
        let token = self.token().await?;
        let listed: Vec<String> = traces.iter().map(uuid::Uuid::to_string).collect();
        let path = format!("inquiry-by-uid?uidList={}&fiscalId={}", listed.join(","), self.memory_id.as_str());
        let answer = self.get(&path, Some(&token)).await?;
        let entries = answer.as_array().ok_or_else(|| unavailable("inquiry-by-uid", "not a list"))?;
        Ok(entries.iter().filter_map(reference_of).collect())
    }
}
