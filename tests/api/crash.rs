//! A real crash: the `obgw` binary is killed with SIGKILL at a failpoint between
//! the PSU's approval and the core's answer, then started again. The payment ends
//! executed exactly once, whichever side of the core call the crash hit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::payments::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `obgw` binary serving `database_url`, and its log lines.
struct Gateway {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Gateway {
    fn start(database_url: &str, public: u16, mtls: u16, failpoint: Option<&str>) -> Gateway {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_obgw"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("OBGW_DATABASE_URL", database_url)
            .env("OBGW_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
            .env("OBGW_MTLS_ADDR", format!("127.0.0.1:{mtls}"))
            .env("OBGW_LOG", "info")
            .env("OBGW_LOG_FORMAT", "json")
            .env("OBGW_SERVER__WORKERS", "1")
            .env("OBGW_PAYMENTS__CLAIM_LEASE_SECONDS", "1")
            .env("OBGW_PAYMENTS__POLL_INTERVAL_MS", "100")
            .env_remove("OBGW_FAILPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(name) = failpoint {
            cmd.env("OBGW_FAILPOINT", name);
        }
        let mut child = cmd.spawn().expect("obgw starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Gateway { child, lines }
    }

    /// Waits (up to 20 s) for a log line containing `text`.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the gateway never logged {text:?}");
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills the gateway at `failpoint` after alice approved EUR 5 to bob, restarts
/// it, and checks the payment executed exactly once.
async fn crash_at(failpoint: &str) {
    // An in-process gateway on the same database, forwarding nothing itself: the
    // test reads the ledger and the payment through it and drives the real
    // binary's HTTP API through its helpers.
    let mut app = TestApp::spawn_with(|c| c.payments.run_forwarder = false).await;
    let (public, mtls) = (free_port(), free_port());
    app.public_url = format!("https://127.0.0.1:{public}");
    app.mtls_url = format!("https://127.0.0.1:{mtls}");
    let db = app.config.database.url.clone();

    let gateway = Gateway::start(&db, public, mtls, Some(failpoint));
    gateway.wait_for("obgw listening");
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let before = (
        app.booked_cents(&alice[0]).await,
        app.booked_cents(&bob[0]).await,
    );
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &bob[0], "5.00"))
        .await;
    app.psu_approves_payment(&id, "alice", false).await;
    gateway.wait_for(&format!("failpoint reached: {failpoint}"));
    gateway.kill();
    let stuck = app.state.payments.find(&id).await.unwrap();
    assert_eq!(
        stuck.status.as_str(),
        "ACTC",
        "{failpoint}: approved, not yet recorded"
    );

    let gateway = Gateway::start(&db, public, mtls, None);
    gateway.wait_for("obgw listening");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = app.state.payments.find(&id).await.unwrap().status;
        if status.is_terminal() || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.as_str(), "ACSC", "{failpoint}");
    assert_eq!(
        app.booked_cents(&alice[0]).await,
        before.0 - 500,
        "{failpoint}: one debit"
    );
    assert_eq!(
        app.booked_cents(&bob[0]).await,
        before.1 + 500,
        "{failpoint}: one credit"
    );
    let shown = app.payment_shown(&id);
    assert_eq!(shown["outbox"]["state"], "done");
    assert_eq!(
        shown["outbox"]["attempts"], 2,
        "reconciled by the second claim"
    );
    drop(gateway);
}

#[tokio::test]
async fn a_gateway_killed_before_submitting_an_approved_payment_submits_it_once_after_restart() {
    crash_at("before-submit").await;
}

#[tokio::test]
async fn a_gateway_killed_after_the_core_executed_a_payment_records_it_without_paying_twice() {
    crash_at("after-submit").await;
}
