//! KMS: field-level envelope encryption of identity codes (P4).

pub mod sealed_fields;
