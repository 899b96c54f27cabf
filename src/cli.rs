//! The `obgw` command line: serve, migrate, print the spec, regenerate dev
//! certificates, and let bank IT manage TPP clients.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::Application;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::oauth::clients::{ClientRegistry, ClientStatus, ClientUpdate, NewClient, parse_scopes};
use crate::store::Store;
use crate::tls::ClientCertificate;

#[derive(Debug, Parser)]
#[command(
    name = "obgw",
    version,
    about = "Open Banking gateway (Berlin Group NextGenPSD2, FAPI-grade OAuth 2.0)"
)]
pub struct Cli {
    /// A TOML configuration file (see obgw.example.toml). OBGW_* variables override it.
    #[arg(long, global = true, env = "OBGW_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Regenerate the development CA, server and demo-TPP certificates.
    Certs {
        /// Where to write them.
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
    },
    /// Register, list, update and disable TPP clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Inspect AIS consents; revoke one on the PSU's behalf.
    #[command(subcommand)]
    Consents(ConsentsCommand),
    /// Inspect payments: status, risk decisions (score, features, reasons), outbox.
    #[command(subcommand)]
    Payments(PaymentsCommand),
    /// Manage the access-token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum PaymentsCommand {
    /// Print a payment with every risk decision and its outbox row as JSON.
    Show { payment_id: String },
}

#[derive(Debug, Subcommand)]
pub enum ConsentsCommand {
    /// Print a consent (AIS or confirmation of funds) as JSON.
    Show { consent_id: String },
    /// Revoke a valid consent on the PSU's behalf (→ revokedByPsu); its tokens stop working at once.
    Revoke { consent_id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key; older keys stay in the JWKS until their tokens expire.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a TPP (or, with --scopes interbank, a peer bank) bound to a certificate; prints {"client_id": "..."}.
    Add(AddClient),
    /// List registered clients as JSON.
    List,
    /// Change a client; --cert rebinds it to a renewed certificate, keeping its consents.
    Update(UpdateClient),
    /// Disable a client: its certificate is refused from now on.
    Disable { client_id: String },
}

#[derive(Debug, Args)]
pub struct AddClient {
    #[arg(long)]
    pub name: String,
    /// An exact redirect URI; repeat for several. Required for a TPP; a peer
    /// bank (--scopes interbank) needs none.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// The client's certificate (PEM): the TPP's, or the peer bank's.
    #[arg(long)]
    pub cert: PathBuf,
    /// Comma-separated TPP scopes: accounts, payments, fundsconfirmations; or
    /// `interbank` alone for a peer bank that sends credits to /interbank/v1/credits.
    #[arg(long, default_value = "accounts,payments,fundsconfirmations")]
    pub scopes: String,
}

#[derive(Debug, Args)]
pub struct UpdateClient {
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// Replaces all redirect URIs; repeat for several.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    #[arg(long)]
    pub cert: Option<PathBuf>,
    #[arg(long)]
    pub scopes: Option<String>,
    /// Re-enable a disabled client.
    #[arg(long)]
    pub enable: bool,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            crate::telemetry::init(&config.log);
            let app = Application::build(config).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            crate::telemetry::init(&config.log);
            let store = crate::app::open_store(&config).await?;
            tracing::info!(backend = ?store.backend(), "database is up to date");
        }
        Command::Openapi => print!("{}", crate::http::openapi_json()),
        Command::Certs { dir } => {
            crate::tls::devcerts::write_dev_certs(&dir, SystemClock.now())?;
            eprintln!(
                "wrote ca.pem, ca.key, server.pem, server.key, demo-tpp.pem, demo-tpp.key to {}",
                dir.display()
            );
        }
        Command::Consents(cmd) => {
            let store = crate::app::open_store(&config).await?;
            consents(cmd, store, &config).await?;
        }
        Command::Payments(PaymentsCommand::Show { payment_id }) => {
            let store = crate::app::open_store(&config).await?;
            let shown = crate::payments::inspect(&store, &payment_id)
                .await
                .map_err(|e| anyhow::anyhow!("payment {payment_id}: {e}"))?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        Command::Keys(KeysCommand::Rotate) => {
            let store = crate::app::open_store(&config).await?;
            let kid = tokio::task::spawn_blocking(move || {
                crate::oauth::keys::rotate_blocking(&store, SystemClock.now())
            })
            .await
            .context("key rotation failed")??;
            println!("{}", serde_json::json!({ "kid": kid }));
        }
        Command::Clients(cmd) => {
            let store = crate::app::open_store(&config).await?;
            tokio::task::spawn_blocking(move || clients(cmd, store))
                .await
                .context("clients command failed")??;
        }
    }
    Ok(())
}

