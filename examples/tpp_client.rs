//! A TPP written against obgw with the `oauth2` crate: it takes a client-credentials
//! token, creates an AIS consent, sends the PSU to the bank's consent page, receives
//! the redirect on a local callback listener, exchanges the code (PKCE S256, over
//! mTLS with its certificate), and lists the PSU's accounts.
//!
//! ```sh
//! cargo run                                   # the sandbox gateway, in another terminal
//! cargo run --example tpp_client              # prints the consent-page URL; log in as alice/alice, code 123456
//! cargo run --example tpp_client -- --sandbox-psu alice:alice   # drives the consent page itself
//! ```
//!
//! With `--sandbox-psu USER:PASSWORD` the example plays the PSU's browser too: it
//! fills the real forms (CSRF tokens included), picks every account, enters the
//! sandbox one-time code and follows the redirect to its own callback, so it runs
//! unattended (the test suite runs it this way).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse, TokenUrl,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[path = "support/psu.rs"]
mod psu;
use psu::play_psu;

struct Args {
    public: String,
    mtls: String,
    client_id: String,
    cert: String,
    key: String,
    ca: String,
    redirect_uri: String,
    sandbox_psu: Option<(String, String)>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        public: "https://127.0.0.1:8443".into(),
        mtls: "https://127.0.0.1:8444".into(),
        client_id: "demo-tpp".into(),
        cert: "certs/demo-tpp.pem".into(),
        key: "certs/demo-tpp.key".into(),
        ca: "certs/ca.pem".into(),
        redirect_uri: "http://127.0.0.1:9090/callback".into(),
        sandbox_psu: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--public" => a.public = value,
            "--mtls" => a.mtls = value,
            "--client-id" => a.client_id = value,
            "--cert" => a.cert = value,
            "--key" => a.key = value,
            "--ca" => a.ca = value,
            "--redirect-uri" => a.redirect_uri = value,
            "--sandbox-psu" => {
                let (u, p) = value
                    .split_once(':')
                    .ok_or_else(|| anyhow!("--sandbox-psu USER:PASSWORD"))?;
                a.sandbox_psu = Some((u.into(), p.into()));
            }
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

/// An HTTPS client that trusts the bank's CA and, for the mTLS listener, presents
/// the TPP's certificate. Redirects are never followed automatically.
fn https(ca: &str, identity: Option<(&str, &str)>) -> anyhow::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).context("reading the CA")?)?;
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if let Some((cert, key)) = identity {
        let mut pem = std::fs::read(cert).context("reading the client certificate")?;
        pem.extend(std::fs::read(key).context("reading the client key")?);
        builder = builder.identity(reqwest::Identity::from_pem(&pem)?);
    }
    Ok(builder.build()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let mtls = https(&a.ca, Some((&a.cert, &a.key)))?;

    // 1. Discover the authorization server (RFC 8414).
    let meta: serde_json::Value = mtls
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            a.public
        ))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let issuer = meta["issuer"].as_str().unwrap_or_default().to_owned();
    let token_endpoint = meta["mtls_endpoint_aliases"]["token_endpoint"]
        .as_str()
        .or(meta["token_endpoint"].as_str())
        .ok_or_else(|| anyhow!("no token endpoint"))?;
    let client = BasicClient::new(ClientId::new(a.client_id.clone()))
        .set_auth_uri(AuthUrl::new(
            meta["authorization_endpoint"]
                .as_str()
                .unwrap_or_default()
                .into(),
        )?)
        .set_token_uri(TokenUrl::new(token_endpoint.into())?)
        .set_redirect_uri(RedirectUrl::new(a.redirect_uri.clone())?);

    // 2. A client-credentials token to create the consent. The client is
    //    authenticated by its certificate (tls_client_auth); there is no secret.
    let tpp_token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("accounts".into()))
        .request_async(&mtls)
        .await
        .map_err(|e| anyhow!("client credentials: {e}"))?;

    // 3. Create the AIS consent: all PSD2 data of the accounts the PSU picks.
    let valid_until = (obgw::clock::Clock::now(&obgw::clock::SystemClock).date()
        + time::Duration::days(90))
    .to_string();
    let consent: serde_json::Value = mtls
        .post(format!("{}/v1/consents", a.mtls))
        .bearer_auth(tpp_token.access_token().secret())
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .header("PSU-IP-Address", "127.0.0.1")
        .json(&serde_json::json!({
            "access": {"allPsd2": "allAccounts"},
            "recurringIndicator": true,
            "validUntil": valid_until,
            "frequencyPerDay": 4
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let consent_id = consent["consentId"]
        .as_str()
        .ok_or_else(|| anyhow!("no consentId"))?
        .to_owned();
    println!("consent {consent_id}: {}", consent["consentStatus"]);

    // 4. Send the PSU to the consent page, with PKCE S256 and a state.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(format!("AIS:{consent_id}")))
        .set_pkce_challenge(challenge)
        .url();
    let callback = TcpListener::bind(callback_addr(&a.redirect_uri)?).await?;
    match &a.sandbox_psu {
        Some((user, password)) => {
            let browser = https(&a.ca, None)?;
            let (url, user, password) = (url.to_string(), user.clone(), password.clone());
            tokio::spawn(async move {
                match play_psu(&browser, &url, &user, &password).await {
                    // Follow the redirect to our own callback, as a browser would.
                    Ok(location) => {
                        if let Err(e) = reqwest::Client::new().get(location).send().await {
                            eprintln!("following the redirect failed: {e}");
                        }
                    }
                    Err(e) => eprintln!("sandbox PSU failed: {e:#}"),
                }
            });
        }
        None => println!("Open this URL and approve (sandbox: alice/alice, code 123456):\n{url}"),
    }

    // 5. Receive the redirect; check state and iss (RFC 9207) before using the code.
    let params = receive_callback(&callback).await?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(error) = get("error") {
        bail!("the PSU did not approve: {error}");
    }
    if get("state").as_deref() != Some(state.secret().as_str()) {
        bail!("state mismatch");
    }
    if get("iss").as_deref() != Some(issuer.as_str()) {
        bail!("iss mismatch");
    }
    let code = get("code").ok_or_else(|| anyhow!("no code in the redirect"))?;

    // 6. Exchange the code over mTLS; the token is bound to our certificate.
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&mtls)
        .await
        .map_err(|e| anyhow!("code exchange: {e}"))?;
    println!(
        "access token for {} (expires in {:?}); refresh token: {}",
        token
            .scopes()
            .map(|s| s
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" "))
            .unwrap_or_default(),
        token.expires_in(),
        token.refresh_token().is_some()
    );

    // 7. Read the PSU's accounts under the consent.
    let accounts: serde_json::Value = mtls
        .get(format!("{}/v1/accounts", a.mtls))
        .bearer_auth(token.access_token().secret())
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("Consent-ID", &consent_id)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    for account in accounts["accounts"].as_array().into_iter().flatten() {
        println!(
            "account {} {} {} ({})",
            account["resourceId"].as_str().unwrap_or_default(),
            account["iban"].as_str().unwrap_or_default(),
            account["currency"].as_str().unwrap_or_default(),
            account["name"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

fn callback_addr(redirect_uri: &str) -> anyhow::Result<String> {
    let rest = redirect_uri
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("the callback must be http://127.0.0.1:PORT/…"))?;
    Ok(rest.split('/').next().unwrap_or_default().to_owned())
}

/// Accepts one request on the callback listener and returns its query parameters.
async fn receive_callback(listener: &TcpListener) -> anyhow::Result<Vec<(String, String)>> {
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(120), listener.accept())
        .await
        .context("no redirect within 2 minutes")??;
    let mut line = String::new();
    BufReader::new(&mut socket).read_line(&mut line).await?;
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    socket
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nYou can close this window.\n")
        .await?;
    Ok(serde_urlencoded::from_str(query)?)
}
