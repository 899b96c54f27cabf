//! obgw: an Open Banking gateway (Berlin Group NextGenPSD2, FAPI-grade OAuth 2.0)
//! in front of a pluggable core-banking adapter.
//!
//! Data flows one way: transport → policy → domain → adapters/storage. The module
//! list below is that architecture; `ARCHITECTURE.md` walks through it.

/// Start-up: build state, bind the two listeners, serve.
pub mod app;
/// The command line.
pub mod cli;
/// Injected time.
pub mod clock;
/// The one typed configuration.
pub mod config;
/// Berlin Group consents: the model, its lifecycle, and who may read what.
pub mod consent;
/// The core-banking adapter trait: the sandbox ledger and the HTTP adapter.
pub mod core;
/// Value types parsed at the boundary (IBAN, currency, money).
pub mod domain;
/// Transport: actix routes, middleware, wire errors, docs.
pub mod http;
/// Idempotency-Key records, stored with the resource they created.
pub mod idempotency;
/// Between banks: crediting peer banks' customers, and receiving their credits.
pub mod interbank;
/// Prometheus metrics.
pub mod metrics;
/// The authorization server: TPP clients, grants, tokens, keys, the PSU page.
pub mod oauth;
/// Payment initiation: validation, idempotency, the status machine, forwarding
/// to the core exactly once through an outbox.
pub mod payments;
/// Keyed rate limits.
pub mod ratelimit;
/// Payment risk scoring and PSD2 RTS SCA exemptions.
pub mod risk;
/// Secrets as types.
pub mod secret;
/// Diesel storage over SQLite or PostgreSQL.
pub mod store;
/// Tracing set-up.
pub mod telemetry;
/// rustls configs, client-certificate identity, dev certificates.
pub mod tls;
