//! The authorization server: discovery, the AIS authorization flow over real
//! HTTPS, and every way a grant or a token must be refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn discovery_metadata_points_client_endpoints_at_the_mtls_listener() {
    let app = TestApp::spawn().await;
    let meta = json(
        app.get_public("/.well-known/oauth-authorization-server")
            .await,
    )
    .await;
    assert_eq!(meta["issuer"], app.public_url.as_str());
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{}/oauth/authorize", app.public_url)
    );
    assert_eq!(
        meta["token_endpoint"],
        format!("{}/oauth/token", app.mtls_url)
    );
    assert_eq!(
        meta["mtls_endpoint_aliases"]["token_endpoint"],
        format!("{}/oauth/token", app.mtls_url)
    );
    assert_eq!(
        meta["mtls_endpoint_aliases"]["pushed_authorization_request_endpoint"],
        format!("{}/oauth/par", app.mtls_url)
    );
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        serde_json::json!(["tls_client_auth"])
    );
    assert_eq!(meta["tls_client_certificate_bound_access_tokens"], true);
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);

    let jwks = json(app.get_public("/oauth/jwks").await).await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["alg"], "ES256");
    assert!(key["kid"].is_string());
    assert!(key.get("d").is_none(), "no private key material");
}

#[tokio::test]
async fn a_tpp_completes_the_ais_flow_and_reads_exactly_the_consented_accounts() {
    let app = TestApp::spawn().await;
    let ibans = app.ibans_of("alice").await;
    let consent_id = app.alice_consent().await;

    let (verifier, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    let (status, _, page) = browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Demo TPP"), "the page names the TPP");
    assert!(page.contains("name=\"username\"") && page.contains("name=\"password\""));

    let (status, _, review) = browser.login("alice", "alice").await;
    assert_eq!(status, 200);
    for iban in &ibans[..2] {
        assert!(review.contains(iban.as_str()), "the review lists {iban}");
    }
    assert!(review.contains("Transactions") && review.contains("Balances"));
    assert!(
        review.contains("name=\"otp\""),
        "first authorization for this TPP asks the one-time code"
    );

    let (status, location, _) = browser.approve(Some("123456"), &[]).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.starts_with(DEMO_REDIRECT));
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(app.public_url.as_str())
    );
    let code = query_param(&location, "code").unwrap();

    let res = app.exchange(&code, &verifier).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tokens = json(res).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], scope.as_str());
    assert!(tokens["expires_in"].as_u64().unwrap() <= 300);
    let access = tokens["access_token"].as_str().unwrap();
    assert!(tokens["refresh_token"].is_string());

    // The token is an at+jwt bound to the demo certificate.
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["consent_id"], consent_id.as_str());
    assert_eq!(claims["client_id"], "demo-tpp");
    assert_eq!(claims["aud"], app.public_url.as_str());
    let der = obgw::tls::load_certs(&cert_path("demo-tpp.pem")).unwrap();
    assert_eq!(
        claims["cnf"]["x5t#S256"],
        obgw::tls::thumbprint(der[0].as_ref())
    );

    let res = app.accounts_as(&app.tpp, access, &consent_id).await;
    assert_eq!(res.status(), 200);
    let listed = json(res).await;
    let listed: Vec<&str> = listed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["iban"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&ibans[0].as_str()) && listed.contains(&ibans[1].as_str()));

    assert_eq!(app.consent_status(&consent_id).await, "valid");
}

