//! The gateway's own OAuth 2.0 authorization server. So far: the registry of TPP
//! clients, each bound to one certificate (RFC 8705 `tls_client_auth`).

pub mod clients;
