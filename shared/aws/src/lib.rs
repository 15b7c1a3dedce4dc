//! Mizan Coffee's adapters: the domain's ports kept in DynamoDB, sent through SES, SNS and SQS,
//! sealed with KMS, paid through a payment gateway, reported to the tax system, and the Lambda edge that decodes requests and
//! encodes answers.

pub mod dynamodb;
pub mod gateway;
pub mod https;
pub mod kms;
pub mod lambda;
pub mod notify;
pub mod tax;
