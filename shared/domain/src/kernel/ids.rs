//! Ids derived from what makes a thing unique, instead of drawn at random: the same request,
//! retried or repeated, lands on the same id, and conditional writes and deliveries keyed by
//! it make its effects happen once.

use sha2::{Digest, Sha256};

/// A UUID (version 8) from SHA-256 over a purpose and the parts, each separated so that
/// different splits of the same text never collide.
pub(crate) fn derived(purpose: &str, parts: &[&str]) -> uuid::Uuid {
    let mut hash = Sha256::new().chain_update(purpose).chain_update(b"\0");
    for part in parts {
        hash = hash.chain_update(part).chain_update(b"\0");
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_parts_give_the_same_id_and_different_splits_do_not_collide() {
        assert_eq!(derived("p", &["a", "b"]), derived("p", &["a", "b"]));
        assert_ne!(derived("p", &["ab", ""]), derived("p", &["a", "b"]));
        assert_ne!(derived("p", &["a"]), derived("q", &["a"]));
        assert_eq!(derived("p", &["a"]).get_version_num(), 8);
    }
}