async fn consents(cmd: ConsentsCommand, store: Store, config: &Config) -> anyhow::Result<()> {
    use crate::consent::{
        ConsentError, ConsentId, ConsentService, ConsentSettings, FundsConsentService,
    };
    let settings = ConsentSettings::from(&config.consents);
    let clock: std::sync::Arc<dyn crate::clock::Clock> = std::sync::Arc::new(SystemClock);
    let ais = ConsentService::new(store.clone(), clock.clone(), settings.clone());
    let funds = FundsConsentService::new(store, clock, settings);
    let (ConsentsCommand::Show { consent_id } | ConsentsCommand::Revoke { consent_id }) = &cmd;
    let id =
        ConsentId::parse(consent_id).map_err(|_| anyhow::anyhow!("no consent {consent_id}"))?;
    let revoke = matches!(cmd, ConsentsCommand::Revoke { .. });
    let failed = |e: ConsentError| anyhow::anyhow!("consent {consent_id}: {e}");
    let ais_consent = if revoke {
        ais.revoke_by_psu(&id).await
    } else {
        ais.find(&id).await
    };
    // An id names an AIS consent or a confirmation-of-funds consent, never both.
    let shown = match ais_consent {
        Ok(consent) => serde_json::json!({
            "consentId": consent.id.as_str(),
            "clientId": consent.client_id,
            "consentStatus": consent.status.as_str(),
            "psuId": consent.psu_id.map(|p| p.0),
            "validUntil": consent.valid_until.to_string(),
            "frequencyPerDay": consent.frequency_per_day,
            "recurringIndicator": consent.recurring,
        }),
        Err(ConsentError::Unknown) => {
            let consent = if revoke {
                funds.revoke_by_psu(&id).await
            } else {
                funds.find(&id).await
            }
            .map_err(failed)?;
            serde_json::json!({
                "consentId": consent.id.as_str(),
                "clientId": consent.client_id,
                "consentStatus": consent.status.as_str(),
                "psuId": consent.psu_id.map(|p| p.0),
                "validUntil": consent.valid_until.to_string(),
                "confirmationOfFunds": true,
            })
        }
        Err(e) => return Err(failed(e)),
    };
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

fn clients(cmd: ClientsCommand, store: Store) -> anyhow::Result<()> {
    let registry = ClientRegistry::new(store);
    let now = SystemClock.now();
    match cmd {
        ClientsCommand::Add(add) => {
            let certificate = ClientCertificate::from_pem_file(&add.cert)?;
            let client = registry.add_blocking(
                &NewClient {
                    client_id: None,
                    name: add.name,
                    redirect_uris: add.redirect_uris,
                    certificate,
                    scopes: parse_scopes(&add.scopes)?,
                },
                now,
            )?;
            println!("{}", serde_json::json!({ "client_id": client.client_id }));
        }
        ClientsCommand::List => {
            println!(
                "{}",
                serde_json::to_string_pretty(&registry.list_blocking()?)?
            );
        }
        ClientsCommand::Update(u) => {
            let update = ClientUpdate {
                name: u.name,
                redirect_uris: (!u.redirect_uris.is_empty()).then_some(u.redirect_uris),
                certificate: u
                    .cert
                    .as_deref()
                    .map(ClientCertificate::from_pem_file)
                    .transpose()?,
                scopes: u.scopes.as_deref().map(parse_scopes).transpose()?,
                status: u.enable.then_some(ClientStatus::Active),
            };
            let client = registry.update_blocking(&u.client_id, &update, now)?;
            println!("{}", serde_json::to_string_pretty(&client)?);
        }
        ClientsCommand::Disable { client_id } => {
            let update = ClientUpdate {
                status: Some(ClientStatus::Disabled),
                ..ClientUpdate::default()
            };
            let client = registry.update_blocking(&client_id, &update, now)?;
            println!("{}", serde_json::to_string_pretty(&client)?);
        }
    }
    Ok(())
}
