//! Configuration from the environment, read once per cold start.

/// A setting the function cannot run without. The error names the variable, never its value.
#[derive(Debug, thiserror::Error)]
#[error("the environment variable {0} is missing or empty")]
pub struct MissingSetting(pub &'static str);

pub fn required(name: &'static str) -> Result<String, MissingSetting> {
    std::env::var(name).ok().filter(|value| !value.is_empty()).ok_or(MissingSetting(name))
}

/// The AWS configuration: region, credentials and per-service endpoints from the standard
/// variables (`AWS_ENDPOINT_URL_DYNAMODB`, …), so the same binary runs on AWS and locally.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
