//! The compact JOSE forms the tax system (سامانه مودیان, API v2) speaks, assembled here over
//! aws-lc-rs (the crypto library the SDK's TLS already builds): a JWS signed RS256 with the
//! taxpayer's key, its certificate in `x5c` and the signing time in the critical `sigT`; and a JWE
//! to the tax organisation's key, RSA-OAEP-256 wrapping a fresh AES-256-GCM key
//! (shared/design/payments-and-tax.md). Generic JOSE libraries refuse `crit: ["sigT"]` or link
//! OpenSSL; the assembly is small.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What went wrong assembling a JOSE object: a key that does not load, or a crypto call that
/// failed. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("the taxpayer's private key could not be read (PKCS#8 or PKCS#1 PEM expected)")]
    PrivateKey,
    #[error("the taxpayer's certificate could not be read (PEM expected)")]
    Certificate,
    #[error("the tax organisation's public key could not be read")]
    PublicKey,
    #[error("{0} failed")]
    Crypto(&'static str),
}

/// The store's signing identity with the tax system: its RSA private key and the certificate the
/// tax organisation issued for it. Both come from Secrets Manager; neither is ever logged.
pub struct TaxpayerKey {
    key: RsaKeyPair,
    /// The certificate as `x5c` carries it: standard base64 of its DER.
    certificate: String,
}

impl std::fmt::Debug for TaxpayerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaxpayerKey(..)")
    }
}

