//! Configuration from the environment, read once per cold start.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use mizan::accounts::session::SessionKeys;

/// A setting the function cannot run without. The error names the variable, never its value.
#[derive(Debug, thiserror::Error)]
#[error("the environment variable {0} is missing or empty")]
pub struct MissingSetting(pub &'static str);

pub fn required(name: &'static str) -> Result<String, MissingSetting> {
    std::env::var(name).ok().filter(|value| !value.is_empty()).ok_or(MissingSetting(name))
}

/// The public keys every function that serves signed-in people checks their sessions with
/// (SESSION_PUBLIC_KEYS: not secret; the private key is the signup function's alone).
pub fn session_keys() -> Result<SessionKeys, lambda_http::Error> {
    Ok(SessionKeys::parse(&required("SESSION_PUBLIC_KEYS")?)?)
}

/// How long one attempt of a call may take, and the call with its retries: a provider that
/// stops answering makes the call fail in time for the function to say so (503, or a batch item
/// failure) before Lambda's own timeout (10 s for the HTTP functions) cuts it off silently.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
const CALL_TIMEOUT: Duration = Duration::from_secs(9);

/// The AWS configuration: region, credentials and per-service endpoints from the standard
/// variables (`AWS_ENDPOINT_URL_DYNAMODB`, …), so the same binary runs on AWS and locally.
pub async fn aws() -> aws_config::SdkConfig {
    let timeouts =
        TimeoutConfig::builder().operation_attempt_timeout(ATTEMPT_TIMEOUT).operation_timeout(CALL_TIMEOUT).build();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

/// How long one email or SMS may take to hand over: long enough that a provider that is merely
/// slow is waited for rather than given up on with the outcome unknown.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// The configuration for calls that send something and cannot be repeated safely (an email, an
/// SMS): one attempt, given time. An SDK retry after a timeout sends a second copy whenever the
/// first in fact went out; a send that failed is retried by its delivery's claim instead
/// (`messaging::delivery`), which knows what was already sent.
pub fn for_sending(aws: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    let timeouts =
        TimeoutConfig::builder().operation_attempt_timeout(SEND_TIMEOUT).operation_timeout(SEND_TIMEOUT).build();
    aws.to_builder().retry_config(RetryConfig::disabled()).timeout_config(timeouts).build()
}
