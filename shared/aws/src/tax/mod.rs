//! The tax system (سامانه مودیان, API v2): the signed and encrypted forms it reads.

pub mod jose;
