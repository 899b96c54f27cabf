//! `examples/tpp_client.rs` runs unattended against a spawned gateway.

use crate::helpers::*;

fn example_binary(name: &str) -> std::path::PathBuf {
    // target/debug/deps/api-<hash> → target/debug/examples/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

#[tokio::test]
async fn the_tpp_client_example_completes_the_consent_flow_and_lists_alices_accounts() {
    let binary = example_binary("tpp_client");
    assert!(
        binary.exists(),
        "cargo test builds examples: {}",
        binary.display()
    );
    let app = TestApp::spawn().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let out = app.obgw(&["clients", "update", "demo-tpp", "--redirect-uri", &redirect]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let cert = |n: &str| cert_path(n).to_string_lossy().into_owned();
    let output = tokio::process::Command::new(binary)
        .args([
            "--public",
            &app.public_url,
            "--mtls",
            &app.mtls_url,
            "--cert",
            &cert("demo-tpp.pem"),
            "--key",
            &cert("demo-tpp.key"),
            "--ca",
            &cert("ca.pem"),
            "--redirect-uri",
            &redirect,
            "--sandbox-psu",
            "alice:alice",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for iban in app.ibans_of("alice").await {
        assert!(stdout.contains(&iban), "lists {iban}:\n{stdout}");
    }
    assert!(
        !stdout.contains(&app.ibans_of("bob").await[0]),
        "never bob's accounts"
    );
}
