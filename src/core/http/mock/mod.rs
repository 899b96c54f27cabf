//! A reference core server speaking the core-banking protocol, over in-memory
//! books seeded like the sandbox. `cargo run --example mock_core` runs it on its
//! own; tests start it in-process with [`spawn_mock_core`] and inject faults
//! through the [`MockCoreHandle`]: a delay on every response, 500 for
//! everything, or the server stopped and started again on the same address.
//!
//! A delay is applied after the request was handled, as a slow network would:
//! a payment whose answer times out has still been executed, which is exactly
//! the case `payment_status` exists to reconcile. A stall is applied before the
//! request is handled, as a congested core would: the caller times out before
//! anything happened (and the core may still execute it later).

mod ledger;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};

use super::protocol::{
    AccountDto, AccountList, Authenticated, BalanceDto, BalanceList, ChallengeDto,
    ChallengeRequest, Credentials, ErrorBody, FundsAnswer, FundsCheck, PaymentOrderDto,
    PaymentOutcomeDto, TransactionDto, TransactionPageDto, TransactionQueryDto, VerifyAnswer,
    VerifyRequest, parse_iban,
};
use crate::clock::{Clock, SystemClock};
use crate::core::{BookingStatus, PsuId, TransactionQuery};
use crate::secret::Secret;
use ledger::Ledger;

pub use ledger::MOCK_OTP;

/// The bank code in the mock core's IBANs: the sandbox's default, so alice's
/// and bob's first two accounts have the same IBANs as in the sandbox.
pub const MOCK_BANK_CODE: &str = "99912345";

#[derive(Debug, Clone)]
pub struct MockCoreOptions {
    /// The 8-digit bank code of the seeded IBANs.
    pub bank_code: String,
    /// Days of seeded history.
    pub history_days: u32,
    /// HTTP worker threads.
    pub workers: usize,
    /// Time for seeding, challenge expiry and bookings.
    pub clock: Arc<dyn Clock>,
    /// Serve HTTPS with this rustls config (e.g. `tls::mtls_server_config`, to
    /// require the gateway's client certificate); plain HTTP when `None`.
    pub tls: Option<rustls::ServerConfig>,
}

impl Default for MockCoreOptions {
    fn default() -> Self {
        MockCoreOptions {
            bank_code: MOCK_BANK_CODE.into(),
            history_days: 180,
            workers: 1,
            clock: Arc::new(SystemClock),
            tls: None,
        }
    }
}

struct MockState {
    ledger: Mutex<Ledger>,
    clock: Arc<dyn Clock>,
    delay_ms: AtomicU64,
    stall_ms: AtomicU64,
    /// The status every request is answered with; 0 when not failing.
    failing: AtomicU16,
    requests: AtomicU64,
}

impl MockState {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running (or stopped) mock core. Dropping it leaves the server running
/// until the runtime ends.
pub struct MockCoreHandle {
    addr: SocketAddr,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
    state: web::Data<MockState>,
    server: Option<ServerHandle>,
}

/// Starts a mock core with the default options on `addr` (port 0 picks one).
pub async fn spawn_mock_core(addr: &str) -> std::io::Result<MockCoreHandle> {
    spawn_mock_core_with(addr, MockCoreOptions::default()).await
}

pub async fn spawn_mock_core_with(
    addr: &str,
    options: MockCoreOptions,
) -> std::io::Result<MockCoreHandle> {
    let ledger = ledger::seeded(
        options.clock.now(),
        &options.bank_code,
        options.history_days,
    )
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr)?;
    let mut handle = MockCoreHandle {
        addr: listener.local_addr()?,
        workers: options.workers.max(1),
        tls: options.tls,
        state: web::Data::new(MockState {
            ledger: Mutex::new(ledger),
            clock: options.clock,
            delay_ms: AtomicU64::new(0),
            stall_ms: AtomicU64::new(0),
            failing: AtomicU16::new(0),
            requests: AtomicU64::new(0),
        }),
        server: None,
    };
    handle.server = Some(handle.serve(listener)?);
    Ok(handle)
}

