//! What the benchmark examples share: HTTPS clients trusting the dev CA (with the
//! demo TPP's certificate or without), and a closed-loop load driver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// An HTTPS client trusting `certs/ca.pem`; with `identity`, presenting the demo
/// TPP's certificate.
pub fn https(identity: bool) -> anyhow::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(&std::fs::read("certs/ca.pem")?)?;
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256);
    if identity {
        let mut pem = std::fs::read("certs/demo-tpp.pem")?;
        pem.extend(std::fs::read("certs/demo-tpp.key")?);
        b = b.identity(reqwest::Identity::from_pem(&pem)?);
    }
    Ok(b.build()?)
}

/// Runs `concurrency` loops of `request` for `seconds`; returns (ok, failed, rate).
pub async fn load<F, Fut>(seconds: u64, concurrency: usize, request: F) -> (u64, u64, f64)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, ok, failed) = (request.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let counter = if request().await { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    (ok, failed.load(Ordering::Relaxed), ok as f64 / elapsed)
}
