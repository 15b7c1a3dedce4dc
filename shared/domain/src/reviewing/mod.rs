//! Reviewing: product reviews, their public listing and moderation (P10, P11, P13, P14).

pub mod closed_authors;
pub mod moderation;
pub mod ports;
pub mod posting;
pub mod review;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
