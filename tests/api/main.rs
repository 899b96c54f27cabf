//! Integration tests: the real gateway over real HTTPS and mTLS.

// Test code fails loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod accounts;
mod consents;
mod docs;
mod example;
mod http_core;
mod interbank;
mod mtls;
mod oauth;
mod ops;
mod payments;
mod rate_limits;
mod request_id;
mod risk;
mod storage;
