use obgw::config::QuotaConfig;

use crate::helpers::*;

fn tight() -> QuotaConfig {
    QuotaConfig {
        per_second: 1,
        burst: 3,
    }
}

#[tokio::test]
async fn a_tpp_gets_429_with_retry_after_in_tpp_messages_after_its_burst() {
    let app = TestApp::spawn_with(|c| c.rate_limits.tpp_api = tight()).await;
    for _ in 0..3 {
        assert_eq!(app.get_mtls("/whoami").await.status(), 200);
    }
    let res = app.get_mtls("/whoami").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    assert_eq!(tpp_code(&json(res).await), "ACCESS_EXCEEDED");

    // Another TPP has its own bucket.
    let other = client_with_identity(Some(&new_tpp_cert("other-tpp")));
    let res = other
        .get(format!("{}/whoami", app.mtls_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn oauth_endpoints_answer_429_in_rfc_6749_json() {
    let app = TestApp::spawn_with(|c| c.rate_limits.oauth = tight()).await;
    let mut last = None;
    for _ in 0..4 {
        last = Some(
            app.tpp
                .post(format!("{}/oauth/token", app.mtls_url))
                .send()
                .await
                .unwrap(),
        );
    }
    let res = last.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(json(res).await["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn the_public_listener_limits_per_source_ip_but_never_health_probes() {
    let app = TestApp::spawn_with(|c| c.rate_limits.public = tight()).await;
    for _ in 0..3 {
        assert_eq!(app.get_public("/openapi.json").await.status(), 200);
    }
    let res = app.get_public("/openapi.json").await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    for _ in 0..10 {
        assert_eq!(app.get_public("/healthz").await.status(), 200);
    }
}
