//! Messaging adapters: the events topic, email through SESv2, SMS through SNS, the campaign-pages
//! queue (SQS).

pub mod campaign_pages;
pub mod email;
pub mod events_topic;
pub mod sms;

use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};

/// A message that could not be handed to the provider. Only the provider's error code is kept:
/// its message may quote the recipient.
#[derive(Debug, thiserror::Error)]
#[error("the message was not accepted ({0})")]
pub struct SendError(pub String);

impl SendError {
    pub(crate) fn from_sdk<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Self {
        Self(match error {
            SdkError::ServiceError(service) => service.err().code().unwrap_or("unknown").to_owned(),
            SdkError::TimeoutError(_) => "timeout".to_owned(),
            SdkError::DispatchFailure(_) => "dispatch-failure".to_owned(),
            _ => "sdk-error".to_owned(),
        })
    }
}
