//! Start-up: open the database, migrate, seed the sandbox, bind both listeners and
//! serve. [`Application::build`] is also the library API that tests and bank IT's
//! own binaries (with a custom [`CoreBanking`]) start the gateway through.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, CoreAdapterKind};
use crate::consent::{ConsentService, ConsentSettings, FundsConsentService};
use crate::core::CoreBanking;
use crate::core::http::{HttpCore, HttpCoreError};
use crate::core::sandbox::{self, SandboxCore};
use crate::http::middleware::{Listener, observe, rate_limit};
use crate::http::{self, AppState};
use crate::interbank::{InterbankService, PeerBanks, PeerSetupError};
use crate::metrics::Metrics;
use crate::oauth::clients::{ClientRegistry, ClientScope, NewClient};
use crate::oauth::keys::DbKeyStore;
use crate::oauth::throttle::LoginThrottle;
use crate::oauth::tokens::TokenService;
use crate::oauth::{AuthServer, OAuthSettings};
use crate::payments::{
    Forwarder, ForwarderSettings, PaymentLimits, PaymentService, PaymentSettings,
};
use crate::ratelimit::{LocalRateLimiter, RateLimiter};
use crate::store::Store;
use crate::tls::{self, ClientCertificate};

/// What the gateway is built from besides its configuration. Defaults: the wall
/// clock and the adapter named in `core.adapter`.
#[derive(Default)]
pub struct Dependencies {
    pub clock: Option<Arc<dyn Clock>>,
    /// A core-banking adapter of bank IT's own; overrides `core.adapter`.
    pub core: Option<Arc<dyn CoreBanking>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("sandbox set-up failed: {0}")]
    Sandbox(String),
    #[error(transparent)]
    CoreAdapter(#[from] HttpCoreError),
    #[error("signing keys: {0}")]
    Keys(String),
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Interbank(#[from] PeerSetupError),
}

/// A built gateway: both listeners bound, not yet serving.
pub struct Application {
    public_addr: SocketAddr,
    mtls_addr: SocketAddr,
    state: AppState,
    public: actix_web::dev::Server,
    mtls: actix_web::dev::Server,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartError> {
        Application::build_with(config, Dependencies::default()).await
    }

    pub async fn build_with(config: Config, deps: Dependencies) -> Result<Application, StartError> {
        tls::install_crypto_provider();
        let clock: Arc<dyn Clock> = deps.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let store = open_store(&config).await?;

        let core: Arc<dyn CoreBanking> = match deps.core {
            Some(core) => core,
            None => match config.core.adapter {
                CoreAdapterKind::Sandbox => {
                    Arc::new(SandboxCore::new(store.clone(), clock.clone()))
                }
                CoreAdapterKind::Http => Arc::new(HttpCore::new(&config.core.http, clock.clone())?),
            },
        };
        prepare_sandbox(&config, &store, clock.clone()).await?;

        let public_listener = bind(&config.server.public_addr)?;
        let mtls_listener = bind(&config.server.mtls_addr)?;
        let public_addr = public_listener.local_addr()?;
        let mtls_addr = mtls_listener.local_addr()?;
        let issuer = if config.oauth.issuer.is_empty() {
            format!("https://{public_addr}")
        } else {
            config.oauth.issuer.trim_end_matches('/').to_owned()
        };

        let limiter: Arc<dyn RateLimiter> = Arc::new(LocalRateLimiter::new(&config.rate_limits));
        let token_ttl = Duration::from_secs(config.oauth.access_token_ttl);
        let keys = Arc::new(DbKeyStore::new(store.clone(), clock.clone(), token_ttl));
        {
            let keys = keys.clone();
            tokio::task::spawn_blocking(move || keys.ensure_key_blocking())
                .await
                .map_err(|_| StartError::Sandbox("start-up task failed".into()))?
                .map_err(|e| StartError::Keys(e.to_string()))?;
        }
        let keys: Arc<dyn crate::oauth::keys::KeyStore> = keys;
        let tokens = Arc::new(TokenService::new(
            keys.clone(),
            clock.clone(),
            issuer.clone(),
            token_ttl,
        ));
        let consents = ConsentService::new(
            store.clone(),
            clock.clone(),
            ConsentSettings::from(&config.consents),
        );
        let funds_consents = FundsConsentService::new(
            store.clone(),
            clock.clone(),
            ConsentSettings::from(&config.consents),
        );
        let payments = PaymentService::new(
            store.clone(),
            core.clone(),
            clock.clone(),
            PaymentSettings {
                limits: PaymentLimits {
                    max_amount: config.payments.max_amount(),
                },
                authorization_timeout: time::Duration::seconds(
                    i64::try_from(config.payments.authorization_timeout).unwrap_or(i64::MAX),
                ),
                risk: config.risk.clone(),
            },
        );
        let peers = PeerBanks::from_config(&config.interbank, &config.tls.client_ca)?;
        let interbank = InterbankService::new(store.clone(), core.clone(), clock.clone());
        let clients = ClientRegistry::new(store.clone());
        let oauth = AuthServer {
            store: store.clone(),
            clock: clock.clone(),
            clients: clients.clone(),
            tokens,
            keys,
            consents: consents.clone(),
            funds_consents: funds_consents.clone(),
            payments: payments.clone(),
            core: core.clone(),
            throttle: LoginThrottle::new(
                store.clone(),
                config.psu.max_failed_logins,
                config.psu.login_block_seconds,
            ),
            settings: OAuthSettings::from_config(&config),
            issuer: issuer.clone(),
        };
        let state = AppState {
            config: Arc::new(config.clone()),
            store: store.clone(),
            core,
            clock,
            clients,
            metrics: Metrics::new()?,
            limiter,
            issuer,
            mtls_base_url: format!("https://{mtls_addr}"),
            oauth,
            consents,
            funds_consents,
            payments,
            interbank,
            peers,
        };

        let public_tls =
            tls::public_server_config(&config.tls.server_cert, &config.tls.server_key)?;
        let mtls_tls = tls::mtls_server_config(
            &config.tls.server_cert,
            &config.tls.server_key,
            &config.tls.client_ca,
        )?;
        let workers = match config.server.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let spec = http::openapi();
        let limit = config.server.max_body_bytes;

        let public = {
            let state = state.clone();
            let spec = spec.clone();
            HttpServer::new(move || {
                let (app, _) = App::new()
                    .into_utoipa_app()
                    .configure(http::public_routes)
                    .split_for_parts();
                app.app_data(web::Data::new(state.clone()))
                    .app_data(web::Data::new(Listener::Public))
                    .app_data(http::json_config(limit))
                    .app_data(http::form_config(limit))
                    .app_data(http::query_config())
                    .app_data(http::path_config())
                    .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
                    .route("/docs", web::get().to(redirect_to_docs))
                    .default_service(web::to(http::not_found))
                    .wrap(from_fn(rate_limit))
                    .wrap(from_fn(observe))
            })
            .workers(workers)
            .disable_signals()
            .shutdown_timeout(5)
            .listen_rustls_0_23(public_listener, public_tls)?
            .run()
        };

        let mtls = {
            let state = state.clone();
            HttpServer::new(move || {
                let (app, _) = App::new()
                    .into_utoipa_app()
                    .configure(http::mtls_routes)
                    .split_for_parts();
                app.app_data(web::Data::new(state.clone()))
                    .app_data(web::Data::new(Listener::Mtls))
                    .app_data(http::json_config(limit))
                    .app_data(http::form_config(limit))
                    .app_data(http::query_config())
                    .app_data(http::path_config())
                    .default_service(web::to(http::not_found))
                    .wrap(from_fn(rate_limit))
                    .wrap(from_fn(observe))
            })
            .workers(workers)
            .disable_signals()
            .shutdown_timeout(5)
            .on_connect(tls::record_client_certificate)
            .listen_rustls_0_23(mtls_listener, mtls_tls)?
            .run()
        };

        tracing::info!(
            public = %format!("https://{public_addr}"),
            mtls = %format!("https://{mtls_addr}"),
            docs = %format!("https://{public_addr}/docs"),
            core = state.core.name(),
            "obgw listening"
        );
        Ok(Application {
            public_addr,
            mtls_addr,
            state,
            public,
            mtls,
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn mtls_addr(&self) -> SocketAddr {
        self.mtls_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The payment forwarding worker over this gateway's outbox (started by
    /// [`Application::run_until_stopped`] unless `payments.run_forwarder` is off).
    pub fn forwarder(&self) -> Forwarder {
        forwarder(&self.state)
    }

    /// Serves until both listeners stop (Ctrl-C / SIGTERM in the binary; dropping
    /// the future in tests).
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        let limiter = self.state.limiter.clone();
        let (store, clock) = (self.state.store.clone(), self.state.clock.clone());
        let housekeeping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            for round in 0u64.. {
                tick.tick().await;
                limiter.housekeeping();
                // Every ten minutes (and at start), drop expired OAuth rows.
                if round % 10 == 0 {
                    let now = clock.now();
                    let purged = store
                        .write(move |c| {
                            crate::oauth::housekeeping::purge_expired(c, now)
                                .map_err(crate::store::StoreError::from)
                        })
                        .await;
                    match purged {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(rows = n, "purged expired authorization rows"),
                        Err(e) => tracing::warn!(error.cause = %e, "housekeeping failed"),
                    }
                }
            }
        });
        let forwarder = self
            .state
            .config
            .payments
            .run_forwarder
            .then(|| tokio::spawn(self.forwarder().run()));
        let public_handle = self.public.handle();
        let mtls_handle = self.mtls.handle();
        let stop = async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            tokio::join!(public_handle.stop(true), mtls_handle.stop(true));
        };
        let serve = async { tokio::try_join!(self.public, self.mtls) };
        let result = tokio::select! {
            r = serve => r.map(|_| ()),
            () = stop => Ok(()),
        };
        housekeeping.abort();
        if let Some(f) = forwarder {
            f.abort();
        }
        result
    }
}

/// A payment forwarding worker over `state`'s outbox and core. Any number may run
/// (in one process or across replicas): each row is claimed by exactly one.
pub fn forwarder(state: &AppState) -> Forwarder {
    let config = &state.config.payments;
    Forwarder::new(
        state.store.clone(),
        state.core.clone(),
        state.clock.clone(),
        ForwarderSettings {
            lease: time::Duration::seconds(
                i64::try_from(config.claim_lease_seconds).unwrap_or(i64::MAX),
            ),
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            batch: 32,
        },
        state.payments.wake_handle(),
    )
    .with_peers(state.peers.clone())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn redirect_to_docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

fn bind(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|source| StartError::Bind {
        addr: addr.to_owned(),
        source,
    })
}

/// Opens the pool and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    let url = config.database.url.clone();
    let max = config.database.max_connections;
    let store = tokio::task::spawn_blocking(move || -> Result<Store, StartError> {
        let store = Store::connect(&url, max)?;
        let applied = store.migrate()?;
        if applied > 0 {
            tracing::info!(migrations = applied, "database migrated");
        }
        Ok(store)
    })
    .await
    .map_err(|_| StartError::Sandbox("start-up task failed".into()))??;
    Ok(store)
}