#[tokio::test]
async fn the_one_time_code_is_not_asked_again_for_the_same_psu_and_tpp_within_180_days() {
    let app = TestApp::spawn().await;
    app.alice_token().await;
    let consent_id = app.alice_consent().await;
    let (_, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    let (_, _, review) = browser.login("alice", "alice").await;
    assert!(!review.contains("name=\"otp\""));

    app.clock.advance(Duration::days(181));
    let consent_id = app.alice_consent().await;
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    let (_, _, review) = browser.login("alice", "alice").await;
    assert!(
        review.contains("name=\"otp\""),
        "RTS Art. 10a: again after 180 days"
    );
}

#[tokio::test]
async fn a_wrong_one_time_code_is_refused_and_nothing_is_granted() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let (_, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    browser.login("alice", "alice").await;
    let (status, location, page) = browser.approve(Some("000000"), &[]).await;
    assert_eq!(status, 200);
    assert!(location.is_none());
    assert!(page.contains("not correct"));
    let (status, location, _) = browser.approve(Some("123456"), &[]).await;
    assert_eq!(status, 303);
    assert!(query_param(&location.unwrap(), "code").is_some());
}

#[tokio::test]
async fn authorization_requests_without_s256_pkce_are_refused_by_redirect() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let scope = format!("AIS:{consent_id}");
    let (_, challenge) = pkce();
    let cases: Vec<Vec<(&str, &str)>> = vec![
        authorize_query(&consent_id, &challenge, &scope)
            .into_iter()
            .filter(|(k, _)| !k.starts_with("code_challenge"))
            .collect(),
        authorize_query(&consent_id, &challenge, &scope)
            .into_iter()
            .map(|(k, v)| {
                if k == "code_challenge_method" {
                    (k, "plain")
                } else {
                    (k, v)
                }
            })
            .collect(),
    ];
    for query in cases {
        let mut browser = PsuBrowser::new(&app);
        let (status, location, _) = browser.open(&query).await;
        assert_eq!(status, 303);
        let location = location.unwrap();
        assert!(location.starts_with(DEMO_REDIRECT));
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    }
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_unknown_client_gets_an_error_page_never_a_redirect() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let scope = format!("AIS:{consent_id}");
    let (_, challenge) = pkce();
    let evil: Vec<(&str, &str)> = authorize_query(&consent_id, &challenge, &scope)
        .into_iter()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k, "https://evil.example/cb")
            } else {
                (k, v)
            }
        })
        .collect();
    let unknown: Vec<(&str, &str)> = authorize_query(&consent_id, &challenge, &scope)
        .into_iter()
        .map(|(k, v)| {
            if k == "client_id" {
                (k, "no-such-client")
            } else {
                (k, v)
            }
        })
        .collect();
    for query in [evil, unknown] {
        let mut browser = PsuBrowser::new(&app);
        let (status, location, page) = browser.open(&query).await;
        assert_eq!(status, 400);
        assert!(location.is_none());
        assert!(page.contains("<h1>"));
    }
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_invalid_grant_and_burns_the_code() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let (code, verifier) = app.alice_authorizes(&consent_id).await;
    let (wrong, _) = pkce();
    let res = app.exchange(&code, &wrong).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
    let res = app.exchange(&code, &verifier).await;
    assert_eq!(res.status(), 400, "a code is spent by a failed PKCE check");

    let (code, _) = app.alice_authorizes(&app.alice_consent().await).await;
    let res = app
        .token_with(
            &app.tpp,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", DEMO_REDIRECT),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await["error"],
        "invalid_request",
        "a missing verifier"
    );
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_the_tokens_issued_from_it() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let (code, verifier) = app.alice_authorizes(&consent_id).await;
    let first = json(app.exchange(&code, &verifier).await).await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        app.accounts_as(&app.tpp, access, &consent_id)
            .await
            .status(),
        200
    );

    let replay = app.exchange(&code, &verifier).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(json(replay).await["error"], "invalid_grant");

    let res = app.accounts_as(&app.tpp, access, &consent_id).await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID");
    let refresh = app.refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refresh.status(), 400);
}

#[tokio::test]
async fn a_code_redeemed_by_another_client_is_refused_and_stays_usable_by_its_owner() {
    let app = TestApp::spawn().await;
    let (_, other) = app.register_tpp("Other TPP");
    let consent_id = app.alice_consent().await;
    let (code, verifier) = app.alice_authorizes(&consent_id).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", DEMO_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let res = app.token_with(&other, &form).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
    assert_eq!(app.exchange(&code, &verifier).await.status(), 200);
}

