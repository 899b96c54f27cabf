use crate::helpers::*;

#[tokio::test]
async fn the_docs_page_is_served_offline_from_the_binary() {
    let app = TestApp::spawn().await;

    let res = app.get_public("/docs").await;
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/docs/");

    let res = app.get_public("/docs/").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("://cdn"),
        "the page must not load from a CDN"
    );

    let res = app.get_public("/docs/swagger-ui-bundle.js").await;
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().len() > 100_000);

    let res = app.get_public("/docs/swagger-initializer.js").await;
    assert!(res.text().await.unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn the_served_spec_is_the_generated_one() {
    let app = TestApp::spawn().await;
    let res = app.get_public("/openapi.json").await;
    assert_eq!(res.status(), 200);
    let served = json(res).await;
    let generated: serde_json::Value = serde_json::from_str(&obgw::http::openapi_json()).unwrap();
    assert_eq!(served, generated);
    assert!(served["paths"]["/healthz"]["get"].is_object());
    assert!(served["paths"]["/whoami"]["get"].is_object());
    assert_eq!(
        served["components"]["securitySchemes"]["mtls"]["type"],
        "mutualTLS"
    );
}

#[test]
fn the_committed_openapi_json_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    let generated = obgw::http::openapi_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date; regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}
