//! The HTTPS client of calls to the world outside AWS (the payment gateway, the tax system):
//! reqwest over the rustls and aws-lc the SDK already builds (no second crypto library), with the
//! system's root certificates.

use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("an HTTPS client could not be built: {0}")]
pub struct ClientSetupError(String);

/// A client whose every call ends within `call_timeout`, its connection within
/// `connect_timeout`.
pub fn client(call_timeout: Duration, connect_timeout: Duration) -> Result<reqwest::Client, ClientSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| ClientSetupError(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(call_timeout)
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|error| ClientSetupError(error.to_string()))
}