impl MockCoreHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What `core.http.base_url` should say.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Requests that reached the server so far (faulty answers included).
    pub fn requests_seen(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Delays every response by `delay` (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Holds every request for `stall` before handling it (zero: none).
    pub fn set_stall(&self, stall: Duration) {
        let ms = u64::try_from(stall.as_millis()).unwrap_or(u64::MAX);
        self.state.stall_ms.store(ms, Ordering::SeqCst);
    }

    /// Answers every request with 500 while set.
    pub fn set_failing(&self, failing: bool) {
        self.set_failing_with(if failing { 500 } else { 0 });
    }

    /// Answers every request with `status` (a 5xx; 0 stops failing), e.g. 503
    /// to see reads retried.
    pub fn set_failing_with(&self, status: u16) {
        self.state.failing.store(status, Ordering::SeqCst);
    }

    /// How many payments moved money so far.
    pub fn executed_payments(&self) -> usize {
        self.state.ledger().executed_payments()
    }

    /// Stops serving and frees the port; the books are kept.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(false).await;
        }
    }

    /// Serves again on the same address, with the same books.
    pub async fn start(&mut self) -> std::io::Result<()> {
        if self.server.is_none() {
            let listener = TcpListener::bind(self.addr)?;
            self.server = Some(self.serve(listener)?);
        }
        Ok(())
    }
}

impl MockCoreHandle {
    fn serve(&self, listener: TcpListener) -> std::io::Result<ServerHandle> {
        let state = self.state.clone();
        let server = HttpServer::new(move || {
            let bad_input = |e: &dyn std::fmt::Display| {
                let res = error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string());
                actix_web::error::InternalError::from_response(e.to_string(), res).into()
            };
            App::new()
                .app_data(state.clone())
                .app_data(web::JsonConfig::default().error_handler(move |e, _| bad_input(&e)))
                .app_data(web::QueryConfig::default().error_handler(move |e, _| bad_input(&e)))
                .configure(routes)
                .default_service(web::to(|| async { not_found() }))
                .wrap(from_fn(faults))
        })
        .workers(self.workers)
        .disable_signals()
        .shutdown_timeout(1);
        let server = match &self.tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls.clone())?,
            None => server.listen(listener)?,
        }
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(handle)
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/psu/authenticate", web::post().to(authenticate))
        .route("/psus/{psu}/accounts", web::get().to(accounts))
        .route("/accounts/by-iban/{iban}", web::get().to(account_by_iban))
        .route("/accounts/{id}", web::get().to(account))
        .route("/accounts/{id}/balances", web::get().to(balances))
        .route("/accounts/{id}/transactions", web::get().to(transactions))
        .route(
            "/accounts/{id}/transactions/{tx}",
            web::get().to(transaction),
        )
        .route("/funds-check", web::post().to(funds_check))
        .route("/sca/challenges", web::post().to(issue_challenge))
        .route("/sca/challenges/{id}/verify", web::post().to(verify))
        .route("/payments/{id}", web::put().to(submit_payment))
        .route("/payments/{id}", web::get().to(payment_status));
}

/// The fault knobs: fail or stall before handling, delay after.
async fn faults(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let knobs = req.app_data::<web::Data<MockState>>().map(|s| {
        s.requests.fetch_add(1, Ordering::SeqCst);
        (
            s.failing.load(Ordering::SeqCst),
            s.delay_ms.load(Ordering::SeqCst),
            s.stall_ms.load(Ordering::SeqCst),
        )
    });
    let (failing, delay_ms, stall_ms) = knobs.unwrap_or_default();
    if let Ok(status) = StatusCode::from_u16(failing) {
        let res = error(status, "unavailable", "Injected failure.");
        return Ok(req.into_response(res).map_into_right_body());
    }
    if stall_ms > 0 {
        tokio::time::sleep(Duration::from_millis(stall_ms)).await;
    }
    let res = next.call(req).await?;
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    Ok(res.map_into_left_body())
}

type State = web::Data<MockState>;

fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: code.into(),
        message: message.into(),
    })
}

fn not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "not_found", "No such resource.")
}

fn bad_request(message: &str) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, "bad_request", message)
}

fn ok(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

async fn health() -> HttpResponse {
    ok(serde_json::json!({"status": "ok"}))
}

async fn authenticate(state: State, body: web::Json<Credentials>) -> HttpResponse {
    let password = Secret::new(body.password.clone());
    match state.ledger().authenticate(&body.username, &password) {
        Some(psu) => ok(Authenticated { psu_id: psu.0 }),
        None => error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Wrong username or password.",
        ),
    }
}

async fn accounts(state: State, psu: web::Path<String>) -> HttpResponse {
    let ledger = state.ledger();
    if !ledger.knows_psu(&psu) {
        return not_found();
    }
    let accounts = ledger
        .accounts_of(&psu)
        .iter()
        .map(AccountDto::from)
        .collect();
    ok(AccountList { accounts })
}