impl TaxpayerKey {
    /// From the PEM of the private key (`PRIVATE KEY`, PKCS#8, or `RSA PRIVATE KEY`, PKCS#1) and
    /// the PEM of its certificate.
    pub fn from_pem(private_key: &str, certificate: &str) -> Result<Self, JoseError> {
        let (label, der) = pem(private_key).ok_or(JoseError::PrivateKey)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            _ => return Err(JoseError::PrivateKey),
        }
        .map_err(|_| JoseError::PrivateKey)?;
        let (label, certificate) = pem(certificate).ok_or(JoseError::Certificate)?;
        if label != "CERTIFICATE" {
            return Err(JoseError::Certificate);
        }
        Ok(Self { key, certificate: STANDARD.encode(certificate) })
    }

    /// A compact JWS of `payload`, signed at `at`: protected header `alg` RS256, `x5c` the
    /// certificate, `sigT` the time, `crit` naming it, `typ` jose, `cty` text/plain.
    pub fn sign(&self, payload: &[u8], at: OffsetDateTime) -> Result<String, JoseError> {
        let at = at.replace_nanosecond(0).unwrap_or(at);
        let sig_t = at.format(&Rfc3339).map_err(|_| JoseError::Crypto("formatting sigT"))?;
        let header = json!({
            "alg": "RS256",
            "x5c": [self.certificate],
            "sigT": sig_t,
            "typ": "jose",
            "crit": ["sigT"],
            "cty": "text/plain",
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(payload));
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| JoseError::Crypto("RS256 signing"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The tax organisation's public key, as `server-information` gives it, and its id (`kid`).
pub struct OrganisationKey {
    key: OaepPublicEncryptingKey,
    id: String,
}

impl OrganisationKey {
    /// From the standard base64 of the key's DER (X.509 SubjectPublicKeyInfo), or its PEM.
    pub fn parse(key: &str, id: &str) -> Result<Self, JoseError> {
        let der = match pem(key) {
            Some((_, der)) => der,
            None => STANDARD.decode(key.split_whitespace().collect::<String>()).map_err(|_| JoseError::PublicKey)?,
        };
        let key = PublicEncryptingKey::from_der(&der).map_err(|_| JoseError::PublicKey)?;
        let key = OaepPublicEncryptingKey::new(key).map_err(|_| JoseError::PublicKey)?;
        Ok(Self { key, id: id.to_owned() })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A compact JWE of `plaintext` for this key: protected header `alg` RSA-OAEP-256, `enc`
    /// A256GCM, `kid`; a fresh 32-byte content key wrapped by RSA-OAEP (SHA-256), a 12-byte IV,
    /// the protected header's base64url as AAD, and the 16-byte tag.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, JoseError> {
        let random = SystemRandom::new();
        let header = json!({ "alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": self.id });
        let protected = URL_SAFE_NO_PAD.encode(header.to_string());
        let mut content_key = [0u8; 32];
        let mut iv = [0u8; NONCE_LEN];
        random.fill(&mut content_key).map_err(|_| JoseError::Crypto("drawing a content key"))?;
        random.fill(&mut iv).map_err(|_| JoseError::Crypto("drawing an IV"))?;
        let mut wrapped = vec![0; self.key.ciphertext_size()];
        let wrapped = self
            .key
            .encrypt(&OAEP_SHA256_MGF1SHA256, &content_key, &mut wrapped, None)
            .map_err(|_| JoseError::Crypto("RSA-OAEP-256 key wrapping"))?;
        let cipher = UnboundKey::new(&AES_256_GCM, &content_key).map_err(|_| JoseError::Crypto("AES-256-GCM key"))?;
        let mut ciphertext = plaintext.to_vec();
        let tag = LessSafeKey::new(cipher)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(protected.as_bytes()),
                &mut ciphertext,
            )
            .map_err(|_| JoseError::Crypto("AES-256-GCM sealing"))?;
        Ok([
            protected.as_str(),
            &URL_SAFE_NO_PAD.encode(wrapped),
            &URL_SAFE_NO_PAD.encode(iv),
            &URL_SAFE_NO_PAD.encode(&ciphertext),
            &URL_SAFE_NO_PAD.encode(tag.as_ref()),
        ]
        .join("."))
    }
}

/// The label and DER of the first PEM block in `text`.
fn pem(text: &str) -> Option<(String, Vec<u8>)> {
    let begin = text.find("-----BEGIN ")?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body_start = label_end + "-----".len();
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker)?;
    let body: String = rest.get(body_start..body_end)?.split_whitespace().collect();
    STANDARD.decode(body).ok().map(|der| (label, der))
}

#[cfg(test)]
mod tests {
    //! The forms are taken apart here by hand, as the tax system would, without this module's
    //! code: split, decode, verify or decrypt with the primitives alone.

    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::rsa::{KeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey};
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use serde_json::Value;

    use super::*;

    const CERTIFICATE: &[u8] = b"a certificate's DER, opaque to the signature";

    fn pem_of(label: &str, der: &[u8]) -> String {
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(der))
    }

    fn taxpayer() -> (TaxpayerKey, Vec<u8>) {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&key).unwrap();
        let public = key.public_key().as_ref().to_vec();
        let loaded = TaxpayerKey::from_pem(&pem_of("PRIVATE KEY", pkcs8.as_ref()), &pem_of("CERTIFICATE", CERTIFICATE));
        (loaded.unwrap(), public)
    }

    fn decoded(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).unwrap()
    }

    #[test]
    fn a_jws_carries_the_certificate_and_the_critical_signing_time_and_verifies() {
        let (key, public) = taxpayer();
        let at = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let jws = key.sign(br#"{"nonce":"n1","clientId":"A11T3Z"}"#, at).unwrap();
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&decoded(parts[0])).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "jose");
        assert_eq!(header["cty"], "text/plain");
        assert_eq!(header["crit"], serde_json::json!(["sigT"]));
        assert_eq!(header["sigT"], "2026-11-30T00:53:20Z");
        assert_eq!(STANDARD.decode(header["x5c"][0].as_str().unwrap()).unwrap(), CERTIFICATE);
        assert_eq!(decoded(parts[1]), br#"{"nonce":"n1","clientId":"A11T3Z"}"#);
        let verifier = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public);
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(verifier.verify(signed.as_bytes(), &decoded(parts[2])).is_ok());

        let tampered = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(br#"{"nonce":"n2","clientId":"A11T3Z"}"#));
        assert!(verifier.verify(tampered.as_bytes(), &decoded(parts[2])).is_err(), "a tampered payload fails");
    }

    #[test]
    fn a_jwe_opens_with_the_organisations_private_key_only_as_it_was_sealed() {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let public = AsDer::<PublicKeyX509Der>::as_der(&private.public_key()).unwrap();
        let organisation = OrganisationKey::parse(&STANDARD.encode(public.as_ref()), "kid-7").unwrap();
        let jwe = organisation.encrypt(b"the signed invoice").unwrap();
        let parts: Vec<&str> = jwe.split('.').collect();
        assert_eq!(parts.len(), 5);
        let header: Value = serde_json::from_slice(&decoded(parts[0])).unwrap();
        assert_eq!(
            (header["alg"].as_str(), header["enc"].as_str(), header["kid"].as_str()),
            (Some("RSA-OAEP-256"), Some("A256GCM"), Some("kid-7"))
        );
        let (iv, tag) = (decoded(parts[2]), decoded(parts[4]));
        assert_eq!((iv.len(), tag.len()), (12, 16));

        let unwrapping = OaepPrivateDecryptingKey::new(private).unwrap();
        let mut content_key = vec![0; unwrapping.min_output_size()];
        let content_key =
            unwrapping.decrypt(&OAEP_SHA256_MGF1SHA256, &decoded(parts[1]), &mut content_key, None).unwrap();
        assert_eq!(content_key.len(), 32);
        let open = |ciphertext: Vec<u8>| {
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, content_key).unwrap());
            let mut sealed = [ciphertext, tag.clone()].concat();
            let nonce = Nonce::try_assume_unique_for_key(&iv).unwrap();
            key.open_in_place(nonce, Aad::from(parts[0].as_bytes()), &mut sealed).map(|plain| plain.to_vec())
        };
        assert_eq!(open(decoded(parts[3])).unwrap(), b"the signed invoice");
        let mut tampered = decoded(parts[3]);
        tampered[0] ^= 1;
        assert!(open(tampered).is_err(), "a tampered ciphertext does not open");
    }

    #[test]
    fn keys_that_are_not_keys_are_refused_without_echoing_them() {
        let certificate = pem_of("CERTIFICATE", CERTIFICATE);
        let error =
            TaxpayerKey::from_pem("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----", &certificate);
        assert_eq!(error.unwrap_err(), JoseError::PrivateKey);
        assert!(!JoseError::PrivateKey.to_string().contains("c2VjcmV0"));
        assert_eq!(
            OrganisationKey::parse("not base64 at all!", "k").err().map(|e| e.to_string()),
            Some(JoseError::PublicKey.to_string())
        );
    }
}
