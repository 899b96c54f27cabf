use crate::helpers::*;

#[tokio::test]
async fn healthz_says_ok_over_tls() {
    let app = TestApp::spawn().await;
    let res = app.get_public("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_the_database_and_the_core_adapter() {
    let app = TestApp::spawn().await;
    let res = app.get_public("/readyz").await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["core"], "ok");
    assert_eq!(body["core_adapter"], "sandbox");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_in_prometheus_text() {
    let app = TestApp::spawn().await;
    app.get_public("/healthz").await;
    app.get_public("/healthz").await;
    app.get_mtls("/whoami").await;

    let res = app.get_public("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"obgw_http_requests_total{listener="public",method="GET",route="/healthz",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/whoami",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("obgw_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_paths_get_a_standard_404_body() {
    let app = TestApp::spawn().await;
    let res = app.get_mtls("/v1/no-such-thing").await;
    assert_eq!(res.status(), 404);
    assert_eq!(tpp_code(&json(res).await), "RESOURCE_UNKNOWN");

    let res = app
        .tpp
        .get(format!("{}/oauth/nope", app.mtls_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await["error"], "invalid_request");
}
