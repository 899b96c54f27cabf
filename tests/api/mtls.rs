use obgw::tls::devcerts::{self, LeafKind};
use time::Duration;

use crate::helpers::*;

async fn whoami_with(
    app: &TestApp,
    identity: Option<&obgw::tls::devcerts::PemPair>,
) -> Result<reqwest::Response, reqwest::Error> {
    client_with_identity(identity)
        .get(format!("{}/whoami", app.mtls_url))
        .send()
        .await
}

#[tokio::test]
async fn the_mtls_listener_refuses_a_handshake_without_a_client_certificate() {
    let app = TestApp::spawn().await;
    assert!(whoami_with(&app, None).await.is_err());
}

#[tokio::test]
async fn the_mtls_listener_refuses_a_certificate_from_a_foreign_ca() {
    let app = TestApp::spawn().await;
    let foreign_ca = devcerts::generate_ca(now()).unwrap();
    let cert = devcerts::generate_leaf(
        &foreign_ca,
        LeafKind::Client,
        "demo-tpp",
        now() - Duration::days(1),
        now() + Duration::days(30),
    )
    .unwrap();
    assert!(whoami_with(&app, Some(&cert)).await.is_err());
}

#[tokio::test]
async fn the_mtls_listener_refuses_an_expired_certificate_from_the_trusted_ca() {
    let app = TestApp::spawn().await;
    let expired = devcerts::generate_leaf(
        &dev_ca(),
        LeafKind::Client,
        "expired-tpp",
        now() - Duration::days(60),
        now() - Duration::days(1),
    )
    .unwrap();
    assert!(whoami_with(&app, Some(&expired)).await.is_err());
}

#[tokio::test]
async fn the_demo_certificate_is_accepted_and_its_thumbprint_reaches_the_handler() {
    let app = TestApp::spawn().await;
    let der = obgw::tls::load_certs(&cert_path("demo-tpp.pem")).unwrap();
    let expected = obgw::tls::thumbprint(der[0].as_ref());

    let res = app.get_mtls("/whoami").await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["certificate"]["x5t#S256"], expected);
    assert!(
        body["certificate"]["subject"]
            .as_str()
            .unwrap()
            .contains("demo-tpp")
    );
    assert_eq!(body["clientId"], "demo-tpp");
    assert_eq!(body["clientStatus"], "active");
}

#[tokio::test]
async fn clients_add_binds_a_new_certificate_that_a_running_gateway_then_recognises() {
    let app = TestApp::spawn().await;
    let cert = new_tpp_cert("acme-tpp");
    let dir = std::env::temp_dir().join(format!("obgw-cert-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("acme.pem");
    std::fs::write(&pem, &cert.cert_pem).unwrap();

    // Trusted CA but not registered: the handshake succeeds, no client is bound.
    let before = json(whoami_with(&app, Some(&cert)).await.unwrap()).await;
    assert_eq!(before["clientId"], serde_json::Value::Null);

    let out = app.obgw(&[
        "clients",
        "add",
        "--name",
        "Acme Budgeting",
        "--redirect-uri",
        "https://acme.example/cb",
        "--cert",
        pem.to_str().unwrap(),
        "--scopes",
        "accounts,payments",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let client_id = printed["client_id"].as_str().unwrap().to_owned();

    let after = json(whoami_with(&app, Some(&cert)).await.unwrap()).await;
    assert_eq!(after["clientId"], client_id.as_str());
    assert_eq!(after["clientName"], "Acme Budgeting");

    let listed: serde_json::Value =
        serde_json::from_slice(&app.obgw(&["clients", "list"]).stdout).unwrap();
    let acme = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client_id.as_str())
        .unwrap();
    assert_eq!(acme["scopes"], serde_json::json!(["accounts", "payments"]));
    assert_eq!(
        acme["redirect_uris"],
        serde_json::json!(["https://acme.example/cb"])
    );
}

#[tokio::test]
async fn clients_update_rebinds_a_renewed_certificate_to_the_same_client() {
    let app = TestApp::spawn().await;
    let dir = std::env::temp_dir().join(format!("obgw-cert-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let old = new_tpp_cert("renewing-tpp");
    let renewed = new_tpp_cert("renewing-tpp");
    std::fs::write(dir.join("old.pem"), &old.cert_pem).unwrap();
    std::fs::write(dir.join("new.pem"), &renewed.cert_pem).unwrap();

    let out = app.obgw(&[
        "clients",
        "add",
        "--name",
        "Renewing",
        "--redirect-uri",
        "https://r.example/cb",
        "--cert",
        dir.join("old.pem").to_str().unwrap(),
    ]);
    let client_id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = app.obgw(&[
        "clients",
        "update",
        &client_id,
        "--cert",
        dir.join("new.pem").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let renewed_view = json(whoami_with(&app, Some(&renewed)).await.unwrap()).await;
    assert_eq!(renewed_view["clientId"], client_id.as_str());
    let old_view = json(whoami_with(&app, Some(&old)).await.unwrap()).await;
    assert_eq!(
        old_view["clientId"],
        serde_json::Value::Null,
        "the old certificate is unbound"
    );
}

#[tokio::test]
async fn clients_disable_marks_the_client_disabled_and_bad_input_is_refused() {
    let app = TestApp::spawn().await;
    let out = app.obgw(&["clients", "disable", "demo-tpp"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = json(app.get_mtls("/whoami").await).await;
    assert_eq!(body["clientStatus"], "disabled");

    // The demo certificate is bound already: a second client cannot take it.
    let out = app.obgw(&[
        "clients",
        "add",
        "--name",
        "Thief",
        "--redirect-uri",
        "https://t.example/cb",
        "--cert",
        cert_path("demo-tpp.pem").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already bound"));

    // Plain-http redirect URIs off loopback are refused.
    let out = app.obgw(&[
        "clients",
        "add",
        "--name",
        "Insecure",
        "--redirect-uri",
        "http://insecure.example/cb",
        "--cert",
        cert_path("server.pem").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("redirect URI"));
}
