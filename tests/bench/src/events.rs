//! Events as Lambda delivers them, made from the samples in `events/` and adapted so that they
//! succeed: a fresh email for each signup, a real session token, an existing order.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use mizan::kernel::events::Envelope;
use serde_json::Value;

/// What an invocation must come to for the run to count it: the benchmark times work that
/// succeeded, never a quick refusal.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// An API Gateway answer with this status code.
    Status(u16),
    /// A non-HTTP event handled without error.
    Success,
}

pub struct Event {
    /// Which kind of request this is, for the per-route figures.
    pub route: &'static str,
    pub payload: Value,
    pub expect: Expect,
}

impl Event {
    /// Fails with the function's answer when it is not what the event must get.
    pub fn check(&self, failed: bool, answer: &[u8]) -> Result<()> {
        let text = || String::from_utf8_lossy(answer).chars().take(600).collect::<String>();
        if failed {
            bail!("{}: the function reported an error: {}", self.route, text());
        }
        if let Expect::Status(wanted) = self.expect {
            let got: Value = serde_json::from_slice(answer).with_context(|| format!("{}: {}", self.route, text()))?;
            if got["statusCode"].as_u64() != Some(u64::from(wanted)) {
                bail!("{}: wanted status {wanted}, got {}", self.route, text());
            }
        }
        Ok(())
    }
}

/// The `events/` folder of the repository.
pub struct Samples(PathBuf);

impl Samples {
    pub fn new(root: &Path) -> Self {
        Self(root.join("events"))
    }

    pub fn load(&self, function: &str, file: &str) -> Result<Value> {
        let path = self.0.join(function).join(file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn http(&self, function: &str, file: &str) -> Result<HttpEvent> {
        Ok(HttpEvent(self.load(function, file)?))
    }

    /// An SQS delivery of one message body, in the shape of the campaign-page sample.
    pub fn sqs(&self, message_id: &str, body: &str) -> Result<Value> {
        let mut event = self.load("notification", "campaign-page.json")?;
        let record = event["Records"].get_mut(0).ok_or_else(|| anyhow!("the SQS sample has no record"))?;
        record["messageId"] = Value::String(message_id.to_owned());
        record["body"] = Value::String(body.to_owned());
        Ok(event)
    }

    /// An SNS delivery of `envelope`, in the shape of the notification samples.
    pub fn sns(&self, envelope: &Envelope) -> Result<Value> {
        let mut event = self.load("notification", "order-placed.json")?;
        let record = event["Records"].get_mut(0).ok_or_else(|| anyhow!("the SNS sample has no record"))?;
        record["Sns"]["Message"] = Value::String(serde_json::to_string(envelope)?);
        record["Sns"]["MessageId"] = Value::String(uuid::Uuid::new_v4().to_string());
        record["Sns"]["MessageAttributes"]["type"]["Value"] = Value::String(envelope.event.type_name().to_owned());
        Ok(event)
    }
}

/// An API Gateway HTTP API (payload 2.0) event being adapted.
#[derive(Clone)]
pub struct HttpEvent(Value);

impl HttpEvent {
    /// The same route with another method (`routeKey` and `requestContext.http.method` agree).
    pub fn method(mut self, method: &str) -> Self {
        let route = self.0["routeKey"].as_str().and_then(|key| key.split_once(' ')).map(|(_, path)| path.to_owned());
        if let Some(path) = route {
            self.0["routeKey"] = Value::String(format!("{method} {path}"));
            self.0["requestContext"]["routeKey"] = Value::String(format!("{method} {path}"));
        }
        self.0["requestContext"]["http"]["method"] = Value::String(method.to_owned());
        self
    }

    /// A path with its parameters, as API Gateway fills `rawPath` and `pathParameters`.
    pub fn path(mut self, raw_path: String, parameters: &[(&str, &str)]) -> Self {
        self.0["requestContext"]["http"]["path"] = Value::String(raw_path.clone());
        self.0["rawPath"] = Value::String(raw_path);
        let parameters: serde_json::Map<String, Value> =
            parameters.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
        self.0["pathParameters"] = Value::Object(parameters);
        self
    }

    pub fn query(mut self, parameters: &[(&str, &str)]) -> Self {
        let raw: Vec<String> = parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.0["rawQueryString"] = Value::String(raw.join("&"));
        let parameters: serde_json::Map<String, Value> =
            parameters.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
        self.0["queryStringParameters"] = Value::Object(parameters);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0["headers"][name] = Value::String(value.to_owned());
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn body(mut self, body: &Value) -> Self {
        self.0["body"] = Value::String(body.to_string());
        self
    }

    /// The sample's own JSON body, to adapt a field or two of it.
    pub fn json_body(&self) -> Result<Value> {
        let body = self.0["body"].as_str().ok_or_else(|| anyhow!("the sample has no body"))?;
        Ok(serde_json::from_str(body)?)
    }

    pub fn event(self, route: &'static str, status: u16) -> Event {
        Event { route, payload: self.0, expect: Expect::Status(status) }
    }
}
