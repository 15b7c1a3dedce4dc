//! The tax system (سامانه مودیان, API v2): the signed and encrypted forms it reads, its API, and
//! the store's signing key for it.

pub mod jose;
pub mod moadian;
pub mod signing_key;
