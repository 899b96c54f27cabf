//! Integration tests: the real gateway over real HTTPS and mTLS.

// Test code fails loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod accounts;
mod consents;
mod crash;
mod docs;
mod example;
mod funds;
mod http_core;
mod interbank;
mod mtls;
mod oauth;
mod ops;
mod payment_faults;
mod payments;
mod rate_limits;
mod request_id;
mod risk;
mod storage;