async fn account(state: State, id: web::Path<String>) -> HttpResponse {
    let found = state.ledger().account(&id);
    found.map_or_else(not_found, |a| ok(AccountDto::from(&a)))
}

async fn account_by_iban(state: State, iban: web::Path<String>) -> HttpResponse {
    let Ok(iban) = parse_iban(&iban) else {
        return bad_request("Not a valid IBAN.");
    };
    let found = state.ledger().account_by_iban(&iban);
    found.map_or_else(not_found, |a| ok(AccountDto::from(&a)))
}

async fn balances(state: State, id: web::Path<String>) -> HttpResponse {
    let today = state.clock.now().date();
    let found = state.ledger().balances(&id, today);
    found.map_or_else(not_found, |b| {
        ok(BalanceList {
            balances: b.iter().map(BalanceDto::from).collect(),
        })
    })
}

async fn transactions(
    state: State,
    id: web::Path<String>,
    q: web::Query<TransactionQueryDto>,
) -> HttpResponse {
    let status = match q.status.as_str() {
        "booked" => BookingStatus::Booked,
        "pending" => BookingStatus::Pending,
        "both" => BookingStatus::Both,
        _ => return bad_request("status must be booked, pending or both."),
    };
    if q.date_from > q.date_to || !(1..=1000).contains(&q.limit) {
        return bad_request("Need dateFrom <= dateTo and 1 <= limit <= 1000.");
    }
    let query = TransactionQuery {
        status,
        date_from: q.date_from,
        date_to: q.date_to,
        offset: q.offset,
        limit: q.limit,
    };
    let found = state.ledger().transactions(&id, &query);
    found.map_or_else(not_found, |p| ok(TransactionPageDto::from(&p)))
}

async fn transaction(state: State, path: web::Path<(String, String)>) -> HttpResponse {
    let found = state.ledger().transaction(&path.0, &path.1);
    found.map_or_else(not_found, |t| ok(TransactionDto::from(&t)))
}

async fn funds_check(state: State, body: web::Json<FundsCheck>) -> HttpResponse {
    let Ok(amount) = body.amount.to_money() else {
        return bad_request("Invalid amount.");
    };
    let found = state.ledger().funds_available(&body.iban, &amount);
    found.map_or_else(not_found, |funds_available| {
        ok(FundsAnswer { funds_available })
    })
}

async fn issue_challenge(state: State, body: web::Json<ChallengeRequest>) -> HttpResponse {
    let Ok(context) = body.context.to_context() else {
        return bad_request("Invalid SCA context.");
    };
    let psu = PsuId(body.psu_id.clone());
    let issued = state.ledger().issue(&psu, &context, state.clock.now());
    issued.map_or_else(not_found, |c| {
        HttpResponse::Created().json(ChallengeDto::from(&c))
    })
}

async fn verify(
    state: State,
    id: web::Path<String>,
    body: web::Json<VerifyRequest>,
) -> HttpResponse {
    let Ok(context) = body.context.to_context() else {
        return bad_request("Invalid SCA context.");
    };
    let (psu, otp) = (PsuId(body.psu_id.clone()), Secret::new(body.otp.clone()));
    let verdict = state
        .ledger()
        .verify(&id, &psu, &context, &otp, state.clock.now());
    verdict.map_or_else(not_found, |v| ok(VerifyAnswer::from(v)))
}

/// Idempotent by the path id: the first PUT executes (201), a repeat returns the
/// recorded outcome (200) and moves nothing.
async fn submit_payment(
    state: State,
    id: web::Path<String>,
    body: web::Json<PaymentOrderDto>,
) -> HttpResponse {
    let Ok(order) = body.into_inner().into_order(&id) else {
        return bad_request("Invalid payment order.");
    };
    let mut ledger = state.ledger();
    if let Some(outcome) = ledger.payment(&id) {
        return ok(PaymentOutcomeDto::from(&outcome));
    }
    let outcome = ledger.submit(&order, state.clock.now());
    HttpResponse::Created().json(PaymentOutcomeDto::from(&outcome))
}

async fn payment_status(state: State, id: web::Path<String>) -> HttpResponse {
    let found = state.ledger().payment(&id);
    found.map_or_else(not_found, |o| ok(PaymentOutcomeDto::from(&o)))
}