/// Seeds the sandbox ledger (first start only, and only when the sandbox is the
/// configured adapter) and keeps the demo client bound to the demo certificate in
/// `certs/` (whatever the adapter, so the demo TPP also works against the HTTP
/// adapter and `examples/mock_core.rs`; `sandbox.demo_client = false` turns it off).
async fn prepare_sandbox(
    config: &Config,
    store: &Store,
    clock: Arc<dyn Clock>,
) -> Result<(), StartError> {
    let now = clock.now();
    let seed_ledger = config.core.adapter == CoreAdapterKind::Sandbox;
    let sandbox_cfg = config.sandbox.clone();
    let store = store.clone();
    tokio::task::spawn_blocking(move || -> Result<(), StartError> {
        if sandbox_cfg.seed && seed_ledger {
            let seeded = sandbox::seed_store(
                &store,
                clock.as_ref(),
                &sandbox_cfg.bank_code,
                sandbox_cfg.history_days,
            )
            .map_err(|e| StartError::Sandbox(e.to_string()))?;
            if seeded {
                tracing::info!(bank_code = %sandbox_cfg.bank_code, "sandbox ledger seeded");
            }
        }
        if sandbox_cfg.demo_client {
            let certificate = ClientCertificate::from_pem_file(&sandbox_cfg.demo_client_cert)?;
            ClientRegistry::new(store)
                .ensure_blocking(
                    &NewClient {
                        client_id: Some("demo-tpp".into()),
                        name: "Demo TPP".into(),
                        redirect_uris: vec![sandbox_cfg.demo_redirect_uri.clone()],
                        certificate,
                        scopes: ClientScope::TPP.to_vec(),
                    },
                    now,
                )
                .map_err(|e| StartError::Sandbox(e.to_string()))?;
        }
        Ok(())
    })
    .await
    .map_err(|_| StartError::Sandbox("start-up task failed".into()))?
}
