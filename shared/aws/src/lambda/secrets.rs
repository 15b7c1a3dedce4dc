//! Secrets, read from Secrets Manager once when a function starts. The environment only names
//! each secret (`<NAME>_SECRET`: its ARN or name), so no function's configuration shows a key;
//! each function's policy lets it read exactly the secrets it names, and their values live in
//! the process alone.

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Named by the variable, never by its value.
    #[error("the secrets could not be read: {0}")]
    Unreadable(String),
    #[error("the secret named by {0} was not answered or holds no text")]
    Absent(String),
    #[error("the secret named by {0} is not in the expected form")]
    Shape(String),
}

/// The values of the secrets a function asked for, by the name of their variable (without
/// `_SECRET`).
pub struct Secrets(HashMap<&'static str, String>);

impl Secrets {
    /// Reads the secrets the variables `<name>_SECRET` name, in one call.
    pub async fn load(aws: &aws_config::SdkConfig, names: &[&'static str]) -> Result<Self, SecretError> {
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            let variable = format!("{name}_SECRET");
            let id = std::env::var(&variable).ok().filter(|id| !id.is_empty());
            ids.push(id.ok_or(SecretError::Absent(variable))?);
        }
        let answer = aws_sdk_secretsmanager::Client::new(aws)
            .batch_get_secret_value()
            .set_secret_id_list(Some(ids.clone()))
            .send()
            .await
            .map_err(|error| SecretError::Unreadable(DisplayErrorContext(&error).to_string()))?;
        let values = answer.secret_values();
        let mut found = HashMap::with_capacity(names.len());
        for (name, id) in names.iter().zip(&ids) {
            // An id is the secret's ARN (a template's !Ref) or its name (a parameter, or locally).
            let value = values
                .iter()
                .find(|value| value.arn() == Some(id.as_str()) || value.name() == Some(id.as_str()))
                .and_then(|value| value.secret_string())
                .filter(|text| !text.is_empty())
                .ok_or_else(|| SecretError::Absent(format!("{name}_SECRET")))?;
            found.insert(*name, value.to_owned());
        }
        Ok(Self(found))
    }

    /// The value of a secret this function loaded.
    pub fn take(&mut self, name: &'static str) -> Result<String, SecretError> {
        self.0.remove(name).ok_or_else(|| SecretError::Absent(format!("{name}_SECRET")))
    }
}

/// The unsubscribe keys' secret, `{"signing": "k2", "k2": "<key>", "k1": "<key>"}`, in the
/// domain's `id:key,…` form with the signing key first: the template generates it with one key,
/// and a rotation adds a key and names it as signing, keeping the old one to verify old links.
pub fn unsubscribe_keys(secret: &str) -> Result<String, SecretError> {
    let shape = || SecretError::Shape("UNSUBSCRIBE_KEYS_SECRET".to_owned());
    let keys: std::collections::BTreeMap<String, String> = serde_json::from_str(secret).map_err(|_| shape())?;
    let signing = keys.get("signing").ok_or_else(shape)?;
    let first = keys.get(signing).ok_or_else(shape)?;
    let others = keys.iter().filter(|(id, _)| *id != "signing" && *id != signing);
    let list: Vec<String> =
        std::iter::once(format!("{signing}:{first}")).chain(others.map(|(id, key)| format!("{id}:{key}"))).collect();
    Ok(list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unsubscribe_secret_lists_its_signing_key_first_and_keeps_the_others_for_verifying() {
        let secret = r#"{"k1": "old-key", "signing": "k2", "k2": "new-key"}"#;
        assert_eq!(unsubscribe_keys(secret).unwrap(), "k2:new-key,k1:old-key");
        assert_eq!(unsubscribe_keys(r#"{"signing": "k1", "k1": "only"}"#).unwrap(), "k1:only");
        for bad in [r#"{"k1": "no-signing"}"#, r#"{"signing": "k9", "k1": "x"}"#, "k1:plain-text"] {
            assert!(unsubscribe_keys(bad).is_err(), "{bad}");
        }
    }
}
