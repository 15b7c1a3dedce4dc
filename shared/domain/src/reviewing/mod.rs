//! Reviewing: product reviews, their public listing and moderation (P10, P11, P13, P14).

pub mod review;
