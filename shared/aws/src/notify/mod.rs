//! Messaging adapters: the events topic, email through SESv2, SMS through SNS, the campaign-pages
//! queue (SQS).

pub mod campaign_pages;
pub mod email;
pub mod events_topic;
pub mod sms;

use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use mizan::kernel::failures::SendError;

/// Keeps only the provider's error code: its message may quote the recipient.
pub(crate) fn send_error<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> SendError {
    SendError(match error {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("unknown").to_owned(),
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch-failure".to_owned(),
        _ => "sdk-error".to_owned(),
    })
}
