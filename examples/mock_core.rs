//! A reference core-banking server speaking the gateway's HTTP core protocol
//! (`docs/core-adapter.md`, `openapi/core-adapter.json`): what bank IT puts in
//! front of its core, here over in-memory books seeded like the sandbox (PSUs
//! alice/alice and bob/bob, two EUR accounts each, months of history, one-time
//! code 123456, idempotent payments that really move money).
//!
//! ```sh
//! cargo run --example mock_core -- --addr 127.0.0.1:9100
//! OBGW_CORE__ADAPTER=http OBGW_CORE__HTTP__BASE_URL=http://127.0.0.1:9100 cargo run
//! ```
//!
//! The server itself lives in the library (`obgw::core::http::mock`) so the
//! integration tests can start it in-process and inject faults; this is only
//! its command line.

use obgw::core::http::mock::{MockCoreOptions, spawn_mock_core_with};

const USAGE: &str = "usage: mock_core [--addr HOST:PORT] [--bank-code 8DIGITS] [--history-days N]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let mut addr = "127.0.0.1:9100".to_owned();
    let mut options = MockCoreOptions {
        workers: 2,
        ..Default::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            return Ok(());
        }
        let value = args.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--bank-code" => options.bank_code = value,
            "--history-days" => options.history_days = value.parse().map_err(|_| USAGE)?,
            _ => return Err(USAGE.into()),
        }
    }
    let mut core = spawn_mock_core_with(&addr, options).await?;
    tracing::info!(base_url = %core.base_url(), "mock core listening; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    core.stop().await;
    Ok(())
}
