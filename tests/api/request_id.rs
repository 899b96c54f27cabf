use crate::helpers::*;

#[tokio::test]
async fn a_v1_request_with_a_malformed_x_request_id_gets_400_format_error() {
    let app = TestApp::spawn().await;
    let res = app
        .tpp
        .get(format!("{}/v1/accounts", app.mtls_url))
        .header("X-Request-ID", "not-a-uuid")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().contains_key("x-request-id"));
    let body = json(res).await;
    assert_eq!(tpp_code(&body), "FORMAT_ERROR");
    assert_eq!(body["tppMessages"][0]["path"], "X-Request-ID");
}

#[tokio::test]
async fn a_v1_request_without_x_request_id_gets_400_format_error() {
    let app = TestApp::spawn().await;
    let res = app
        .tpp
        .get(format!("{}/v1/accounts", app.mtls_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(tpp_code(&json(res).await), "FORMAT_ERROR");
}

#[tokio::test]
async fn a_valid_x_request_id_is_echoed() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::new_v4().to_string();
    let res = app
        .tpp
        .get(format!("{}/v1/accounts", app.mtls_url))
        .header("X-Request-ID", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], id.as_str());
}

#[tokio::test]
async fn outside_v1_a_missing_request_id_is_generated_and_returned() {
    let app = TestApp::spawn().await;
    let res = app.get_public("/healthz").await;
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
}
