//! The store's signing identity with the tax system, read from Secrets Manager when a function
//! starts: a secret holding `{"private_key": <PEM>, "certificate": <PEM>}`. It never passes
//! through the environment or a log.

use aws_sdk_secretsmanager::Client;

use super::jose::{JoseError, TaxpayerKey};

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// The secret could not be read (named, never its value).
    #[error("the secret {0} could not be read")]
    Unreadable(String),
    #[error("the secret {0} is not {{\"private_key\", \"certificate\"}} JSON")]
    Shape(String),
    #[error(transparent)]
    Key(#[from] JoseError),
}

pub async fn load(client: &Client, secret: &str) -> Result<TaxpayerKey, SigningKeyError> {
    let value = client
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|_| SigningKeyError::Unreadable(secret.to_owned()))?;
    let text = value.secret_string().ok_or_else(|| SigningKeyError::Shape(secret.to_owned()))?;
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|_| SigningKeyError::Shape(secret.to_owned()))?;
    let field = |name| parsed.get(name).and_then(serde_json::Value::as_str);
    let (Some(private_key), Some(certificate)) = (field("private_key"), field("certificate")) else {
        return Err(SigningKeyError::Shape(secret.to_owned()));
    };
    Ok(TaxpayerKey::from_pem(private_key, certificate)?)
}