#[tokio::test]
async fn a_redirect_uri_mismatch_at_the_token_endpoint_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let (code, verifier) = app.alice_authorizes(&app.alice_consent().await).await;
    let res = app
        .token_with(
            &app.tpp,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9090/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let (code, verifier) = app.alice_authorizes(&app.alice_consent().await).await;
    app.clock.advance(Duration::seconds(61));
    let res = app.exchange(&code, &verifier).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn unknown_and_disabled_clients_are_invalid_client() {
    let app = TestApp::spawn().await;
    let stranger = client_with_identity(Some(&new_tpp_cert("unregistered")));
    let res = app
        .token_with(&stranger, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["error"], "invalid_client");

    let (id, tpp) = app.register_tpp("Soon disabled");
    assert_eq!(
        app.token_with(&tpp, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
    assert!(app.obgw(&["clients", "disable", &id]).status.success());
    let res = app
        .token_with(&tpp, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["error"], "invalid_client");
}

#[tokio::test]
async fn the_token_endpoint_without_a_client_certificate_fails_the_handshake() {
    let app = TestApp::spawn().await;
    let res = app
        .token_with_result(&app.public, &[("grant_type", "client_credentials")])
        .await;
    assert!(res.is_err());
}

#[tokio::test]
async fn client_credentials_scopes_are_limited_to_what_the_client_registered() {
    let app = TestApp::spawn().await;
    let res = app
        .token_with(
            &app.tpp,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "accounts admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_scope");

    let out = app.obgw(&["clients", "update", "demo-tpp", "--scopes", "accounts"]);
    assert!(out.status.success());
    let res = app
        .token_with(
            &app.tpp,
            &[("grant_type", "client_credentials"), ("scope", "payments")],
        )
        .await;
    assert_eq!(json(res).await["error"], "invalid_scope");
    let res = app
        .token_with(&app.tpp, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(json(res).await["scope"], "accounts");
}

fn forge(header: serde_json::Value, claims: &serde_json::Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn claims_of(token: &str) -> serde_json::Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_tokens_are_refused_with_token_invalid() {
    let app = TestApp::spawn().await;
    let (consent_id, tokens) = app.alice_token().await;
    let real = tokens["access_token"].as_str().unwrap();
    let claims = claims_of(real);
    let kid = {
        let h: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(real.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    let jwks = json(app.get_public("/oauth/jwks").await).await;
    let jwk = &jwks["keys"][0];

    let none = forge(
        serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
        &claims,
        b"",
    );

    // HS256 with the public key as the HMAC secret (the classic key-confusion attack).
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        header.typ = Some("at+jwt".into());
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        let secret = [vec![4u8], x, y].concat();
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
        )
        .unwrap()
    };

    let tampered = {
        let mut parts: Vec<String> = real.split('.').map(str::to_owned).collect();
        let mut c = claims.clone();
        c["consent_id"] = serde_json::json!(uuid::Uuid::new_v4().to_string());
        parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
        parts.join(".")
    };

    let unknown_kid = {
        let mut parts: Vec<String> = real.split('.').map(str::to_owned).collect();
        parts[0] = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": "nope"}).to_string(),
        );
        parts.join(".")
    };

    for (name, token) in [
        ("alg none", none),
        ("HS256 with the public key", hs256),
        ("tampered payload", tampered),
        ("unknown kid", unknown_kid),
        ("garbage", "a.b.c".to_owned()),
    ] {
        let res = app.accounts_as(&app.tpp, &token, &consent_id).await;
        assert_eq!(res.status(), 401, "{name}");
        assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID", "{name}");
    }
}

#[tokio::test]
async fn an_expired_token_is_token_expired() {
    let app = TestApp::spawn().await;
    let (consent_id, tokens) = app.alice_token().await;
    let access = tokens["access_token"].as_str().unwrap();
    app.clock.advance(Duration::seconds(300 + 6));
    let res = app.accounts_as(&app.tpp, access, &consent_id).await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_EXPIRED");
}

#[tokio::test]
async fn a_token_presented_with_another_clients_certificate_is_refused() {
    let app = TestApp::spawn().await;
    let (_, other) = app.register_tpp("Thief TPP");
    let (consent_id, tokens) = app.alice_token().await;
    let res = app
        .accounts_as(
            &other,
            tokens["access_token"].as_str().unwrap(),
            &consent_id,
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID");
}

#[tokio::test]
async fn a_token_for_consent_a_cannot_read_under_consent_b() {
    let app = TestApp::spawn().await;
    let (_, tokens_a) = app.alice_token().await;
    let (consent_b, _) = app.alice_token().await;
    let res = app
        .accounts_as(
            &app.tpp,
            tokens_a["access_token"].as_str().unwrap(),
            &consent_b,
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
}

#[tokio::test]
async fn a_client_credentials_token_cannot_read_accounts() {
    let app = TestApp::spawn().await;
    let (consent_id, _) = app.alice_token().await;
    let token = app.client_token("accounts").await;
    let res = app.accounts_as(&app.tpp, &token, &consent_id).await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_of_a_rotated_one_revokes_the_family() {
    let app = TestApp::spawn().await;
    let (consent_id, tokens) = app.alice_token().await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let res = app.refresh(&first).await;
    assert_eq!(res.status(), 200);
    let second = json(res).await;
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first);
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.accounts_as(&app.tpp, &second_access, &consent_id)
            .await
            .status(),
        200
    );

    // Someone replays the rotated token: the whole family dies.
    let res = app.refresh(&first).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
    let res = app.refresh(&second_refresh).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        app.accounts_as(&app.tpp, &second_access, &consent_id)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_revoked_access_token_stops_working_at_once_and_introspection_says_inactive() {
    let app = TestApp::spawn().await;
    let (consent_id, tokens) = app.alice_token().await;
    let access = tokens["access_token"].as_str().unwrap();
    let intro = app
        .form(&app.tpp, "/oauth/introspect", &[("token", access)])
        .await;
    let intro = json(intro).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["consent_id"], consent_id.as_str());

    let res = app
        .form(&app.tpp, "/oauth/revoke", &[("token", access)])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.accounts_as(&app.tpp, access, &consent_id)
            .await
            .status(),
        401
    );
    let intro = json(
        app.form(&app.tpp, "/oauth/introspect", &[("token", access)])
            .await,
    )
    .await;
    assert_eq!(intro["active"], false);

    // Revoking a refresh token ends its family.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.form(&app.tpp, "/oauth/revoke", &[("token", refresh)])
            .await
            .status(),
        200
    );
    let res = app.refresh(refresh).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_deleted_consent_stops_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let (consent_id, tokens) = app.alice_token().await;
    let access = tokens["access_token"].as_str().unwrap();
    let token = app.client_token("accounts").await;
    let res = app
        .tpp
        .delete(format!("{}/v1/consents/{consent_id}", app.mtls_url))
        .bearer_auth(&token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.accounts_as(&app.tpp, access, &consent_id).await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
    let res = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn bank_it_revoking_a_consent_on_the_psus_behalf_stops_its_tokens() {
    let app = TestApp::spawn().await;
    let (consent_id, tokens) = app.alice_token().await;
    let out = app.obgw(&["consents", "revoke", &consent_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = app
        .accounts_as(
            &app.tpp,
            tokens["access_token"].as_str().unwrap(),
            &consent_id,
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
}

#[tokio::test]
async fn another_tpps_consent_is_consent_unknown() {
    let app = TestApp::spawn().await;
    let (consent_id, _) = app.alice_token().await;
    let (_, other) = app.register_tpp("Nosy TPP");
    let res = app
        .token_with(
            &other,
            &[("grant_type", "client_credentials"), ("scope", "accounts")],
        )
        .await;
    let token = json(res).await["access_token"].as_str().unwrap().to_owned();
    let res = other
        .get(format!("{}/v1/consents/{consent_id}", app.mtls_url))
        .bearer_auth(&token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_UNKNOWN");
}

#[tokio::test]
async fn psu_forms_without_a_valid_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let (_, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    let (status, _, _) = browser
        .post("login", &[("username", "alice"), ("password", "alice")])
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = browser
        .post(
            "login",
            &[
                ("csrf", "forged"),
                ("username", "alice"),
                ("password", "alice"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    // The genuine token still works afterwards.
    let (status, _, _) = browser.login("alice", "alice").await;
    assert_eq!(status, 200);
    let (status, _, _) = browser
        .post("decision", &[("decision", "approve"), ("otp", "123456")])
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn login_brute_force_is_blocked_after_five_failures_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let (_, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    for attempt in 1..=4 {
        let (status, _, _) = browser.login("bob", "wrong").await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
    let (status, _, _) = browser.login("bob", "wrong").await;
    assert_eq!(status, 429, "the fifth failure blocks");
    // A fresh session changes nothing: the count is kept per username in the database.
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    let (status, _, page) = browser.login("bob", "bob").await;
    assert_eq!(status, 429, "blocked even with the right password");
    assert!(page.contains("Too many"));

    app.clock.advance(Duration::seconds(901));
    let consent_id = app.alice_consent().await;
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    let (status, _, _) = browser.login("bob", "bob").await;
    assert_ne!(status, 429, "the block ends");
}

#[tokio::test]
async fn the_psu_must_own_every_account_the_consent_names() {
    let app = TestApp::spawn().await;
    let bob = app.ibans_of("bob").await;
    let token = app.client_token("accounts").await;
    let body = serde_json::json!({
        "access": {"accounts": [{"iban": bob[0]}]},
        "recurringIndicator": false,
        "validUntil": (now().date() + Duration::days(1)).to_string(),
        "frequencyPerDay": 1
    });
    let consent_id = json(app.post_consent(&token, &body).await).await["consentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    let (status, _, page) = browser.login("alice", "alice").await;
    assert_eq!(status, 403);
    assert!(page.contains("not yours"));
    assert!(page.contains("error=access_denied"));
    assert_eq!(app.consent_status(&consent_id).await, "rejected");
}

#[tokio::test]
async fn denying_rejects_the_consent_and_redirects_with_access_denied() {
    let app = TestApp::spawn().await;
    let consent_id = app.alice_consent().await;
    let (_, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    browser.login("alice", "alice").await;
    let (status, location, _) = browser.deny().await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(app.consent_status(&consent_id).await, "rejected");
}

#[tokio::test]
async fn for_an_all_psd2_consent_the_psu_picks_the_accounts() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let body = serde_json::json!({
        "access": {"allPsd2": "allAccounts"},
        "recurringIndicator": true,
        "validUntil": (now().date() + Duration::days(10)).to_string(),
        "frequencyPerDay": 4
    });
    let consent_id = json(app.post_consent(&token, &body).await).await["consentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (verifier, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let mut browser = PsuBrowser::new(&app);
    browser
        .open(&authorize_query(&consent_id, &challenge, &scope))
        .await;
    let (_, _, review) = browser.login("alice", "alice").await;
    let start =
        review.find("name=\"account\" value=\"").unwrap() + "name=\"account\" value=\"".len();
    let picked = review[start..start + review[start..].find('"').unwrap()].to_owned();

    let (status, _, page) = browser.approve(Some("123456"), &[]).await;
    assert_eq!(status, 200, "no account picked: asked again");
    assert!(page.contains("Choose at least one"));
    let (status, location, _) = browser.approve(None, &[&picked]).await;
    assert_eq!(status, 303);
    let code = query_param(&location.unwrap(), "code").unwrap();
    let tokens = json(app.exchange(&code, &verifier).await).await;
    let listed = json(
        app.accounts_as(
            &app.tpp,
            tokens["access_token"].as_str().unwrap(),
            &consent_id,
        )
        .await,
    )
    .await;
    let accounts = listed["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["resourceId"], picked.as_str());
}

#[tokio::test]
async fn pushed_authorization_requests_work_once_and_can_be_required() {
    let app = TestApp::spawn_with(|c| c.oauth.require_par = true).await;
    let consent_id = app.alice_consent().await;
    let (_, challenge) = pkce();
    let scope = format!("AIS:{consent_id}");
    let query = authorize_query(&consent_id, &challenge, &scope);

    // Plain requests are refused when PAR is required.
    let mut browser = PsuBrowser::new(&app);
    let (status, location, _) = browser.open(&query).await;
    assert_eq!(status, 400);
    assert!(location.is_none());

    let res = app.form(&app.tpp, "/oauth/par", &query).await;
    assert_eq!(res.status(), 201);
    let pushed = json(res).await;
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(pushed["expires_in"].as_u64().unwrap() <= 600);

    let by_reference = [
        ("client_id", "demo-tpp"),
        ("request_uri", request_uri.as_str()),
    ];
    let mut browser = PsuBrowser::new(&app);
    let (status, _, page) = browser.open(&by_reference).await;
    assert_eq!(status, 200, "{page}");
    let mut again = PsuBrowser::new(&app);
    let (status, _, _) = again.open(&by_reference).await;
    assert_eq!(status, 400, "a request_uri is single-use");

    let bad: Vec<(&str, &str)> = query
        .iter()
        .map(|&(k, v)| {
            if k == "code_challenge_method" {
                (k, "plain")
            } else {
                (k, v)
            }
        })
        .collect();
    let res = app.form(&app.tpp, "/oauth/par", &bad).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_request");
}

#[tokio::test]
async fn rotated_signing_keys_stay_published_until_their_tokens_expire() {
    let app = TestApp::spawn().await;
    let (consent_id, tokens) = app.alice_token().await;
    let before = json(app.get_public("/oauth/jwks").await).await["keys"]
        .as_array()
        .unwrap()
        .len();
    let out = app.obgw(&["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = json(app.get_public("/oauth/jwks").await).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), before + 1);
    // The token signed by the old key still works.
    assert_eq!(
        app.accounts_as(
            &app.tpp,
            tokens["access_token"].as_str().unwrap(),
            &consent_id
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn a_refresh_token_family_ends_180_days_after_the_psus_last_one_time_code() {
    let app = TestApp::spawn().await;
    app.alice_token().await; // alice passes SCA for the demo TPP today
    app.clock.advance(Duration::days(100));

    // A long consent authorized without a new one-time code.
    let ibans = app.ibans_of("alice").await;
    let token = app.client_token("accounts").await;
    let today = obgw::clock::Clock::now(app.clock.as_ref()).date();
    let body = serde_json::json!({
        "access": {"accounts": [{"iban": ibans[0]}]},
        "recurringIndicator": true,
        "validUntil": (today + Duration::days(170)).to_string(),
        "frequencyPerDay": 4
    });
    let consent_id = json(app.post_consent(&token, &body).await).await["consentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, verifier) = app.alice_authorizes(&consent_id).await;
    let tokens = json(app.exchange(&code, &verifier).await).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    app.clock.advance(Duration::days(79));
    let res = app.refresh(&refresh).await;
    assert_eq!(
        res.status(),
        200,
        "day 179 after the code: still inside the family"
    );
    let refresh = json(res).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    app.clock.advance(Duration::days(2));
    let res = app.refresh(&refresh).await;
    assert_eq!(res.status(), 400, "day 181: the PSU must pass SCA again");
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn rebinding_a_renewed_certificate_keeps_the_clients_consents() {
    let app = TestApp::spawn().await;
    let (client_id, old) = app.register_tpp("Renewing TPP");
    let token = json(
        app.token_with(
            &old,
            &[("grant_type", "client_credentials"), ("scope", "accounts")],
        )
        .await,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ibans = app.ibans_of("alice").await;
    let body = serde_json::json!({
        "access": {"accounts": [{"iban": ibans[0]}]},
        "recurringIndicator": false,
        "validUntil": (now().date() + Duration::days(5)).to_string(),
        "frequencyPerDay": 1
    });
    let res = app.post_consent_as(&old, &token, &body, "renewal-1").await;
    let consent_id = json(res).await["consentId"].as_str().unwrap().to_owned();

    let renewed = new_tpp_cert("Renewing TPP");
    let pem = std::env::temp_dir().join(format!("renewed-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&pem, &renewed.cert_pem).unwrap();
    assert!(
        app.obgw(&[
            "clients",
            "update",
            &client_id,
            "--cert",
            pem.to_str().unwrap()
        ])
        .status
        .success()
    );

    let new = client_with_identity(Some(&renewed));
    let token = json(
        app.token_with(
            &new,
            &[("grant_type", "client_credentials"), ("scope", "accounts")],
        )
        .await,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = new
        .get(format!("{}/v1/consents/{consent_id}", app.mtls_url))
        .bearer_auth(&token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The old certificate no longer authenticates the client.
    let res = app
        .token_with(&old, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(res.status(), 401);
}
